// Bus accesses that do not match a device's register width, split into
// the registers they touch, little-endian as on the ISA and PCI buses: a
// wide access reaches consecutive registers, a narrow one part of one.
// `Width` is the register size in bytes (1, 2 or 4); registers sit at
// offsets that are multiples of it.
#pragma once

#include <cstdint>

namespace tv::dev {

// The `size` bytes at `offset`; reg(offset of a register) returns it.
template <unsigned Width, typename ReadReg>
uint64_t read_lanes(uint64_t offset, unsigned size, ReadReg reg) {
  constexpr uint64_t kLow = Width - 1;
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint64_t at = offset + i;
    uint64_t byte = (uint64_t(reg(at & ~kLow)) >> (8 * (at & kLow))) & 0xFF;
    value |= byte << (8 * i);
  }
  return value;
}

// Stores `size` bytes of `value` at `offset`: reg(offset of a register,
// bits, mask) once per register touched, in address order, where `mask`
// has 0xFF in the byte lanes written and `bits` their new contents.
template <unsigned Width, typename WriteReg>
void write_lanes(uint64_t offset, unsigned size, uint64_t value, WriteReg reg) {
  constexpr uint64_t kLow = Width - 1;
  for (uint64_t base = offset & ~kLow; base < offset + size; base += Width) {
    uint64_t bits = 0, mask = 0;
    for (unsigned b = 0; b < Width; ++b) {
      uint64_t at = base + b;
      if (at < offset || at >= offset + size) continue;
      mask |= uint64_t{0xFF} << (8 * b);
      bits |= ((value >> (8 * (at - offset))) & 0xFF) << (8 * b);
    }
    reg(base, bits, mask);
  }
}

}  // namespace tv::dev
