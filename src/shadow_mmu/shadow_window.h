// A shadow address space: 4 GiB of reserved host address space (plus a
// guard area past its end) that translated code reaches through the GS base
// with 32-bit addressing, so the host MMU checks every guest access.
//
// With paging off the window is an identity view of guest-physical memory:
// RAM is mapped from the guest-RAM memfd at its physical address, and
// everything else (MMIO, holes) stays PROT_NONE, so an access there faults
// and is emulated. Frames holding translated code are mapped read-only so a
// guest write to them faults and invalidates their translations.
#pragma once

#include <cstdint>

#include "base/guest_memory.h"

namespace tv::mmu {

// The window starts on a 4 GiB boundary, so the low 32 bits of a host
// pointer into it are the guest address: translated string instructions
// run on 64-bit host pointers (window base + ESI/EDI) and get the guest
// registers back with a 32-bit move, and a fault in the middle of one
// leaves precise guest ESI/EDI in the low halves.
class ShadowWindow {
 public:
  // 4 GiB for the guest's linear space and a guard for accesses that
  // straddle the 4 GiB line (at most 16 bytes wide: an SSE operand).
  static constexpr uint64_t kSpan = 1ull << 32;
  static constexpr uint64_t kGuard = 1ull << 16;

  explicit ShadowWindow(GuestMemory& ram);
  ~ShadowWindow();
  ShadowWindow(const ShadowWindow&) = delete;
  ShadowWindow& operator=(const ShadowWindow&) = delete;

  uint8_t* base() const { return base_; }
  // True for the window and its guards (a guard below it is offset < 0).
  bool contains(const void* host) const {
    auto p = static_cast<const uint8_t*>(host);
    return p >= base_ - kGuard && p < base_ + kSpan + kGuard;
  }
  // Window offset (a guest linear address, possibly past 4 GiB in the guard).
  uint64_t offset_of(const void* host) const { return uint64_t(static_cast<const uint8_t*>(host) - base_); }

  // Maps all of guest RAM at its physical address (the paging-off view).
  void map_identity();
  // Identity view: write-protects (or re-enables writes to) one frame.
  void set_frame_writable(uint64_t frame_addr, bool writable);

  // Paged views. All return false on ENOMEM (the host's vm.max_map_count
  // was reached); the caller flushes and retries. Async-signal-safe.
  bool map_page(uint32_t linear, uint64_t phys, bool writable);
  // Maps one page of another file (the open-bus page) read-only.
  bool map_foreign_page(uint32_t linear, int fd);
  bool protect_page(uint32_t linear, bool writable);
  void unmap_page(uint32_t linear);
  void unmap_range(uint32_t linear, uint32_t bytes);
  // Drops every mapping: one mmap over the whole span.
  void unmap_all();

 private:
  GuestMemory& ram_;
  uint8_t* base_ = nullptr;
};

}  // namespace tv::mmu
