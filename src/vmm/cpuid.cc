#include "vmm/cpuid.h"

#include <time.h>
#include <x86intrin.h>

#include <cstring>

namespace tv {
namespace {

constexpr uint32_t kMaxBasicLeaf = 0x16;
constexpr uint32_t kMaxExtendedLeaf = 0x80000004;

// CPUID.1:EDX bits (SDM Vol. 2A, Table 3-11).
constexpr uint32_t kFpu = 1u << 0, kVme = 1u << 1, kDe = 1u << 2, kPse = 1u << 3, kTsc = 1u << 4,
                   kMsr = 1u << 5, kCx8 = 1u << 8, kSep = 1u << 11, kPge = 1u << 13,
                   kCmov = 1u << 15, kPat = 1u << 16, kMmx = 1u << 23, kFxsr = 1u << 24,
                   kApic = 1u << 9, kSse = 1u << 25, kSse2 = 1u << 26;
constexpr uint32_t kFeatureEdx = kFpu | kDe | kPse | kTsc | kMsr | kCx8 | kApic | kSep | kPge |
                                 kCmov | kPat | kMmx | kFxsr | kSse | kSse2;
// CPUID.1:ECX: the local APIC timer's TSC-deadline mode.
constexpr uint32_t kTscDeadline = 1u << 24;
constexpr uint32_t kFeatureEcx = kTscDeadline;
// CPUID.6:EAX bit 2, ARAT: the APIC timer runs in every C-state.
constexpr uint32_t kArat = 1u << 2;
static_assert((kFeatureEdx & kVme) == 0, "virtual-8086 extensions are not emulated");

// The host TSC frequency, which guests see as theirs (both backends let
// the guest read the host TSC): measured once against CLOCK_MONOTONIC, so
// that Linux takes its TSC frequency from CPUID 0x15 instead of a PIT loop.
uint32_t host_tsc_mhz() {
  static const uint32_t mhz = [] {
    auto now_ns = [] {
      timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    };
    uint64_t t0 = now_ns(), c0 = __rdtsc();
    while (now_ns() - t0 < 5000000) {
    }
    uint64_t t1 = now_ns(), c1 = __rdtsc();
    return uint32_t((c1 - c0) * 1000 / (t1 - t0));
  }();
  return mhz;
}

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

uint32_t tsc_mhz() { return host_tsc_mhz(); }

CpuidRegs guest_cpuid(uint32_t leaf, uint32_t /*subleaf*/) {
  switch (leaf) {
    case 0:  // "GenuineIntel": Linux's Intel paths (CMOV, SEP quirks) are the tested ones
      return {kMaxBasicLeaf, chars("Genu"), chars("ntel"), chars("ineI")};
    case 1:  // family 6, model 15, stepping 11 (a Core 2); CLFLUSH size 8 qwords; APIC ID 0
      return {0x000006fb, 0x00000800, kFeatureEcx, kFeatureEdx};
    case 6: return {kArat, 0, 0, 0};
    case 2:  // no cache descriptors: 0x01 in AL means "call once"
      return {0x00000001, 0, 0, 0};
    case 0x15: {  // TSC/crystal ratio: TSC Hz = ECX * EBX / EAX, with a 1 MHz "crystal"
      uint32_t mhz = host_tsc_mhz();
      return {1, mhz, 1000000, 0};
    }
    case 0x16:  // processor base frequency in MHz
      return {host_tsc_mhz(), 0, 0, 0};
    case 0x80000000: return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000001: return {0, 0, 0, 0};
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: return brand(int(leaf - 0x80000002));
    default:
      // Leaves 3-0x14 describe nothing (no cache, topology or extended
      // features); beyond either range, the highest basic leaf answers
      // (SDM Vol. 2A CPUID).
      if (leaf < kMaxBasicLeaf || (leaf > 0x80000000 && leaf <= kMaxExtendedLeaf))
        return {0, 0, 0, 0};
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
