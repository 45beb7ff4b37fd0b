// Operand choices for the case generator; see builder.h for the rules.
#include "builder.h"

#include <vector>

namespace tv::difftest {

Builder::Builder(Rng& rng, int base, int index, uint32_t index_value, int target)
    : rng_(rng), base_(base), index_(index), index_value_(index_value), target_(target) {}

bool Builder::writable(int reg32) const {
  return reg32 != DIFF_ESP && reg32 != base_ && reg32 != index_;
}

bool Builder::readable(int reg32) const { return reg32 != DIFF_ESP && reg32 != base_; }

int Builder::pick_reg_except(int bits, Access access, uint32_t avoid_mask) {
  std::vector<int> candidates;
  for (int r = 0; r < 8; ++r) {
    const int full = full_reg(r, bits);
    if (avoid_mask & (1u << full)) continue;
    if (access == Access::kWrite ? writable(full) : readable(full)) candidates.push_back(r);
  }
  // Never empty: callers avoid at most EAX and EDX, the index is never
  // ECX, and the base is never ECX or EDX.
  return candidates[rng_.below(static_cast<uint32_t>(candidates.size()))];
}

Rm Builder::pick_rm(int bits, Access access, int mem_percent) {
  if (rng_.percent(static_cast<uint32_t>(mem_percent))) return Rm::of_mem(pick_mem(bits));
  return Rm::of_reg(pick_reg(bits, access));
}

Mem Builder::pick_mem(int bits, int* offset_out, int lo, int hi) {
  const int bytes = bits / 8;
  int offset = rng_.range(lo, hi - bytes);
  // Half the accesses aligned to their size, the rest anywhere.
  if (rng_.percent(50)) {
    offset &= ~(bytes - 1);
    if (offset < lo) offset += bytes;
  }
  if (offset_out != nullptr) *offset_out = offset;
  return place(offset);
}

// An addressing form that reaches base + offset.
Mem Builder::place(int offset) {
  Mem m;
  m.base = base_;
  m.disp = offset;
  const uint32_t form = rng_.below(100);
  if (index_ >= 0 && form < 40) {
    m.index = index_;
    m.scale_log = rng_.range(0, 3);
    m.disp = offset - static_cast<int32_t>(index_value_ << m.scale_log);
  } else if (index_ >= 0 && form < 50) {
    // The buffer register as an unscaled index: [index + base*1 + disp].
    m.base = index_;
    m.index = base_;
    m.disp = offset - static_cast<int32_t>(index_value_);
  } else if (form < 60) {
    m.force_sib = true;
  }
  if (rng_.percent(15)) m.disp_size = DispSize::kDisp32;
  return m;
}

Mem Builder::pick_lea_mem() {
  Mem m;
  m.base = rng_.percent(85) ? pick_reg(32, Access::kRead) : -1;
  if (rng_.percent(60)) {
    m.index = pick_reg(32, Access::kRead);
    m.scale_log = rng_.range(0, 3);
  } else if (m.base >= 0 && rng_.percent(20)) {
    m.force_sib = true;
  }
  m.disp = rng_.percent(50) ? rng_.range(-128, 127) : static_cast<int32_t>(pick_value());
  if (rng_.percent(20)) m.disp = 0;
  if (rng_.percent(15)) m.disp_size = DispSize::kDisp32;
  return m;
}

int Builder::pick_bits() {
  const uint32_t r = rng_.below(100);
  return r < 30 ? 8 : r < 55 ? 16 : 32;
}

int Builder::pick_bits_16_32() { return rng_.percent(35) ? 16 : 32; }

uint32_t Builder::pick_imm(int bits) {
  const uint32_t value = pick_value();
  return bits == 32 ? value : value & ((1u << bits) - 1);
}

uint32_t interesting_value(Rng& rng) {
  switch (rng.below(12)) {
    case 0: return rng.pick<uint32_t>({0, 1, 2, 0xFFFFFFFF, 0xFFFFFFFE});
    case 1: return rng.pick<uint32_t>({0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF});
    case 2: return rng.pick<uint32_t>({0x7FFFFFFF, 0x80000000, 0x80000001, 0x10000});
    case 3: return rng.below(64);
    case 4: return static_cast<uint32_t>(-static_cast<int32_t>(rng.below(64)));
    case 5: return 1u << rng.below(32);
    case 6: return (rng.u32() & 0xFF) * 0x01010101u;
    case 7: return rng.u32() & 0xFFFF;
    case 8: return rng.u32() | 0x80000000u;
    default: return rng.u32();
  }
}

void Builder::maybe_lock(const Rm& dest) {
  if (dest.is_mem && rng_.percent(15)) code_.byte(0xF0);
}

void Builder::apply(const FlagEffect& effect) {
  defined_ = (defined_ & ~effect.undefines) | effect.defines;
}

uint32_t condition_reads(int cc) {
  switch (cc >> 1) {
    case 0: return DIFF_OF;                       // O, NO
    case 1: return DIFF_CF;                       // B, AE
    case 2: return DIFF_ZF;                       // E, NE
    case 3: return DIFF_CF | DIFF_ZF;             // BE, A
    case 4: return DIFF_SF;                       // S, NS
    case 5: return DIFF_PF;                       // P, NP
    case 6: return DIFF_SF | DIFF_OF;             // L, GE
    default: return DIFF_ZF | DIFF_SF | DIFF_OF;  // LE, G
  }
}

}  // namespace tv::difftest
