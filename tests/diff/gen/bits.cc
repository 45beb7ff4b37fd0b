// Bit and data-movement families: BT/BTS/BTR/BTC, BSF/BSR, SETcc, CMOVcc,
// MOVZX/MOVSX, XCHG, CMPXCHG, XADD, BSWAP (SDM Vol. 2A/2B, one entry each).
#include "families.h"

namespace tv::difftest {

namespace {

// BT*: CF is the bit; ZF is unaffected; OF SF AF PF are undefined.
constexpr FlagEffect kBitTestFlags{0, DIFF_CF, DIFF_OF | DIFF_SF | DIFF_AF | DIFF_PF};

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// BT r/m, reg on memory addresses the bit string beyond the operand: the
// operand at ea + (bits/8) * floor(offset / bits) (SDM Vol. 2A BT,
// "Operation", and Vol. 1 3.4.2). A MOV puts an offset in a register that
// keeps that operand inside the buffer.
bool bit_test_memory(Builder& b, int ext, int bits) {
  if (!b.room(2)) return false;
  int ea = 0;
  const Mem mem = b.pick_mem(bits, &ea);
  const int bytes = bits / 8;
  const int lo = -floor_div(ea + DIFF_BASE_OFFSET, bytes);
  const int hi = floor_div(DIFF_BASE_OFFSET - bytes - ea, bytes);
  const int offset = b.rng().range(lo, hi) * bits + static_cast<int>(b.rng().below(bits));
  const int reg = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.byte(static_cast<uint8_t>(0xB8 + reg));
  c.imm(static_cast<uint32_t>(offset), bytes);
  b.count();
  if (ext != 4) b.maybe_lock(Rm::of_mem(mem));
  c.opsize(bits);
  c.bytes({0x0F, static_cast<uint8_t>(0x83 + 8 * ext)});  // A3 AB B3 BB
  c.modrm(reg, Rm::of_mem(mem));
  return true;
}

}  // namespace

bool emit_bit_test(Builder& b) {
  const int ext = b.rng().range(4, 7);  // BT BTS BTR BTC, as 0F BA /ext
  const Access access = ext == 4 ? Access::kRead : Access::kWrite;
  const int bits = b.pick_bits_16_32();
  Code& c = b.code();
  const uint32_t form = b.rng().below(3);
  if (form == 0) {  // 0F BA /ext r/m, imm8: the offset is taken modulo the size
    const Rm dest = b.pick_rm(bits, access);
    if (access == Access::kWrite) b.maybe_lock(dest);
    c.opsize(bits);
    c.bytes({0x0F, 0xBA});
    c.modrm(ext, dest);
    c.imm(b.rng().below(256), 1);
  } else if (form == 1) {  // register destination: offset modulo the size
    const int dest = b.pick_reg(bits, access);
    c.opsize(bits);
    c.bytes({0x0F, static_cast<uint8_t>(0x83 + 8 * ext)});
    c.modrm(b.pick_reg(bits, Access::kRead), Rm::of_reg(dest));
  } else if (!bit_test_memory(b, ext, bits)) {
    return false;
  }
  b.apply(kBitTestFlags);
  b.count();
  return true;
}

// BSF/BSR define ZF only. With a zero source the SDM leaves the destination
// undefined; Intel and AMD processors (and QEMU) leave it unchanged, and
// this harness expects that.
bool emit_bit_scan(Builder& b) {
  const int bits = b.pick_bits_16_32();
  const int dest = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.bytes({0x0F, static_cast<uint8_t>(b.rng().percent(50) ? 0xBC : 0xBD)});
  c.modrm(dest, b.pick_rm(bits, Access::kRead));
  b.apply({0, DIFF_ZF, DIFF_STATUS_FLAGS & ~DIFF_ZF});
  b.count();
  return true;
}

bool emit_setcc(Builder& b) {
  const int cc = static_cast<int>(b.rng().below(16));
  if (!b.flags_ready(condition_reads(cc))) return false;
  Code& c = b.code();
  c.bytes({0x0F, static_cast<uint8_t>(0x90 + cc)});
  c.modrm(0, b.pick_rm(8, Access::kWrite));
  b.count();
  return true;
}

bool emit_cmov(Builder& b) {
  const int cc = static_cast<int>(b.rng().below(16));
  if (!b.flags_ready(condition_reads(cc))) return false;
  const int bits = b.pick_bits_16_32();
  const int dest = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(bits);
  c.bytes({0x0F, static_cast<uint8_t>(0x40 + cc)});
  c.modrm(dest, b.pick_rm(bits, Access::kRead));
  b.count();
  return true;
}

// MOVZX/MOVSX: 0F B6/BE from r/m8 into r16 or r32, 0F B7/BF from r/m16.
bool emit_move_extend(Builder& b) {
  const bool from8 = b.rng().percent(60);
  const int dest_bits = from8 ? b.pick_bits_16_32() : 32;
  const bool sign = b.rng().percent(50);
  const int dest = b.pick_reg(dest_bits, Access::kWrite);
  Code& c = b.code();
  c.opsize(dest_bits);
  c.bytes({0x0F, static_cast<uint8_t>((sign ? 0xBE : 0xB6) + (from8 ? 0 : 1))});
  c.modrm(dest, b.pick_rm(from8 ? 8 : 16, Access::kRead));
  b.count();
  return true;
}

bool emit_xchg(Builder& b) {
  const int bits = b.pick_bits();
  Code& c = b.code();
  if (bits != 8 && b.writable(DIFF_EAX) && b.rng().percent(30)) {  // 90+r
    const int reg = b.pick_reg_except(bits, Access::kWrite, 1u << DIFF_EAX);
    c.opsize(bits);
    c.byte(static_cast<uint8_t>(0x90 + reg));
  } else {  // 86/87 r/m, r; LOCK is implied with memory but may be given
    const Rm rm = b.pick_rm(bits, Access::kWrite);
    const int reg = b.pick_reg(bits, Access::kWrite);
    b.maybe_lock(rm);
    c.opsize(bits);
    c.byte(sized(0x86, bits));
    c.modrm(reg, rm);
  }
  b.count();
  return true;
}

// CMPXCHG compares with AL/AX/EAX and writes either the destination or the
// accumulator; flags as CMP.
bool emit_cmpxchg(Builder& b) {
  if (!b.writable(DIFF_EAX)) return false;
  const int bits = b.pick_bits();
  const Rm dest = b.pick_rm(bits, Access::kWrite, 50);
  const int src = b.pick_reg(bits, Access::kRead);
  Code& c = b.code();
  b.maybe_lock(dest);
  c.opsize(bits);
  c.bytes({0x0F, sized(0xB0, bits)});
  c.modrm(src, dest);
  b.apply(kArithFlags);
  b.count();
  return true;
}

bool emit_xadd(Builder& b) {
  const int bits = b.pick_bits();
  const Rm dest = b.pick_rm(bits, Access::kWrite);
  const int src = b.pick_reg(bits, Access::kWrite);
  Code& c = b.code();
  b.maybe_lock(dest);
  c.opsize(bits);
  c.bytes({0x0F, sized(0xC0, bits)});
  c.modrm(src, dest);
  b.apply(kArithFlags);
  b.count();
  return true;
}

// BSWAP r32 only: with a 16-bit operand the result is undefined.
bool emit_bswap(Builder& b) {
  b.code().bytes({0x0F, static_cast<uint8_t>(0xC8 + b.pick_reg(32, Access::kWrite))});
  b.count();
  return true;
}

}  // namespace tv::difftest
