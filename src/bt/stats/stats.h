// Always-on counters of the bt backend (DESIGN.md "Profiling"): fixed
// fields and arrays indexed by enums generated from the X-macro lists
// below (base/counters.h), so that counting never allocates and is safe in
// the signal handler. Bumped on
// the dispatcher's slow paths, never in translated code. The lowest bt
// layer: every other one counts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/counters.h"

namespace tv::bt {

// Exits to the dispatcher, by reason.
#define TV_BT_EXITS(X)              \
  X(kBranch, "branch")              \
  X(kSync, "sync")                  \
  X(kIndirectMiss, "indirect miss") \
  X(kCallout, "callout")            \
  X(kExitRequest, "exit request")   \
  X(kFault, "fault")                \
  X(kCalloutInline, "callout, continued in place")

// Host faults in translated code, by what they turned out to be.
#define TV_BT_FAULTS(X)                \
  X(kDe, "#DE")                        \
  X(kMf, "#MF")                        \
  X(kXm, "#XM")                        \
  X(kUd, "#UD")                        \
  X(kGp, "#GP")                        \
  X(kHidden, "hidden")                 \
  X(kPf, "#PF")                        \
  X(kCodePageWrite, "code page write") \
  X(kOpenBus, "open bus")              \
  X(kDeviceMemory, "device memory")    \
  X(kDeviceStep, "device step")        \
  X(kUnmapped, "unmapped")

// Translated blocks dropped, by cause (a full flush counts once).
#define TV_BT_INVALIDATIONS(X)         \
  X(kCacheFull, "cache full")          \
  X(kHelperWrite, "helper write")      \
  X(kCodePageWrite, "code page write") \
  X(kDeviceAccess, "device access retranslated")

// Guest instructions handed to C++ (the callout table, frontend/callout_table.cc).
#define TV_BT_CALLOUTS(X)                       \
  X(kIo, "in/out")                              \
  X(kString, "string op")                       \
  X(kHlt, "hlt")                                \
  X(kCpuid, "cpuid")                            \
  X(kRdmsr, "rdmsr")                            \
  X(kWrmsr, "wrmsr")                            \
  X(kMovCr, "mov cr")                           \
  X(kMovDr, "mov dr")                           \
  X(kDescriptorTable, "lgdt/lidt/lldt/ltr/...") \
  X(kMovToSeg, "mov sreg, r/m")                 \
  X(kMovFromSeg, "mov r/m, sreg")               \
  X(kPushSeg, "push sreg")                      \
  X(kPopSeg, "pop sreg")                        \
  X(kFarPointer, "lds/les/lfs/lgs/lss")         \
  X(kFarJmp, "jmp far")                         \
  X(kFarCall, "call far")                       \
  X(kFarRet, "ret far")                         \
  X(kIret, "iret")                              \
  X(kInt, "int n/int3/into/int1")               \
  X(kAccessCheck, "lar/lsl/verr/verw")          \
  X(kLegacy, "legacy (pusha/daa/bound/...)")    \
  X(kUd, "#UD")                                 \
  X(kNm, "#NM")                                 \
  X(kGp, "#GP")                                 \
  X(kSs, "#SS")                                 \
  X(kCliSti, "cli/sti (CPL > 0)")               \
  X(kPopf, "popf")                              \
  X(kPushf16, "pushf (16-bit)")                 \
  X(kEnter, "enter (nested)")                   \
  X(kPopMem, "pop m (segment base)")            \
  X(kInvlpg, "invlpg/wbinvd/invd")              \
  X(kClts, "clts/lmsw/smsw")                    \
  X(kSysenter, "sysenter/sysexit")              \
  X(kLoop16, "loop/jcxz (16-bit CX)")           \
  X(kLea16, "lea (16-bit address)")             \
  X(kDeviceMove, "mov (device memory)")

TV_COUNTER_LIST(ExitKind, TV_BT_EXITS)
TV_COUNTER_LIST(FaultKind, TV_BT_FAULTS)
TV_COUNTER_LIST(InvalidationCause, TV_BT_INVALIDATIONS)
TV_COUNTER_LIST(CalloutKind, TV_BT_CALLOUTS)

struct Stats {
  uint64_t blocks_translated = 0, guest_insns_translated = 0, guest_bytes_translated = 0;
  uint64_t host_bytes = 0, translate_ns = 0;
  uint64_t block_lookups = 0, block_hits = 0, block_misses = 0;
  uint64_t jump_cache_misses = 0;  // indirect branches that left translated code
  uint64_t chains = 0, unchains = 0, flushes = 0;
  uint64_t single_steps = 0;  // one-instruction blocks after a code-page write
  uint64_t interrupts = 0, exceptions = 0;
  CounterArray<ExitKind, kExitKindCount> exits;
  CounterArray<CalloutKind, kCalloutKindCount> callouts;
  CounterArray<InvalidationCause, kInvalidationCauseCount> invalidations;
  CounterArray<FaultKind, kFaultKindCount> faults;
};

}  // namespace tv::bt
