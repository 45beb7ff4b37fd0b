// The CPU's own MSRs (bt/x86/msrs.h): reset values, writable, read-only
// and reserved bits of IA32_MISC_ENABLE, PAT memory-type checks, EFER.
#include <gtest/gtest.h>

#include "arch/x86.h"
#include "bt/x86/msrs.h"

namespace tv::bt {
namespace {

TEST(CpuMsrs, ResetValues) {
  CpuMsrs m;
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrMiscEnable), 0x1801u);
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrPat), 0x0007040600070406ull);
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrEfer), 0u);
  EXPECT_EQ(read_cpu_msr(m, 0x1B), std::nullopt) << "the APIC base is the platform's";
}

TEST(CpuMsrs, MiscEnableKeepsReadOnlyBits) {
  CpuMsrs m;
  // Every writable bit set, read-only ones cleared in the value written.
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrMiscEnable, 0x400C50009ull), true);
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrMiscEnable), 0x400C51809ull);
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrMiscEnable, 0x80), true) << "bit 7 is read-only";
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrMiscEnable), 0x1800u);
}

TEST(CpuMsrs, MiscEnableReservedBitsFault) {
  CpuMsrs m;
  for (uint64_t bit : {1ull << 1, 1ull << 4, 1ull << 17, 1ull << 24, 1ull << 35, 1ull << 63}) {
    EXPECT_EQ(write_cpu_msr(m, x86::kMsrMiscEnable, 1 | bit), false) << std::hex << bit;
    EXPECT_EQ(m.misc_enable, CpuMsrs::kMiscEnableReset) << "a faulting write changes nothing";
  }
}

TEST(CpuMsrs, PatTypes) {
  CpuMsrs m;
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrPat, 0x0707070707070707ull), true);
  EXPECT_EQ(m.pat, 0x0707070707070707ull);
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrPat, 0x0100050400060000ull), true) << "UC WC WT WP WB UC-";
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrPat, 0x02), false) << "type 2 is reserved";
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrPat, 0x0300000000000000ull), false) << "type 3, entry 7";
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrPat, 0x08), false) << "bits 3-7 of an entry are reserved";
  EXPECT_EQ(m.pat, 0x0100050400060000ull);
}

TEST(CpuMsrs, EferOnlySce) {
  CpuMsrs m;
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrEfer, 1), true);
  EXPECT_EQ(read_cpu_msr(m, x86::kMsrEfer), 1u);
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrEfer, 1u << 8), false) << "LME: no long mode";
  EXPECT_EQ(write_cpu_msr(m, x86::kMsrEfer, 1u << 11), false) << "NXE: no NX";
  EXPECT_EQ(write_cpu_msr(m, 0x10, 0), std::nullopt);
}

}  // namespace
}  // namespace tv::bt
