// IA-32 architecture facts named once: EFLAGS, CR0 and CR4 bits, paging-
// structure entry bits, page-fault error-code bits, exception vectors and
// the MSRs the machine implements. Header-only, no dependencies: the bt
// backend, the shadow MMU and the kvm backend all use it.
#pragma once

#include <cstdint>

namespace tv::x86 {

// EFLAGS (SDM Vol. 1, 3.4.3).
inline constexpr uint32_t kFlagCf = 1u << 0, kFlagPf = 1u << 2, kFlagAf = 1u << 4,
                          kFlagZf = 1u << 6, kFlagSf = 1u << 7, kFlagTf = 1u << 8,
                          kFlagIf = 1u << 9, kFlagDf = 1u << 10, kFlagOf = 1u << 11,
                          kFlagIopl = 3u << 12, kFlagNt = 1u << 14, kFlagRf = 1u << 16,
                          kFlagVm = 1u << 17, kFlagAc = 1u << 18, kFlagVif = 1u << 19,
                          kFlagVip = 1u << 20, kFlagId = 1u << 21;
// The status flags that arithmetic sets (OSZAPC).
inline constexpr uint32_t kArithFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

// CR0 and CR4 (SDM Vol. 3A 2.5).
inline constexpr uint32_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Em = 1u << 2, kCr0Ts = 1u << 3,
                          kCr0Et = 1u << 4, kCr0Ne = 1u << 5, kCr0Wp = 1u << 16, kCr0Am = 1u << 18,
                          kCr0Pg = 1u << 31;
inline constexpr uint32_t kCr4Vme = 1u << 0, kCr4Pvi = 1u << 1, kCr4Tsd = 1u << 2, kCr4De = 1u << 3,
                          kCr4Pse = 1u << 4, kCr4Pae = 1u << 5, kCr4Mce = 1u << 6,
                          kCr4Pge = 1u << 7, kCr4Pce = 1u << 8, kCr4Osfxsr = 1u << 9,
                          kCr4Osxmmexcpt = 1u << 10;

// 32-bit paging-structure entries (SDM Vol. 3A 4.3, Tables 4-4 to 4-6).
inline constexpr uint32_t kPteP = 1u << 0, kPteRw = 1u << 1, kPteUs = 1u << 2, kPteA = 1u << 5,
                          kPteD = 1u << 6, kPtePs = 1u << 7, kPteG = 1u << 8;
inline constexpr uint32_t kPteFrame4K = 0xFFFFF000, kPteFrame4M = 0xFFC00000;
inline constexpr uint32_t kPage4K = 4096, kPage4M = 4u << 20;

// Page-fault error code (SDM Vol. 3A 4.7).
inline constexpr uint32_t kPfPresent = 1u << 0;   // P: protection violation, not a missing page
inline constexpr uint32_t kPfWrite = 1u << 1;     // W/R: the access was a write
inline constexpr uint32_t kPfUser = 1u << 2;      // U/S: the access was a user-mode access
inline constexpr uint32_t kPfReserved = 1u << 3;  // RSVD: a reserved bit was set in an entry
inline constexpr uint32_t kPfFetch = 1u << 4;     // I/D: never set here (no NX in 32-bit paging)

// Exception vectors (SDM Vol. 3A, Table 6-1).
enum Vector : uint8_t {
  kDE = 0,
  kDB = 1,
  kNMI = 2,
  kBP = 3,
  kOF = 4,
  kBR = 5,
  kUD = 6,
  kNM = 7,
  kDF = 8,
  kTS = 10,
  kNP = 11,
  kSS = 12,
  kGP = 13,
  kPF = 14,
  kMF = 16,
  kAC = 17,
  kMC = 18,
  kXM = 19,
};

// MSRs (SDM Vol. 4).
inline constexpr uint32_t kMsrTsc = 0x10, kMsrApicBase = 0x1B, kMsrSysenterCs = 0x174,
                          kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176, kMsrMiscEnable = 0x1A0,
                          kMsrPat = 0x277, kMsrTscDeadline = 0x6E0, kMsrEfer = 0xC0000080;

}  // namespace tv::x86
