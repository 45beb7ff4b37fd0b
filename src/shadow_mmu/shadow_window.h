// A shadow address space: 4 GiB of reserved host address space (plus a
// guard area past its end) that translated code reaches through the GS base
// with 32-bit addressing, so the host MMU checks every guest access.
//
// With paging off the window is an identity view of guest-physical memory:
// RAM is mapped from the guest-RAM memfd at its physical address, and
// everything else (MMIO, holes) stays PROT_NONE, so an access there faults
// and is emulated. Frames holding translated code are mapped read-only so a
// guest write to them faults and invalidates their translations.
//
// The fault handler maps pages from signal context, so nothing here but the
// constructor throws or allocates: every mmap/mprotect reports its failure
// as a HostStatus, and the caller decides (flush and retry on the host's
// mapping limit; a clean fatal exit, or tv::Error outside signal context,
// for anything else).
#pragma once

#include <cerrno>
#include <cstdint>

#include "base/address.h"
#include "base/guest_memory.h"

namespace tv::mmu {

// What one host mmap/mprotect on a window did.
struct [[nodiscard]] HostStatus {
  int error = 0;               // errno of the failed call; 0 = done
  const char* what = nullptr;  // which call failed (a string literal)
  bool ok() const { return error == 0; }
  // vm.max_map_count reached: the shadow MMU flushes and retries.
  bool out_of_mappings() const { return error == ENOMEM; }
};

// Outside signal context: throws tv::Error("<what>: <strerror>") for a failure.
void throw_if_failed(HostStatus status);

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
  uint64_t offset_of(const void* host) const {
    return uint64_t(static_cast<const uint8_t*>(host) - base_);
  }

  // Maps all of guest RAM at its physical address (the paging-off view).
  HostStatus map_identity();
  // Identity view: write-protects (or re-enables writes to) one frame.
  HostStatus set_frame_writable(GuestPhys frame, bool writable);

  // Paged views: one page at page-aligned `page`. Async-signal-safe.
  HostStatus map_page(GuestLinear page, GuestPhys frame, bool writable);
  // Maps one page of another file (the open-bus page, read-only; the
  // single-step scratch page, writable).
  HostStatus map_foreign_page(GuestLinear page, int fd, bool writable = false);
  HostStatus protect_page(GuestLinear page, bool writable);
  HostStatus unmap_page(GuestLinear page);
  HostStatus unmap_range(GuestLinear first, uint32_t bytes);
  // Drops every mapping: one mmap over the whole span.
  HostStatus unmap_all();

 private:
  GuestMemory& ram_;
  uint8_t* base_ = nullptr;
};

}  // namespace tv::mmu
