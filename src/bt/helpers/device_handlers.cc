// The callout for a guest MOV that touched device memory before (VMware's
// adaptive binary translation): instead of a host fault, a decode of the
// host instruction and an emulation per access (~4-5 us), the block is
// translated again with this instruction handed to C++, which reaches the
// MMIO bus directly (a local APIC EOI or TPR write is one callout). If the
// same instruction later touches RAM, the access goes to RAM: what the
// translation remembered is only a hint.
#include "bt/helpers/callout_context.h"
#include "bt/helpers/handlers.h"
#include "bt/helpers/operands.h"

namespace tv::bt {
namespace {

uint64_t load(CalloutContext& ctx, uint32_t linear, unsigned size) {
  LinearMemory& mem = ctx.memory();
  GuestPhys phys = mem.translate(linear, Access::kRead);
  if ((linear & 0xFFF) + size > 0x1000 || mem.ram().contains(phys, size)) {
    switch (size) {
      case 1: return mem.read<uint8_t>(linear);
      case 2: return mem.read<uint16_t>(linear);
      default: return mem.read<uint32_t>(linear);
    }
  }
  return ctx.mmio().read(phys.value, size);
}

void store(CalloutContext& ctx, uint32_t linear, unsigned size, uint32_t value) {
  LinearMemory& mem = ctx.memory();
  GuestPhys phys = mem.translate(linear, Access::kWrite);
  if ((linear & 0xFFF) + size > 0x1000 || mem.ram().contains(phys, size)) {
    switch (size) {
      case 1: mem.write<uint8_t>(linear, uint8_t(value)); return;
      case 2: mem.write<uint16_t>(linear, uint16_t(value)); return;
      default: mem.write<uint32_t>(linear, value); return;
    }
  }
  ctx.mmio().write(phys.value, size, value);
}

}  // namespace

// MOV r, m / MOV m, r / MOV m, imm (SDM Vol. 2B MOV), flat segments only
// (the translator picks this callout only then).
CalloutResult handle_device_move(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  const ZydisDecodedOperand& dst = site.ops[0];
  const ZydisDecodedOperand& src = site.ops[1];
  if (dst.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    uint32_t value = src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? uint32_t(src.imm.value.u)
                                                              : read_gpr(cpu, src.reg.value);
    store(ctx, linear_address(cpu, site.insn, dst), dst.size / 8, value);
  } else {
    write_gpr(cpu, dst.reg.value,
              uint32_t(load(ctx, linear_address(cpu, site.insn, src), src.size / 8)));
  }
  return CalloutResult::kContinue;
}

// True for the MOV forms handle_device_move takes.
bool is_device_move(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  if (insn.mnemonic != ZYDIS_MNEMONIC_MOV || insn.operand_count_visible != 2) return false;
  const auto& a = ops[0];
  const auto& b = ops[1];
  auto gpr = [](const ZydisDecodedOperand& o) {
    return o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
           ZydisRegisterGetClass(o.reg.value) != ZYDIS_REGCLASS_SEGMENT &&
           ZydisRegisterGetClass(o.reg.value) != ZYDIS_REGCLASS_CONTROL &&
           ZydisRegisterGetClass(o.reg.value) != ZYDIS_REGCLASS_DEBUG;
  };
  bool store =
      a.type == ZYDIS_OPERAND_TYPE_MEMORY && (gpr(b) || b.type == ZYDIS_OPERAND_TYPE_IMMEDIATE);
  bool load = gpr(a) && b.type == ZYDIS_OPERAND_TYPE_MEMORY;
  const auto& mem = store ? a : b;
  return (store || load) && mem.size <= 32 && insn.address_width == 32;
}

}  // namespace tv::bt
