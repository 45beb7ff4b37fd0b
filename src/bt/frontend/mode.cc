// The translation mode (translator.h): what besides the code bytes changes
// how a block is translated, and the segment-check data translated code
// reads when a data segment is not flat.
#include "bt/frontend/translator.h"
#include "bt/x86/segments.h"

namespace tv::bt {

namespace {

// An expand-up, writable data segment with a 4 GiB limit (or an unusable
// one, whose use is not checked): accesses need no checks.
bool plain(const Segment& s) {
  if (!(s.attr & 0x80)) return true;
  bool data = (s.attr & 0x18) == 0x10, expand_down = s.attr & 0x4, writable = s.attr & 0x2;
  return data && !expand_down && writable && s.limit == 0xFFFFFFFFu;
}

}  // namespace

void derive_segment_checks(CpuState& cpu) {
  for (unsigned i = 0; i < kNumSegRegs; ++i) {
    const Segment& s = cpu.seg[i];
    bool code = s.attr & 0x8, expand_down = !code && (s.attr & 0x4);
    cpu.seg_lo[i] = expand_down ? s.limit + 1 : 0;
    cpu.seg_hi[i] = expand_down ? ((s.attr & 0x400) ? 0xFFFFFFFFu : 0xFFFFu) : s.limit;
    cpu.seg_writable[i] = (s.attr & 0x80) && !code && (s.attr & 0x2);
    if (!(s.attr & 0x80)) cpu.seg_lo[i] = 1, cpu.seg_hi[i] = 0;  // unusable: every access faults
  }
}

uint32_t Mode::of(const CpuState& cpu) {
  uint32_t m = 0;
  if (cpu.seg[kCs].attr & 0x400) m |= kCs32;
  // A null DS or ES must fault when used (SDM Vol. 3A 3.4.2), so it is
  // checked like a non-flat segment; FS and GS, often null and rarely
  // used so, are not (README).
  bool plain_ds = plain(cpu.seg[kDs]) && plain(cpu.seg[kEs]) && plain(cpu.seg[kSs]) &&
                  segment_usable(cpu.seg[kDs]) && segment_usable(cpu.seg[kEs]);
  if (cpu.seg[kDs].base == 0 && cpu.seg[kEs].base == 0 && cpu.seg[kSs].base == 0 &&
      cpu.seg[kCs].base == 0 && plain_ds)
    m |= kFlat;
  if (!plain_ds || !plain(cpu.seg[kFs]) || !plain(cpu.seg[kGs])) m |= kSegChecks;
  if (cpu.cr0 & kCr0Pg) m |= kPaging;
  m |= uint32_t(cpu.cpl & 3) << kCplShift;
  if (cpu.cr0 & x86::kCr0Mp) m |= kCr0Mp;
  if (cpu.cr0 & x86::kCr0Em) m |= kCr0Em;
  if (cpu.cr0 & x86::kCr0Ts) m |= kCr0Ts;
  if (!(cpu.cr4 & (1u << 9))) m |= kNoOsfxsr;
  if (cpu.cr4 & (1u << 10)) m |= kOsxmmexcpt;
  if ((cpu.cr4 & x86::kCr4Tsd) && cpu.cpl > 0) m |= kTscFaults;
  return m;
}

}  // namespace tv::bt
