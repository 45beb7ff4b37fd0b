// A callout: a guest instruction that translated code hands to C++.
// Translated code does `mov r14, site; call [r15 + callout_thunk]`; the
// thunk saves the guest state into CpuState and calls the site's handler.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

#include "bt/cpu_state.h"

namespace tv::bt {

class BtRuntime;

// What a handler tells the thunk.
enum class CalloutResult : int {
  kContinue = 0,  // resume the block after the instruction
  kExit = 1,      // leave translated code; cpu.eip says where to go on
  // (to the thunk only) go straight on to the block at cpu.continue_at
};

struct CalloutSite;
using CalloutFn = CalloutResult (*)(BtRuntime&, CpuState&, const CalloutSite&);

struct CalloutSite {
  CalloutFn fn = nullptr;
  BtRuntime* runtime = nullptr;
  uint32_t eip = 0;       // of the instruction
  uint32_t next_eip = 0;  // of the one after it
  const char* name = "";  // for the profile
  uint64_t* count = nullptr;  // this instruction's callout counter in Stats
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

}  // namespace tv::bt

// Called by the assembly thunk; returns CalloutResult as int.
extern "C" int tv_bt_callout_entry(tv::bt::CpuState* cpu, const tv::bt::CalloutSite* site);
