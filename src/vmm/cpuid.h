// The CPUID profile the guest sees, shared by both backends so that a guest
// cannot tell bt from kvm by feature bits. It describes a P6-class CPU with
// the features Debian's 686 kernel uses (FPU TSC MSR CX8 CMOV MMX PSE PGE
// SEP FXSR SSE SSE2, the local APIC with TSC-deadline and ARAT) and nothing
// the BT does not emulate (no x2APIC, no PAE yet, no long mode, no AVX).
#pragma once

#include <cstdint>
#include <vector>

namespace tv {

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

struct CpuidEntry {
  uint32_t leaf, subleaf;
  CpuidRegs regs;
};

// The value of CPUID(leaf, subleaf) for the guest; out-of-range leaves
// return the highest basic leaf's value, as Intel CPUs do (SDM Vol. 2A CPUID).
CpuidRegs guest_cpuid(uint32_t leaf, uint32_t subleaf);

// The TSC frequency the guest sees (the host's: both backends let the
// guest read the host TSC), in MHz, measured once.
uint32_t tsc_mhz();

// Every leaf of the profile, for KVM_SET_CPUID2.
std::vector<CpuidEntry> guest_cpuid_table();

}  // namespace tv
