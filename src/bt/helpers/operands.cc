// Operand access for callout handlers: guest registers from CpuState,
// guest memory through LinearMemory with the operand's segment base.
#include "bt/helpers/operands.h"

namespace tv::bt {
namespace {

struct GprSlot {
  unsigned index;
  unsigned shift;
  uint32_t mask;
};

GprSlot gpr_slot(ZydisRegister reg) {
  if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_EDI)
    return {unsigned(reg - ZYDIS_REGISTER_EAX), 0, 0xFFFFFFFFu};
  if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_DI)
    return {unsigned(reg - ZYDIS_REGISTER_AX), 0, 0xFFFFu};
  if (reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_BL)
    return {unsigned(reg - ZYDIS_REGISTER_AL), 0, 0xFFu};
  if (reg >= ZYDIS_REGISTER_AH && reg <= ZYDIS_REGISTER_BH)
    return {unsigned(reg - ZYDIS_REGISTER_AH), 8, 0xFFu};
  return {0, 0, 0};
}

}  // namespace

uint32_t read_gpr(const CpuState& cpu, ZydisRegister reg) {
  GprSlot s = gpr_slot(reg);
  return (cpu.gpr[s.index] >> s.shift) & s.mask;
}

void write_gpr(CpuState& cpu, ZydisRegister reg, uint32_t value) {
  GprSlot s = gpr_slot(reg);
  if (!s.mask) return;
  uint32_t& r = cpu.gpr[s.index];
  r = (r & ~(s.mask << s.shift)) | ((value & s.mask) << s.shift);
}

uint32_t effective_address(const CpuState& cpu, const ZydisDecodedInstruction& insn,
                           const ZydisDecodedOperand& op) {
  uint32_t ea = op.mem.disp.has_displacement ? uint32_t(op.mem.disp.value) : 0;
  if (op.mem.base != ZYDIS_REGISTER_NONE) ea += read_gpr(cpu, op.mem.base);
  if (op.mem.index != ZYDIS_REGISTER_NONE) ea += read_gpr(cpu, op.mem.index) * op.mem.scale;
  return insn.address_width == 16 ? (ea & 0xFFFF) : ea;
}

uint32_t linear_address(const CpuState& cpu, const ZydisDecodedInstruction& insn,
                        const ZydisDecodedOperand& op) {
  return cpu.seg[seg_of(op.mem.segment)].base + effective_address(cpu, insn, op);
}

uint32_t read_operand(const CpuState& cpu, LinearMemory& mem, const ZydisDecodedInstruction& insn,
                      const ZydisDecodedOperand& op) {
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: return read_gpr(cpu, op.reg.value);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE: return uint32_t(op.imm.value.u);
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      uint32_t a = linear_address(cpu, insn, op);
      switch (op.size) {
        case 8: return mem.read<uint8_t>(a);
        case 16: return mem.read<uint16_t>(a);
        default: return mem.read<uint32_t>(a);
      }
    }
    default: return 0;
  }
}

void write_operand(CpuState& cpu, LinearMemory& mem, const ZydisDecodedInstruction& insn,
                   const ZydisDecodedOperand& op, uint32_t value) {
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    write_gpr(cpu, op.reg.value, value);
    return;
  }
  uint32_t a = linear_address(cpu, insn, op);
  switch (op.size) {
    case 8: mem.write<uint8_t>(a, uint8_t(value)); break;
    case 16: mem.write<uint16_t>(a, uint16_t(value)); break;
    default: mem.write<uint32_t>(a, value); break;
  }
}

}  // namespace tv::bt
