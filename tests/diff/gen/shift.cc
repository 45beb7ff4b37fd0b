// Shift and rotate families (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR,
// SHLD, SHRD). The count is always known when the case is generated: an
// immediate, 1, or CL set by a MOV just before. That is what lets the
// generator say which flags the SDM defines afterwards, since it depends on
// the count masked to 5 bits:
//   0: no flag changes;  1: OF defined;  >1: OF undefined;
//   shifts leave AF undefined; SHL/SHR leave CF undefined when the count is
//   not below the operand size; SHLD/SHRD results are undefined for counts
//   above the operand size, which the generator never emits.
#include "families.h"

namespace tv::difftest {

namespace {

enum ShiftOp { kRol, kRor, kRcl, kRcr, kShl, kShr, kSar = 7 };

// Counts around the operand sizes and the 5-bit mask, or any byte.
uint32_t pick_count(Builder& b) {
  if (b.rng().percent(30)) return b.rng().below(256);
  return b.rng().pick<uint32_t>({0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 64, 255});
}

FlagEffect shift_effect(int op, int bits, uint32_t count) {
  const uint32_t masked = count & 31;
  if (masked == 0) return {};
  FlagEffect fx;
  const uint32_t of = masked == 1 ? DIFF_OF : 0;
  fx.defines = DIFF_CF | of;
  fx.undefines = DIFF_OF & ~of;
  if (op == kRcl || op == kRcr) fx.reads = DIFF_CF;
  if (op >= kShl) {
    fx.defines |= DIFF_SF | DIFF_ZF | DIFF_PF;
    fx.undefines |= DIFF_AF;
    if (op != kSar && masked >= static_cast<uint32_t>(bits)) {
      fx.defines &= ~DIFF_CF;
      fx.undefines |= DIFF_CF;
    }
  }
  return fx;
}

// MOV CL, count: the template's first instruction (B1 ib).
void set_cl(Builder& b, uint32_t count) {
  b.code().bytes({0xB1, static_cast<uint8_t>(count)});
  b.count();
}

}  // namespace

bool emit_shift(Builder& b) {
  const int op = b.rng().pick<int>({kRol, kRor, kRcl, kRcr, kShl, kShr, kSar});
  const int bits = b.pick_bits();
  const uint32_t form = b.rng().below(3);  // 0: by 1, 1: by imm8, 2: by CL
  if (form == 2 && !(b.room(2) && b.writable(DIFF_ECX))) return false;
  const uint32_t count = form == 0 ? 1 : pick_count(b);
  const FlagEffect fx = shift_effect(op, bits, count);
  if (!b.flags_ready(fx.reads)) return false;
  if (form == 2) set_cl(b, count);
  const Rm dest = b.pick_rm(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(sized(form == 0 ? 0xD0 : form == 1 ? 0xC0 : 0xD2, bits));
  c.modrm(op, dest);
  if (form == 1) c.imm(count, 1);
  b.apply(fx);
  b.count();
  return true;
}

bool emit_double_shift(Builder& b) {
  const bool left = b.rng().percent(50);
  const int bits = b.pick_bits_16_32();
  const bool by_cl = b.rng().percent(40);
  if (by_cl && !(b.room(2) && b.writable(DIFF_ECX))) return false;
  // A 16-bit count above 16 leaves the result undefined (SDM Vol. 2B SHLD).
  uint32_t count = pick_count(b);
  if (bits == 16 && (count & 31) > 16) count &= 15;
  if (by_cl) set_cl(b, count);
  const Rm dest = b.pick_rm(bits, Access::kWrite);
  const int src = b.pick_reg(bits, Access::kRead);
  Code& c = b.code();
  c.opsize(bits);
  c.bytes({0x0F, static_cast<uint8_t>((left ? 0xA4 : 0xAC) + (by_cl ? 1 : 0))});
  c.modrm(src, dest);
  if (!by_cl) c.imm(count, 1);
  b.apply(shift_effect(kShl, 32, count));  // CF is defined for every count used
  b.count();
  return true;
}

}  // namespace tv::difftest
