// The state of one case while the generator fills it: the code so far,
// which registers the sequence may read or write, which flags are still
// defined, and the stack depth. Instruction emitters (families.h) consult
// it so that every case is deterministic on any x86 that follows the SDM:
// no flag the SDM leaves undefined is read, no address leaves the data
// buffer, and the buffer's address (different in the native and the
// guest runner) never reaches a register or memory.
#pragma once

#include <cstdint>

#include "case_format.h"
#include "encoder.h"
#include "rng.h"

namespace tv::difftest {

// What an instruction does to the status flags and DF.
struct FlagEffect {
  uint32_t reads = 0;
  uint32_t defines = 0;    // written with a value the SDM defines
  uint32_t undefines = 0;  // left undefined by the SDM
};

// A 32-bit value likely to hit edge cases: 0, 1, -1, sign boundaries,
// single bits, repeated bytes, or random bits.
uint32_t interesting_value(Rng& rng);

enum class Access { kRead, kWrite };  // kWrite covers read-modify-write

class Builder {
 public:
  // base: the register that points into the data buffer. index: a register
  // with the small known value index_value for scaled-index addressing, or
  // -1. target: how many instructions to aim for.
  Builder(Rng& rng, int base, int index, uint32_t index_value, int target);

  Rng& rng() { return rng_; }
  Code& code() { return code_; }
  const Code& code() const { return code_; }
  int insns() const { return insns_; }
  bool room(int n) const { return insns_ + n <= target_; }
  void count(int n = 1) { insns_ += n; }

  // Registers by their 32-bit number; ESP is neither.
  bool writable(int reg32) const;
  bool readable(int reg32) const;
  // The same for a register number of operand size `bits` (AH..BH are 4-7).
  static int full_reg(int reg, int bits) { return bits == 8 ? (reg & 3) : reg; }
  bool writable(int reg, int bits) const { return writable(full_reg(reg, bits)); }
  bool readable(int reg, int bits) const { return readable(full_reg(reg, bits)); }
  int pick_reg(int bits, Access access) { return pick_reg_except(bits, access, 0); }
  // Like pick_reg, but never a part of the 32-bit registers whose bits are
  // set in avoid_mask (bit r for register r).
  int pick_reg_except(int bits, Access access, uint32_t avoid_mask);

  // A register or a memory operand inside the data buffer, `mem_percent`
  // percent of the time memory.
  Rm pick_rm(int bits, Access access, int mem_percent = 40);
  // A data operand of `bits` whose bytes lie at offsets [lo, hi) from the
  // base register; *offset gets where it starts.
  Mem pick_mem(int bits, int* offset = nullptr, int lo = -DIFF_BASE_OFFSET,
               int hi = DIFF_BASE_OFFSET);
  // Any addressing form for LEA, over registers whose values may be read.
  Mem pick_lea_mem();

  int pick_bits();  // 8, 16 or 32
  int pick_bits_16_32();
  uint32_t pick_imm(int bits);  // a value that fits `bits`
  uint32_t pick_value() { return interesting_value(rng_); }

  // An F0 LOCK prefix, sometimes, for an instruction that allows it on a
  // memory destination (SDM Vol. 2A LOCK).
  void maybe_lock(const Rm& dest);

  bool flags_ready(uint32_t reads) const { return (reads & ~defined_) == 0; }
  void apply(const FlagEffect& effect);
  uint32_t defined_flags() const { return defined_; }

  int stack_depth() const { return stack_depth_; }
  void stack(int delta) { stack_depth_ += delta; }

 private:
  Mem place(int offset);

  Rng& rng_;
  Code code_;
  int base_;
  int index_;
  uint32_t index_value_;
  int target_;
  int insns_ = 0;
  uint32_t defined_ = DIFF_CASE_FLAGS;
  int stack_depth_ = 0;
};

// Status flags read by condition code cc (SDM Vol. 1 Appendix B, Table B-1).
uint32_t condition_reads(int cc);

}  // namespace tv::difftest
