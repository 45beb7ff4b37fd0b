// Multiply and divide families (SDM Vol. 2A MUL, IMUL, DIV, IDIV). MUL and
// IMUL define CF and OF only. DIV and IDIV leave every status flag
// undefined and raise #DE on a zero divisor or a quotient that does not
// fit; this harness runs no faults, so a division is a template that first
// loads a divisor and a dividend chosen so that the quotient fits.
#include "families.h"

namespace tv::difftest {

namespace {

constexpr FlagEffect kDivFlags{0, 0, DIFF_STATUS_FLAGS};

uint32_t mask_of(int bits) { return bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1; }

int64_t sign_extend(uint32_t value, int bits) {
  const int shift = 64 - bits;
  return static_cast<int64_t>(static_cast<uint64_t>(value) << shift) >> shift;
}

// MOV reg, imm (B0+r / B8+r), sized.
void mov_reg_imm(Builder& b, int reg, uint32_t value, int bits) {
  Code& c = b.code();
  c.opsize(bits);
  c.byte(static_cast<uint8_t>((bits == 8 ? 0xB0 : 0xB8) + reg));
  c.imm(value, bits / 8);
  b.count();
}

// MOV r/m, imm (C6/C7 /0), sized.
void mov_rm_imm(Builder& b, const Rm& rm, uint32_t value, int bits) {
  if (!rm.is_mem) return mov_reg_imm(b, rm.reg, value, bits);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(sized(0xC6, bits));
  c.modrm(0, rm);
  c.imm(value, bits / 8);
  b.count();
}

struct Dividend {
  uint32_t divisor;
  uint64_t dividend;  // the low 2*bits bits matter
};

// Unsigned: any dividend whose high half is below the divisor.
Dividend unsigned_division(Builder& b, int bits) {
  const uint32_t mask = mask_of(bits);
  uint32_t d = b.pick_imm(bits) & mask;
  if (d == 0) d = 1 + b.rng().below(mask);
  const uint64_t high = (uint64_t{b.rng().u32()} % d) & mask;
  const uint64_t low = b.pick_imm(bits) & mask;
  return {d, (high << bits) | low};
}

// Signed: dividend = q * d + r with |q| < 2^(bits-1) and |r| < |d|, r taking
// the dividend's sign, as IDIV truncates toward zero.
Dividend signed_division(Builder& b, int bits) {
  int64_t d = sign_extend(b.pick_imm(bits), bits);
  if (d == 0) d = b.rng().percent(50) ? 1 : -1;
  const int64_t q_max = (int64_t{1} << (bits - 1)) - 1;
  int64_t q = sign_extend(b.pick_imm(bits), bits);
  if (q > q_max || q < -q_max) q = b.rng().range(-100, 100);
  const int64_t magnitude = d < 0 ? -d : d;
  const int64_t r = static_cast<int64_t>(b.rng().next() % static_cast<uint64_t>(magnitude));
  const int64_t product = q * d;
  const int64_t dividend = product < 0 ? product - r : product + r;
  return {static_cast<uint32_t>(d) & mask_of(bits), static_cast<uint64_t>(dividend)};
}

}  // namespace

bool emit_mul(Builder& b) {
  const int bits = b.pick_bits();
  if (!b.writable(DIFF_EAX) || (bits != 8 && !b.writable(DIFF_EDX))) return false;
  const bool is_signed = b.rng().percent(50);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(sized(0xF6, bits));
  c.modrm(is_signed ? 5 : 4, b.pick_rm(bits, Access::kRead));
  b.apply(kMulFlags);
  b.count();
  return true;
}

bool emit_imul(Builder& b) {
  const int bits = b.pick_bits_16_32();
  const int dest = b.pick_reg(bits, Access::kWrite);
  const Rm src = b.pick_rm(bits, Access::kRead);
  Code& c = b.code();
  c.opsize(bits);
  switch (b.rng().below(3)) {
    case 0:  // 0F AF r, r/m
      c.bytes({0x0F, 0xAF});
      c.modrm(dest, src);
      break;
    case 1:  // 6B r, r/m, imm8
      c.byte(0x6B);
      c.modrm(dest, src);
      c.imm(static_cast<uint32_t>(b.rng().range(-128, 127)), 1);
      break;
    default:  // 69 r, r/m, imm16/32
      c.byte(0x69);
      c.modrm(dest, src);
      c.imm(b.pick_imm(bits), bits / 8);
  }
  b.apply(kMulFlags);
  b.count();
  return true;
}

// Template: MOV divisor; MOV [E]DX or AX (and EAX); DIV/IDIV divisor.
bool emit_div(Builder& b) {
  const int bits = b.pick_bits();
  const bool is_signed = b.rng().percent(50);
  if (!b.writable(DIFF_EAX) || (bits != 8 && !b.writable(DIFF_EDX))) return false;
  // Unsigned: any low half will do, so keep the case's EAX half the time.
  const bool set_eax = bits != 8 && (is_signed || b.rng().percent(50));
  if (!b.room(set_eax ? 4 : 3)) return false;
  // The divisor must not share a register with the dividend or the result.
  const uint32_t avoid = (1u << DIFF_EAX) | (bits == 8 ? 0 : 1u << DIFF_EDX);
  const Rm divisor = b.rng().percent(40)
                         ? Rm::of_mem(b.pick_mem(bits))
                         : Rm::of_reg(b.pick_reg_except(bits, Access::kWrite, avoid));
  const Dividend v = is_signed ? signed_division(b, bits) : unsigned_division(b, bits);
  const uint32_t mask = mask_of(bits);
  mov_rm_imm(b, divisor, v.divisor, bits);
  if (bits == 8) {
    mov_reg_imm(b, DIFF_EAX, static_cast<uint32_t>(v.dividend) & 0xFFFF, 16);
  } else {
    mov_reg_imm(b, DIFF_EDX, static_cast<uint32_t>(v.dividend >> bits) & mask, bits);
    if (set_eax) mov_reg_imm(b, DIFF_EAX, static_cast<uint32_t>(v.dividend) & mask, bits);
  }
  Code& c = b.code();
  c.opsize(bits);
  c.byte(sized(0xF6, bits));
  c.modrm(is_signed ? 7 : 6, divisor);
  b.apply(kDivFlags);
  b.count();
  return true;
}

}  // namespace tv::difftest
