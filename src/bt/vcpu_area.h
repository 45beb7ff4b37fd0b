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

#include <cstdint>

#include "bt/code_cache.h"
#include "bt/cpu_state.h"

namespace tv::bt {

constexpr int32_t kJumpCacheOffset = 4096;
// The jump cache of blocks translated at `cpl` (0-2 share one).
constexpr int32_t jump_cache_offset(unsigned cpl) {
  return kJumpCacheOffset + (cpl == 3 ? int32_t(kJumpCacheSize * sizeof(JumpCacheEntry)) : 0);
}
static_assert(sizeof(CpuState) <= 4096);

class VcpuArea {
 public:
  VcpuArea();
  ~VcpuArea();
  VcpuArea(const VcpuArea&) = delete;
  VcpuArea& operator=(const VcpuArea&) = delete;

  CpuState& cpu() { return *cpu_; }
  const CpuState& cpu() const { return *cpu_; }
  JumpCacheEntry* jump_cache(unsigned cpl) {
    return reinterpret_cast<JumpCacheEntry*>(base_ + 4096 + jump_cache_offset(cpl));
  }
  uint8_t* gate() const { return base_; }
  bool is_gate(const void* addr) const {
    auto p = static_cast<const uint8_t*>(addr);
    return p >= base_ && p < base_ + 4096;
  }
  // Async-signal-safe.
  void close_gate();
  void open_gate();

 private:
  static constexpr size_t kBytes = 2 * 4096 + 2 * kJumpCacheSize * sizeof(JumpCacheEntry);
  uint8_t* base_ = nullptr;
  CpuState* cpu_ = nullptr;
};

}  // namespace tv::bt
