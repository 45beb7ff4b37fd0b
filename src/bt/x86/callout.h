// A callout: a guest instruction that translated code hands to C++.
// Translated code does `mov r14, site; call [r15 + callout_thunk]`; the
// thunk saves the guest state into CpuState and calls the site's handler
// with the context of the vCPU that owns that CpuState (cpu.vcpu), so one
// translated block can serve several vCPUs.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

#include "bt/stats/stats.h"
#include "bt/x86/cpu_state.h"

namespace tv::bt {

class CalloutContext;  // bt/helpers/callout_context.h

// What a handler tells the thunk.
enum class CalloutResult : int {
  kContinue = 0,  // resume the block after the instruction
  kExit = 1,      // leave translated code; cpu.eip says where to go on
  // (to the thunk only) go straight on to the block at cpu.continue_at
};

struct CalloutSite;
using CalloutFn = CalloutResult (*)(CalloutContext&, CpuState&, const CalloutSite&);

struct CalloutSite {
  CalloutFn fn = nullptr;
  uint32_t eip = 0;       // of the instruction
  uint32_t next_eip = 0;  // of the one after it
  CalloutKind kind{};     // its counter and name (stats.h)
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

}  // namespace tv::bt

// Called by the assembly thunk; returns CalloutResult as int.
extern "C" int tv_bt_callout_entry(tv::bt::CpuState* cpu, const tv::bt::CalloutSite* site);
