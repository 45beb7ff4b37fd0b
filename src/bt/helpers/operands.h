// Operand access for callout handlers: effective and linear addresses of
// decoded operands, and reads/writes of registers and memory operands.
// Memory goes through LinearMemory (the physmap), never the shadow window.
#pragma once

#include <Zydis/Zydis.h>

#include "bt/helpers/callout_context.h"
#include "bt/x86/callout.h"
#include "bt/x86/cpu_state.h"
#include "bt/x86/legacy_ops.h"
#include "bt/x86/linear_memory.h"
#include "bt/x86/registers.h"
#include "bt/x86/segments.h"

namespace tv::bt {

// Operand access for handlers. Memory goes through LinearMemory (physmap).
uint32_t effective_address(const CpuState& cpu, const ZydisDecodedInstruction& insn,
                           const ZydisDecodedOperand& op);
uint32_t linear_address(const CpuState& cpu, const ZydisDecodedInstruction& insn,
                        const ZydisDecodedOperand& op);
uint32_t read_operand(const CpuState& cpu, LinearMemory& mem, const ZydisDecodedInstruction& insn,
                      const ZydisDecodedOperand& op);
void write_operand(CpuState& cpu, LinearMemory& mem, const ZydisDecodedInstruction& insn,
                   const ZydisDecodedOperand& op, uint32_t value);
uint32_t read_gpr(const CpuState& cpu, ZydisRegister reg);
void write_gpr(CpuState& cpu, ZydisRegister reg, uint32_t value);

// The operand size of a decoded instruction, for the stack helpers.
inline OperandSize osize(const CalloutSite& site) {
  return site.insn.operand_width == 16 ? OperandSize::k16 : OperandSize::k32;
}

// Segment loads for handlers: MOV/POP SS also open the interrupt shadow.
inline LoadSegment segment_loader(CalloutContext& ctx, CpuState& cpu) {
  return [&ctx, &cpu](SegReg s, uint16_t sel) {
    load_segment(cpu, ctx.memory(), s, sel);
    if (s == kSs) cpu.sti_shadow = 1;
  };
}

}  // namespace tv::bt
