// The memory translated code reaches through R15: one mapping holding the
// exit gate page, the CpuState, and the jump cache, at fixed offsets from
// the CpuState so that generated code addresses all three from R15.
//
//   [R15 - 4096, R15)        exit gate: readable normally; PROT_NONE when a
//                            kick asks translated code to stop. Every block
//                            starts with `mov r13b, [r15 - 1]`, which then
//                            faults at a guest instruction boundary.
//   [R15, R15 + 4096)        CpuState
//   [R15 + 4096, ...)        jump caches (JumpCacheEntry[kJumpCacheSize]),
//                            one for kernel-mode and one for user-mode
//                            blocks, so CPL switches keep both warm
#pragma once

#include <cstddef>
#include <cstdint>

#include "bt/x86/cpu_state.h"

namespace tv::bt {

// An inline-probed jump cache entry: translated code adds neg_eip to the
// target and takes `host` if the sum is zero (flag-free, see translator).
struct JumpCacheEntry {
  uint32_t neg_eip;
  uint32_t pad;
  uint64_t host;
};
constexpr unsigned kJumpCacheBits = 16;
constexpr unsigned kJumpCacheSize = 1u << kJumpCacheBits;
// The slot of an EIP: its low half plus its high half, so that code 64 KiB
// apart (a kernel's text is megabytes) does not fight over one slot;
// translated code computes it flag-free with RORX (BMI2) and LEA. Without
// BMI2, the low half alone.
inline const bool kJumpCacheMixes = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("bmi2") != 0;
}();
inline unsigned jump_cache_index(uint32_t eip) {
  return (kJumpCacheMixes ? eip + ((eip >> 16) | (eip << 16)) : eip) & (kJumpCacheSize - 1);
}

constexpr int32_t kJumpCacheOffset = 4096;
// The jump cache of blocks translated at `cpl` (0-2 share one).
constexpr int32_t jump_cache_offset(unsigned cpl) {
  return kJumpCacheOffset + (cpl == 3 ? int32_t(kJumpCacheSize * sizeof(JumpCacheEntry)) : 0);
}
static_assert(sizeof(CpuState) <= 4096);
// Gate page, CpuState page, both jump caches.
constexpr size_t kVcpuAreaBytes = 2 * 4096 + 2 * kJumpCacheSize * sizeof(JumpCacheEntry);

}  // namespace tv::bt
