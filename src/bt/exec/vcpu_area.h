// The vCPU area: the mapping translated code reaches through R15 (layout:
// bt/emit/vcpu_layout.h), with the exit gate that a kick closes.
#pragma once

#include <cstdint>

#include "bt/emit/vcpu_layout.h"

namespace tv::bt {

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
  static constexpr size_t kBytes = kVcpuAreaBytes;
  uint8_t* base_ = nullptr;
  CpuState* cpu_ = nullptr;
};

}  // namespace tv::bt
