#include "vmm/cpuid.h"

#include <cstring>

namespace tv {
namespace {

constexpr uint32_t kMaxBasicLeaf = 0x2;
constexpr uint32_t kMaxExtendedLeaf = 0x80000004;

// CPUID.1:EDX bits (SDM Vol. 2A, Table 3-11).
constexpr uint32_t kFpu = 1u << 0, kVme = 1u << 1, kDe = 1u << 2, kPse = 1u << 3,
                   kTsc = 1u << 4, kMsr = 1u << 5, kCx8 = 1u << 8, kSep = 1u << 11,
                   kPge = 1u << 13, kCmov = 1u << 15, kMmx = 1u << 23, kFxsr = 1u << 24,
                   kSse = 1u << 25, kSse2 = 1u << 26;
constexpr uint32_t kFeatureEdx =
    kFpu | kDe | kPse | kTsc | kMsr | kCx8 | kSep | kPge | kCmov | kMmx | kFxsr | kSse | kSse2;
static_assert((kFeatureEdx & kVme) == 0, "virtual-8086 extensions are not emulated");

uint32_t chars(const char* s) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  return v;
}

CpuidRegs brand(int part) {
  static const char kBrand[49] = "Transvisor Virtual CPU                          ";
  CpuidRegs r;
  std::memcpy(&r, kBrand + part * 16, 16);
  return r;
}

}  // namespace

CpuidRegs guest_cpuid(uint32_t leaf, uint32_t /*subleaf*/) {
  switch (leaf) {
    case 0:  // "GenuineIntel": Linux's Intel paths (CMOV, SEP quirks) are the tested ones
      return {kMaxBasicLeaf, chars("Genu"), chars("ntel"), chars("ineI")};
    case 1:  // family 6, model 15, stepping 11 (a Core 2); CLFLUSH size 8 qwords
      return {0x000006fb, 0x00000800, 0, kFeatureEdx};
    case 2:  // no cache descriptors: 0x01 in AL means "call once"
      return {0x00000001, 0, 0, 0};
    case 0x80000000:
      return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000001:
      return {0, 0, 0, 0};
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
      return brand(int(leaf - 0x80000002));
    default:  // beyond either range: the highest basic leaf (SDM Vol. 2A CPUID)
      return guest_cpuid(kMaxBasicLeaf, 0);
  }
}

std::vector<CpuidEntry> guest_cpuid_table() {
  std::vector<CpuidEntry> table;
  for (uint32_t leaf = 0; leaf <= kMaxBasicLeaf; ++leaf)
    table.push_back({leaf, 0, guest_cpuid(leaf, 0)});
  for (uint32_t leaf = 0x80000000; leaf <= kMaxExtendedLeaf; ++leaf)
    table.push_back({leaf, 0, guest_cpuid(leaf, 0)});
  return table;
}

}  // namespace tv
