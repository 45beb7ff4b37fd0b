// The model-specific registers the CPU itself holds beyond SYSENTER (SDM
// Vol. 4 Table 2-2 for the Core 2 the CPUID profile names; the platform's
// APIC MSRs live in the machine): IA32_MISC_ENABLE with its writable,
// read-only and reserved bits, IA32_PAT with its memory-type check, and
// IA32_EFER with only SCE (the profile has no long mode or NX; SYSCALL
// itself stays #UD outside 64-bit mode, as on Intel parts). A write that
// sets a reserved bit or an invalid PAT type is #GP(0) (the caller
// raises it); the memory types are stored, not enforced.
#pragma once

#include <cstdint>
#include <optional>

namespace tv::bt {

struct CpuMsrs {
  // Fast strings on, BTS and PEBS unavailable (the profile has no debug store).
  static constexpr uint64_t kMiscEnableReset = 0x1801;
  static constexpr uint64_t kPatReset = 0x0007040600070406ull;  // SDM Vol. 3A 12.12.4

  uint64_t misc_enable = kMiscEnableReset;
  uint64_t pat = kPatReset;
  uint64_t efer = 0;
};

// nullopt: not one of these MSRs.
std::optional<uint64_t> read_cpu_msr(const CpuMsrs& msrs, uint32_t msr);
// nullopt: not one of these MSRs; false: the value is invalid (#GP).
std::optional<bool> write_cpu_msr(CpuMsrs& msrs, uint32_t msr, uint64_t value);

}  // namespace tv::bt
