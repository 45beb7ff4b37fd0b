// Callout handlers, one per instruction family. Each runs with the guest
// state in CpuState and cpu.eip = the next instruction, and returns whether
// translated code may continue after the instruction.
#pragma once

#include "bt/x86/callout.h"

namespace tv::bt {

#define TV_HANDLER(name) \
  CalloutResult name(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site)
TV_HANDLER(handle_io);
TV_HANDLER(handle_string);
TV_HANDLER(handle_hlt);
TV_HANDLER(handle_cpuid);
TV_HANDLER(handle_rdmsr);
TV_HANDLER(handle_wrmsr);
TV_HANDLER(handle_mov_cr);
TV_HANDLER(handle_mov_dr);
TV_HANDLER(handle_descriptor_table);
TV_HANDLER(handle_mov_to_seg);
TV_HANDLER(handle_mov_from_seg);
TV_HANDLER(handle_push_seg);
TV_HANDLER(handle_pop_seg);
TV_HANDLER(handle_far_pointer);
TV_HANDLER(handle_far_jmp);
TV_HANDLER(handle_far_call);
TV_HANDLER(handle_far_ret);
TV_HANDLER(handle_iret);
TV_HANDLER(handle_int);
TV_HANDLER(handle_access_check);
TV_HANDLER(handle_legacy);
TV_HANDLER(handle_ud);
TV_HANDLER(handle_nm);
TV_HANDLER(handle_gp);
TV_HANDLER(handle_ss);
TV_HANDLER(handle_popf);
TV_HANDLER(handle_pushf16);
TV_HANDLER(handle_enter);
TV_HANDLER(handle_pop_mem);
TV_HANDLER(handle_invlpg);
TV_HANDLER(handle_clts);
TV_HANDLER(handle_sysenter);
TV_HANDLER(handle_cli_sti);
TV_HANDLER(handle_loop16);
TV_HANDLER(handle_lea16);
TV_HANDLER(handle_device_move);
#undef TV_HANDLER

// True for the MOV forms handle_device_move emulates (register or
// immediate to memory, memory to register; 8, 16 or 32 bits).
bool is_device_move(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops);

}  // namespace tv::bt
