// Distinct types for distinct address spaces, so that a guest-physical
// address can never be passed where a linear address or host pointer is meant.
#pragma once

#include <compare>
#include <cstdint>

namespace tv {

struct GuestPhys {
  uint64_t value = 0;
  constexpr auto operator<=>(const GuestPhys&) const = default;
  constexpr GuestPhys operator+(uint64_t off) const { return {value + off}; }
};

struct GuestLinear {
  uint32_t value = 0;
  constexpr auto operator<=>(const GuestLinear&) const = default;
  constexpr GuestLinear operator+(uint32_t off) const { return {value + off}; }
};

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageMask = ~(kPageSize - 1);

}  // namespace tv
