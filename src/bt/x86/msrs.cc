#include "bt/x86/msrs.h"

#include "arch/x86.h"

namespace tv::bt {
namespace {

// IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2): fast strings (0), automatic
// thermal control (3), Enhanced SpeedStep (16), MONITOR FSM (18), limit
// CPUID maxval (22), xTPR disable (23), XD disable (34) are writable;
// performance monitoring available (7), BTS unavailable (11) and PEBS
// unavailable (12) are read-only; every other bit is reserved.
constexpr uint64_t kMiscEnableWritable = 0x400C50009ull;
constexpr uint64_t kMiscEnableReadOnly = 0x1880;

// IA32_PAT: eight 3-bit memory types in the low bits of each byte; types
// 2 and 3 are reserved, as are the byte's upper five bits (SDM Vol. 3A
// 12.12.2).
bool valid_pat(uint64_t value) {
  for (unsigned i = 0; i < 8; ++i) {
    const uint64_t type = (value >> (8 * i)) & 0xFF;
    if (type > 7 || type == 2 || type == 3) return false;
  }
  return true;
}

constexpr uint64_t kEferSce = 1;

}  // namespace

std::optional<uint64_t> read_cpu_msr(const CpuMsrs& msrs, uint32_t msr) {
  switch (msr) {
    case x86::kMsrMiscEnable: return msrs.misc_enable;
    case x86::kMsrPat: return msrs.pat;
    case x86::kMsrEfer: return msrs.efer;
    default: return std::nullopt;
  }
}

std::optional<bool> write_cpu_msr(CpuMsrs& msrs, uint32_t msr, uint64_t value) {
  switch (msr) {
    case x86::kMsrMiscEnable:
      if (value & ~(kMiscEnableWritable | kMiscEnableReadOnly)) return false;
      msrs.misc_enable = (value & kMiscEnableWritable) | (msrs.misc_enable & kMiscEnableReadOnly);
      return true;
    case x86::kMsrPat:
      if (!valid_pat(value)) return false;
      msrs.pat = value;
      return true;
    case x86::kMsrEfer:
      if (value & ~kEferSce) return false;
      msrs.efer = value;
      return true;
    default: return std::nullopt;
  }
}

}  // namespace tv::bt
