// Conversions, flag instructions and the stack: CBW/CWDE/CWD/CDQ,
// LAHF/SAHF, CMC CLC STC CLD STD, PUSH/POP, PUSHF/POPF (SDM Vol. 2A/2B).
// The stack pointer differs between the native and the guest runner, so
// it never reaches a register or memory; pushes and pops only have to
// balance by the end of the case (close_stack).
#include "families.h"

namespace tv::difftest {

namespace {

constexpr int kMaxStackDepth = 16;

// A pushed EFLAGS image carries IF, bit 1 and system flags that differ
// between user mode and a ring-0 guest: keep only the case's flags that
// are still defined. AND r, imm (81 /4).
void mask_flags_image(Builder& b, int reg, int bits) {
  Code& c = b.code();
  c.opsize(bits);
  c.byte(0x81);
  c.modrm(4, Rm::of_reg(reg));
  c.imm(b.defined_flags() & DIFF_CASE_FLAGS, bits / 8);
  b.apply(kLogicFlags);
  b.count();
}

// POP r16/r32 (58+r), or POP r/m (8F /0).
void pop_one(Builder& b, int bits, bool memory) {
  Code& c = b.code();
  c.opsize(bits);
  if (memory) {
    c.byte(0x8F);
    c.modrm(0, Rm::of_mem(b.pick_mem(bits)));
  } else {
    c.byte(static_cast<uint8_t>(0x58 + b.pick_reg(bits, Access::kWrite)));
  }
  b.stack(-bits / 8);
  b.count();
}

}  // namespace

bool emit_convert(Builder& b) {
  const bool widen_into_edx = b.rng().percent(50);  // CWD/CDQ, else CBW/CWDE
  if (!b.writable(widen_into_edx ? DIFF_EDX : DIFF_EAX) || !b.readable(DIFF_EAX)) return false;
  Code& c = b.code();
  c.opsize(b.pick_bits_16_32());
  c.byte(widen_into_edx ? 0x99 : 0x98);
  b.count();
  return true;
}

bool emit_lahf_sahf(Builder& b) {
  constexpr uint32_t kAhFlags = DIFF_SF | DIFF_ZF | DIFF_AF | DIFF_PF | DIFF_CF;
  if (b.rng().percent(50)) {  // LAHF reads the five flags into AH
    if (!b.writable(DIFF_EAX) || !b.flags_ready(kAhFlags)) return false;
    b.code().byte(0x9F);
  } else {  // SAHF loads them from AH
    if (!b.readable(DIFF_EAX)) return false;
    b.code().byte(0x9E);
    b.apply({0, kAhFlags, 0});
  }
  b.count();
  return true;
}

bool emit_flag_op(Builder& b) {
  const uint8_t op = b.rng().pick<uint8_t>({0xF5, 0xF8, 0xF9, 0xFC, 0xFD});  // CMC CLC STC CLD STD
  if (op == 0xF5 && !b.flags_ready(DIFF_CF)) return false;
  b.code().byte(op);
  b.apply({0, op >= 0xFC ? DIFF_DF : DIFF_CF, 0});
  b.count();
  return true;
}

bool emit_push(Builder& b) {
  const int bits = b.rng().percent(25) ? 16 : 32;
  if (b.stack_depth() + bits / 8 > kMaxStackDepth) return false;
  Code& c = b.code();
  c.opsize(bits);
  switch (b.rng().below(3)) {
    case 0:  // 50+r
      c.byte(static_cast<uint8_t>(0x50 + b.pick_reg(bits, Access::kRead)));
      break;
    case 1:  // FF /6 r/m
      c.byte(0xFF);
      c.modrm(6, Rm::of_mem(b.pick_mem(bits)));
      break;
    default:  // 6A imm8 (sign-extended) or 68 imm16/32
      if (b.rng().percent(50)) {
        c.byte(0x6A);
        c.imm(static_cast<uint32_t>(b.rng().range(-128, 127)), 1);
      } else {
        c.byte(0x68);
        c.imm(b.pick_imm(bits), bits / 8);
      }
  }
  b.stack(bits / 8);
  b.count();
  return true;
}

bool emit_pop(Builder& b) {
  const int bits = b.stack_depth() >= 4 && b.rng().percent(75) ? 32 : 16;
  if (b.stack_depth() < bits / 8) return false;
  pop_one(b, bits, b.rng().percent(30));
  return true;
}

void close_stack(Builder& b) {
  while (b.stack_depth() >= 4) pop_one(b, 32, false);
  while (b.stack_depth() >= 2) pop_one(b, 16, false);
}

// Template: PUSHF; POP r; AND r, defined flags.
bool emit_pushf(Builder& b) {
  if (!b.room(3)) return false;
  const int bits = b.rng().percent(25) ? 16 : 32;
  const int reg = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(0x9C);
  c.opsize(bits);
  c.byte(static_cast<uint8_t>(0x58 + reg));
  b.count(2);
  mask_flags_image(b, reg, bits);
  return true;
}

// Template: PUSH imm; POPF, or AND r, flags; PUSH r; POPF. Only the case's
// flags are ever set: POPF would also load TF, AC or (in ring 0) IOPL.
bool emit_popf(Builder& b) {
  const int bits = b.rng().percent(25) ? 16 : 32;
  const bool from_reg = b.rng().percent(40);
  if (!b.room(from_reg ? 3 : 2)) return false;
  Code& c = b.code();
  if (from_reg) {
    const int reg = b.pick_reg(bits, Access::kWrite);
    c.opsize(bits);
    c.byte(0x81);
    c.modrm(4, Rm::of_reg(reg));
    c.imm(DIFF_CASE_FLAGS, bits / 8);
    c.opsize(bits);
    c.byte(static_cast<uint8_t>(0x50 + reg));
  } else {
    c.opsize(bits);
    c.byte(0x68);
    c.imm((b.rng().u32() & DIFF_CASE_FLAGS) | 0x2, bits / 8);
  }
  c.opsize(bits);
  c.byte(0x9D);
  b.apply({0, DIFF_CASE_FLAGS, 0});
  b.count(from_reg ? 3 : 2);
  return true;
}

}  // namespace tv::difftest
