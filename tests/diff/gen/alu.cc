// ALU families: the eight classic two-operand ops, TEST, INC/DEC, NEG/NOT,
// MOV and LEA (SDM Vol. 2 ADD, ADC, ..., LEA; opcode map Vol. 2D A.3).
#include "families.h"

namespace tv::difftest {

namespace {

enum AluOp { kAdd, kOr, kAdc, kSbb, kAnd, kSub, kXor, kCmp };

FlagEffect alu_effect(int op) {
  if (op == kOr || op == kAnd || op == kXor) return kLogicFlags;
  FlagEffect fx = kArithFlags;
  if (op == kAdc || op == kSbb) fx.reads = DIFF_CF;
  return fx;
}

// r/m, imm: 80 (imm8), 81 (full immediate) or 83 (sign-extended imm8).
void alu_rm_imm(Builder& b, int ext, const Rm& dest, int bits) {
  Code& c = b.code();
  c.opsize(bits);
  if (bits == 8) {
    // 82 is an alias of 80 outside 64-bit mode (SDM Vol. 2D Table A-6).
    c.byte(b.rng().percent(5) ? 0x82 : 0x80);
    c.modrm(ext, dest);
    c.imm(b.pick_imm(8), 1);
  } else if (b.rng().percent(50)) {
    c.byte(0x83);
    c.modrm(ext, dest);
    c.imm(static_cast<uint32_t>(b.rng().range(-128, 127)), 1);
  } else {
    c.byte(0x81);
    c.modrm(ext, dest);
    c.imm(b.pick_imm(bits), bits / 8);
  }
}

}  // namespace

bool emit_alu(Builder& b) {
  const int op = static_cast<int>(b.rng().below(8));
  const FlagEffect fx = alu_effect(op);
  if (!b.flags_ready(fx.reads)) return false;
  const bool writes = op != kCmp;
  const Access dest_access = writes ? Access::kWrite : Access::kRead;
  const int bits = b.pick_bits();
  Code& c = b.code();
  const uint8_t base_op = static_cast<uint8_t>(op * 8);
  switch (b.rng().below(4)) {
    case 0: {  // r/m, r
      const Rm dest = b.pick_rm(bits, dest_access);
      const int src = b.pick_reg(bits, Access::kRead);
      if (writes) b.maybe_lock(dest);
      c.opsize(bits);
      c.byte(sized(base_op, bits));
      c.modrm(src, dest);
      break;
    }
    case 1: {  // r, r/m
      const int dest = b.pick_reg(bits, dest_access);
      c.opsize(bits);
      c.byte(sized(base_op + 2, bits));
      c.modrm(dest, b.pick_rm(bits, Access::kRead));
      break;
    }
    case 2: {  // r/m, imm
      const Rm dest = b.pick_rm(bits, dest_access);
      if (writes) b.maybe_lock(dest);
      alu_rm_imm(b, op, dest, bits);
      break;
    }
    default:  // AL/AX/EAX, imm
      if (writes ? !b.writable(DIFF_EAX) : !b.readable(DIFF_EAX)) return false;
      c.opsize(bits);
      c.byte(sized(base_op + 4, bits));
      c.imm(b.pick_imm(bits), bits / 8);
  }
  b.apply(fx);
  b.count();
  return true;
}

bool emit_test(Builder& b) {
  const int bits = b.pick_bits();
  Code& c = b.code();
  const uint32_t form = b.rng().below(3);
  if (form == 2 && !b.readable(DIFF_EAX)) return false;
  c.opsize(bits);
  if (form == 0) {  // 84/85 r/m, r
    const Rm dest = b.pick_rm(bits, Access::kRead);
    c.byte(sized(0x84, bits));
    c.modrm(b.pick_reg(bits, Access::kRead), dest);
  } else if (form == 1) {  // F6/F7 /0 r/m, imm
    c.byte(sized(0xF6, bits));
    c.modrm(0, b.pick_rm(bits, Access::kRead));
    c.imm(b.pick_imm(bits), bits / 8);
  } else {  // A8/A9 AL/AX/EAX, imm
    c.byte(sized(0xA8, bits));
    c.imm(b.pick_imm(bits), bits / 8);
  }
  b.apply(kLogicFlags);
  b.count();
  return true;
}

bool emit_inc_dec(Builder& b) {
  const int bits = b.pick_bits();
  const int ext = static_cast<int>(b.rng().below(2));  // 0 INC, 1 DEC
  Code& c = b.code();
  if (bits != 8 && b.rng().percent(40)) {  // 40+r / 48+r
    c.opsize(bits);
    c.byte(static_cast<uint8_t>(0x40 + 8 * ext + b.pick_reg(bits, Access::kWrite)));
  } else {  // FE/FF /0 /1
    const Rm dest = b.pick_rm(bits, Access::kWrite);
    b.maybe_lock(dest);
    c.opsize(bits);
    c.byte(sized(0xFE, bits));
    c.modrm(ext, dest);
  }
  // CF is not affected (SDM Vol. 2A INC, DEC).
  b.apply({0, DIFF_STATUS_FLAGS & ~DIFF_CF, 0});
  b.count();
  return true;
}

bool emit_neg_not(Builder& b) {
  const int bits = b.pick_bits();
  const bool neg = b.rng().percent(50);
  const Rm dest = b.pick_rm(bits, Access::kWrite);
  b.maybe_lock(dest);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(sized(0xF6, bits));
  c.modrm(neg ? 3 : 2, dest);
  if (neg) b.apply(kArithFlags);  // NOT affects no flags
  b.count();
  return true;
}

bool emit_mov(Builder& b) {
  const int bits = b.pick_bits();
  Code& c = b.code();
  c.opsize(bits);
  switch (b.rng().below(4)) {
    case 0: {  // 88/89 r/m, r
      const Rm dest = b.pick_rm(bits, Access::kWrite);
      c.byte(sized(0x88, bits));
      c.modrm(b.pick_reg(bits, Access::kRead), dest);
      break;
    }
    case 1: {  // 8A/8B r, r/m
      const int dest = b.pick_reg(bits, Access::kWrite);
      c.byte(sized(0x8A, bits));
      c.modrm(dest, b.pick_rm(bits, Access::kRead));
      break;
    }
    case 2:  // B0+r / B8+r r, imm
      c.byte(static_cast<uint8_t>((bits == 8 ? 0xB0 : 0xB8) + b.pick_reg(bits, Access::kWrite)));
      c.imm(b.pick_imm(bits), bits / 8);
      break;
    default:  // C6/C7 /0 r/m, imm
      c.byte(sized(0xC6, bits));
      c.modrm(0, b.pick_rm(bits, Access::kWrite));
      c.imm(b.pick_imm(bits), bits / 8);
  }
  b.count();
  return true;
}

// LEA computes an address without touching memory, so it takes every
// addressing form, absolute disp32 included, over registers whose values
// the case may read (SDM Vol. 2A LEA).
bool emit_lea(Builder& b) {
  const int bits = b.pick_bits_16_32();
  const int dest = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(0x8D);
  c.modrm(dest, Rm::of_mem(b.pick_lea_mem()));
  b.count();
  return true;
}

}  // namespace tv::difftest
