// The table of guest instructions that translated code hands to C++: which
// handler (bt/helpers) takes each, and whether it ends the block.
#pragma once

#include <Zydis/Zydis.h>

#include "bt/x86/callout.h"

namespace tv::bt {

struct CalloutInfo {
  CalloutFn fn;
  CalloutKind kind;  // counter and name (bt/stats/stats.h)
  bool ends_block;   // the instruction changes control flow or the translation mode
};

// The callout for an instruction, or nullptr if the translator handles it.
const CalloutInfo* find_callout(const ZydisDecodedInstruction& insn,
                                const ZydisDecodedOperand* ops);
// Raises #UD at the instruction (undecodable or unsupported).
const CalloutInfo& raise_ud_callout();
// Raises #NM at the instruction (x87/SSE with CR0.TS or CR0.EM set).
const CalloutInfo& raise_nm_callout();
// A MOV that touched device memory before (bt/helpers/device_handlers.cc).
const CalloutInfo& device_move_callout();
// CLI/STI at CPL > 0 (IOPL check).
const CalloutInfo& cli_sti_callout();
// Raises #GP(0) at the instruction (longer than 15 bytes).
const CalloutInfo& raise_gp_callout();
// Raises #SS(0) at the instruction (a stack-segment limit violation).
const CalloutInfo& raise_ss_callout();
// Stack instructions the translator does not inline (popf, pushf16, enter n>0).
const CalloutInfo& stack_callout(const ZydisDecodedInstruction& insn);

}  // namespace tv::bt
