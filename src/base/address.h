// Distinct types for distinct address spaces, so that a guest-physical
// address can never be passed where a linear address or host pointer is meant.
// Both are plain integers in a struct: passed in one register, no cost.
#pragma once

#include <compare>
#include <cstdint>

namespace tv {

struct GuestPhys {
  uint64_t value = 0;
  constexpr auto operator<=>(const GuestPhys&) const = default;
  constexpr GuestPhys operator+(uint64_t off) const { return {value + off}; }
};

// Linear addresses are 32 bits wide: arithmetic wraps at 4 GiB, as on the CPU.
struct GuestLinear {
  uint32_t value = 0;
  constexpr auto operator<=>(const GuestLinear&) const = default;
  constexpr GuestLinear operator+(uint32_t off) const { return {value + off}; }
};

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageMask = ~(kPageSize - 1);
constexpr unsigned kPageShift = 12;

// The 4 KiB page (for physical addresses: the frame) holding an address,
// the offset into it, and its number (for tables indexed by page).
constexpr GuestPhys page_of(GuestPhys a) { return {a.value & kPageMask}; }
constexpr GuestLinear page_of(GuestLinear a) { return {a.value & uint32_t(kPageMask)}; }
constexpr uint32_t page_offset(GuestPhys a) { return uint32_t(a.value & (kPageSize - 1)); }
constexpr uint32_t page_offset(GuestLinear a) { return a.value & uint32_t(kPageSize - 1); }
constexpr uint64_t page_number(GuestPhys a) { return a.value >> kPageShift; }
constexpr uint32_t page_number(GuestLinear a) { return a.value >> kPageShift; }

}  // namespace tv
