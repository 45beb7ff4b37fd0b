#include "vmm/cpuid.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace tv {
namespace {

std::string vendor() {
  CpuidRegs r = guest_cpuid(0, 0);
  char v[13] = {};
  std::memcpy(v, &r.ebx, 4);
  std::memcpy(v + 4, &r.edx, 4);
  std::memcpy(v + 8, &r.ecx, 4);
  return v;
}

TEST(Cpuid, VendorAndFeaturesLinuxNeeds) {
  EXPECT_EQ(vendor(), "GenuineIntel");
  uint32_t edx = guest_cpuid(1, 0).edx;
  // FPU PSE TSC MSR CX8 APIC SEP PGE CMOV PAT MMX FXSR SSE SSE2
  for (unsigned bit : {0u, 3u, 4u, 5u, 8u, 9u, 11u, 13u, 15u, 16u, 23u, 24u, 25u, 26u})
    EXPECT_TRUE(edx & (1u << bit)) << "bit " << bit;
  EXPECT_FALSE(edx & (1u << 6)) << "no PAE";
  EXPECT_EQ(guest_cpuid(1, 0).ecx, 1u << 24) << "TSC-deadline, nothing beyond SSE2";
  EXPECT_EQ(guest_cpuid(1, 0).ebx >> 24, 0u) << "initial APIC ID";
  EXPECT_EQ(guest_cpuid(6, 0).eax, 1u << 2) << "ARAT";
}

TEST(Cpuid, TscFrequencyFromLeaf15) {
  CpuidRegs r = guest_cpuid(0x15, 0);
  ASSERT_NE(r.eax, 0u);
  uint64_t hz = uint64_t(r.ecx) * r.ebx / r.eax;
  EXPECT_GT(hz, 100'000'000u);  // a real CPU's TSC runs at hundreds of MHz or more
  EXPECT_LT(hz, 10'000'000'000u);
  EXPECT_EQ(guest_cpuid(0x16, 0).eax, r.ebx);  // base MHz agrees
}

TEST(Cpuid, UnusedAndOutOfRangeLeaves) {
  EXPECT_EQ(guest_cpuid(7, 0).ebx, 0u);  // no extended features (no BMI, AVX2, ...)
  CpuidRegs top = guest_cpuid(0x16, 0), beyond = guest_cpuid(0x40, 0);
  EXPECT_EQ(beyond.eax, top.eax);  // SDM: the highest basic leaf answers
  EXPECT_EQ(guest_cpuid(0x80000000, 0).eax, 0x80000004u);
  EXPECT_EQ(guest_cpuid(0x80000001, 0).edx, 0u) << "no long mode";
}

TEST(Cpuid, TableCoversEveryLeaf) {
  auto table = guest_cpuid_table();
  EXPECT_EQ(table.front().leaf, 0u);
  EXPECT_EQ(table.back().leaf, 0x80000004u);
}

}  // namespace
}  // namespace tv
