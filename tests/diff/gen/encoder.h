// Byte-level x86-32 encoding for the case generator: prefixes, ModRM, SIB,
// displacements and immediates (SDM Vol. 2A chapter 2). No assembler is
// involved, so a seed gives the same bytes on every host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "case_format.h"

namespace tv::difftest {

enum class DispSize : uint8_t { kAuto, kDisp8, kDisp32 };

// A memory operand [base + index * (1 << scale_log) + disp]. base < 0 means
// no base (only LEA may use that: absolute addresses differ between the
// native and the guest runner).
struct Mem {
  int base = -1;
  int index = -1;  // -1: no index
  int scale_log = 0;
  int32_t disp = 0;
  DispSize disp_size = DispSize::kAuto;
  bool force_sib = false;  // SIB byte with "no index" (index field 100b)
};

// An r/m operand: a register number for the operand size (for 8-bit, 4-7
// are AH CH DH BH) or a memory operand.
struct Rm {
  bool is_mem = false;
  int reg = 0;
  Mem mem;

  static Rm of_reg(int r) { return Rm{false, r, {}}; }
  static Rm of_mem(const Mem& m) { return Rm{true, 0, m}; }
};

class Code {
 public:
  void byte(uint8_t b) { bytes_.push_back(b); }
  void bytes(std::initializer_list<uint8_t> list) { bytes_.insert(bytes_.end(), list); }
  // Little-endian immediate of 1, 2 or 4 bytes.
  void imm(uint32_t value, int size_bytes);
  // The 0x66 operand-size prefix for 16-bit operands (SDM Vol. 2A 2.1.1).
  void opsize(int bits) {
    if (bits == 16) byte(0x66);
  }
  // ModRM (+ SIB + displacement) for reg_field and the r/m operand.
  void modrm(int reg_field, const Rm& rm);

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& data() const { return bytes_; }

 private:
  void memory(int reg_field, const Mem& mem);
  std::vector<uint8_t> bytes_;
};

}  // namespace tv::difftest
