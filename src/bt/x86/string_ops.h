// String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with or
// without REP) executed by a C++ helper on CpuState. Translated code calls
// out for them because a REP may run for millions of iterations, touch MMIO
// or port I/O, and must stay restartable: ESI/EDI/ECX are updated as work is
// done, so a GuestFault thrown half-way (a #PF once paging exists) or an early
// return for a pending interrupt leaves the registers describing the rest
// (SDM Vol. 1 7.3.9; Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ").
//
// Also the segment-relative address check shared with legacy_ops.
#pragma once

#include <cstdint>

#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"

namespace tv::dev {
class Bus;
}

namespace tv::bt {

enum class StringOp { kMovs, kCmps, kStos, kLods, kScas, kIns, kOuts };
enum class RepKind { kNone, kRep /* F3: REP / REPE */, kRepne /* F2 */ };

struct StringInsn {
  StringOp op = StringOp::kMovs;
  unsigned size = 1;  // element size: 1, 2 or 4
  RepKind rep = RepKind::kNone;
  SegReg src_seg = kDs;   // segment of DS:ESI after any override; ES:EDI never changes
  bool addr16 = false;    // 16-bit address size: SI/DI/CX instead of ESI/EDI/ECX
  uint32_t next_eip = 0;  // EIP of the following instruction
};

enum class StringResult {
  kDone,  // finished: cpu.eip = next_eip
  kMore,  // max_iterations reached; registers updated, cpu.eip unchanged: run it again
};

// Runs `insn` on the guest state. At least one iteration runs per call, so a
// max_iterations of 0 behaves as 1. CMPS/SCAS set the arithmetic flags like
// CMP of the last pair compared; the others leave flags alone. The I/O
// permission check for INS/OUTS (CPL > IOPL, TSS bitmap) is the caller's.
// Throws GuestFault: #GP(0)/#SS(0) for segment violations, #PF from paging.
StringResult run_string_op(CpuState& cpu, LinearMemory& mem, dev::Bus& pio, const StringInsn& insn,
                           uint64_t max_iterations);

// True if `size` bytes at `offset` in segment `s` may be accessed: usable,
// within the limit (expand-down included, segment_fits in segments.h), and
// of a type that allows `access` (SDM Vol. 3A 5.3, 5.5).
bool segment_allows(const CpuState& cpu, SegReg s, uint32_t offset, uint32_t size, Access access);

// The linear address of `len` bytes at `offset` in segment `s`; throws #SS(0)
// for SS and #GP(0) for other segments when segment_allows() says no.
uint32_t segment_linear(const CpuState& cpu, SegReg s, uint32_t offset, unsigned len,
                        Access access);

}  // namespace tv::bt
