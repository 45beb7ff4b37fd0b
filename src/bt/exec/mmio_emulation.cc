#include "bt/exec/mmio_emulation.h"

#include "bt/exec/host_insn.h"

namespace tv::bt {
namespace {

// The signal-frame slot of a 64-bit host register, or -1.
int greg_of(ZydisRegister largest) {
  switch (largest) {
    case ZYDIS_REGISTER_RAX: return REG_RAX;
    case ZYDIS_REGISTER_RCX: return REG_RCX;
    case ZYDIS_REGISTER_RDX: return REG_RDX;
    case ZYDIS_REGISTER_RBX: return REG_RBX;
    case ZYDIS_REGISTER_RSP: return REG_RSP;
    case ZYDIS_REGISTER_RBP: return REG_RBP;
    case ZYDIS_REGISTER_RSI: return REG_RSI;
    case ZYDIS_REGISTER_RDI: return REG_RDI;
    case ZYDIS_REGISTER_R8: return REG_R8;
    case ZYDIS_REGISTER_R9: return REG_R9;
    case ZYDIS_REGISTER_R10: return REG_R10;
    case ZYDIS_REGISTER_R11: return REG_R11;
    case ZYDIS_REGISTER_R12: return REG_R12;
    case ZYDIS_REGISTER_R13: return REG_R13;
    case ZYDIS_REGISTER_R14: return REG_R14;
    case ZYDIS_REGISTER_R15: return REG_R15;
    default: return -1;
  }
}

bool is_high_byte(ZydisRegister r) {
  return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
         r == ZYDIS_REGISTER_BH;
}

bool read_reg(const ucontext_t* uc, ZydisRegister r, uint64_t& v) {
  int g = greg_of(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
  if (g < 0) return false;
  v = uint64_t(uc->uc_mcontext.gregs[g]);
  if (is_high_byte(r)) v >>= 8;
  return true;
}

// x86-64 rules: 32-bit writes zero-extend, 8/16-bit writes merge.
bool write_reg(ucontext_t* uc, ZydisRegister r, uint64_t v) {
  int g = greg_of(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
  if (g < 0) return false;
  auto& slot = uc->uc_mcontext.gregs[g];
  unsigned width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r);
  uint64_t old = uint64_t(slot);
  if (width == 64)
    slot = greg_t(v);
  else if (width == 32)
    slot = greg_t(v & 0xFFFFFFFFu);
  else if (is_high_byte(r))
    slot = greg_t((old & ~0xFF00ull) | ((v & 0xFF) << 8));
  else {
    uint64_t mask = width == 16 ? 0xFFFFull : 0xFFull;
    slot = greg_t((old & ~mask) | (v & mask));
  }
  return true;
}

uint64_t sign_extend(uint64_t v, unsigned bytes) {
  unsigned shift = 64 - bytes * 8;
  return uint64_t(int64_t(v << shift) >> shift);
}

}  // namespace

bool emulate_device_access(ucontext_t* uc, dev::Bus& bus, GuestPhys phys) {
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  HostInsn h;
  if (!decode_host_insn(pc, h)) return false;
  const ZydisDecodedInstruction& insn = h.insn;
  const ZydisDecodedOperand* ops = h.ops;
  const ZydisDecodedOperand& dst = ops[0];
  const ZydisDecodedOperand& src = ops[1];
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX: {
      if (dst.type == ZYDIS_OPERAND_TYPE_REGISTER && src.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        unsigned bytes = src.size / 8;
        uint64_t v = bus.read(phys.value, bytes);
        if (insn.mnemonic == ZYDIS_MNEMONIC_MOVSX) v = sign_extend(v, bytes);
        if (!write_reg(uc, dst.reg.value, v)) return false;
      } else if (dst.type == ZYDIS_OPERAND_TYPE_MEMORY && insn.mnemonic == ZYDIS_MNEMONIC_MOV) {
        uint64_t v = 0;
        if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
          v = src.imm.value.u;
        else if (!read_reg(uc, src.reg.value, v))
          return false;
        bus.write(phys.value, dst.size / 8, v);
      } else {
        return false;
      }
      break;
    }
    default: return false;
  }
  uc->uc_mcontext.gregs[REG_RIP] += insn.length;
  return true;
}

}  // namespace tv::bt
