#include "shadow_mmu/shadow_window.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>

#include "base/error.h"

namespace tv::mmu {

ShadowWindow::ShadowWindow(GuestMemory& ram) : ram_(ram) {
  // SAFETY: a reservation only (PROT_NONE, no backing); pages become
  // accessible solely through MAP_FIXED mappings of the guest-RAM memfd
  // made inside this range by this class. The window is 4 GiB-aligned and
  // has PROT_NONE guards on both sides (a backwards string instruction can
  // run below guest address 0); the rest of the over-reservation is freed.
  const uint64_t bytes = kGuard + kSpan + kGuard;
  const uint64_t over = bytes + kSpan;
  void* p = mmap(nullptr, over, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error(errno_message("reserve 4 GiB shadow window"));
  auto start = reinterpret_cast<uint64_t>(p);
  uint64_t window = (start + kGuard + kSpan - 1) & ~(kSpan - 1);
  uint64_t first = window - kGuard, last = window + kSpan + kGuard;
  if (first > start) munmap(p, first - start);
  if (start + over > last) munmap(reinterpret_cast<void*>(last), start + over - last);
  base_ = reinterpret_cast<uint8_t*>(window);
}

ShadowWindow::~ShadowWindow() { munmap(base_ - kGuard, kGuard + kSpan + kGuard); }

void ShadowWindow::map_identity() {
  // SAFETY: replaces part of our own reservation with a shared mapping of
  // guest RAM; the range [base, base + ram size) lies inside the window.
  void* p = mmap(base_, ram_.size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_.fd(), 0);
  if (p == MAP_FAILED) throw Error(errno_message("map guest RAM into the shadow window"));
}

void ShadowWindow::set_frame_writable(uint64_t frame_addr, bool writable) {
  if (frame_addr >= ram_.size()) return;
  // SAFETY: changes protection of one page of a RAM mapping we own.
  if (mprotect(base_ + frame_addr, 4096, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
    throw Error(errno_message(fmt::format("mprotect shadow frame {:#x}", frame_addr)));
}

bool ShadowWindow::map_page(uint32_t linear, uint64_t phys, bool writable) {
  // SAFETY: replaces one page of our reservation with a shared mapping of
  // one guest-RAM frame (phys < RAM size, checked by the caller).
  // MAP_POPULATE fills the host PTE now: the access that follows would
  // otherwise take a host fault of its own.
  void* p = mmap(base_ + (linear & ~0xFFFu), 4096, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                 MAP_SHARED | MAP_FIXED | MAP_POPULATE, ram_.fd(), off_t(phys & ~0xFFFull));
  if (p != MAP_FAILED) return true;
  if (errno == ENOMEM) return false;
  throw Error(errno_message(fmt::format("map guest frame {:#x} at {:#x}", phys, linear)));
}

bool ShadowWindow::map_foreign_page(uint32_t linear, int fd) {
  // SAFETY: replaces one page of our reservation with a read-only shared
  // mapping of a one-page file we own.
  void* p = mmap(base_ + (linear & ~0xFFFu), 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  if (p != MAP_FAILED) return true;
  if (errno == ENOMEM) return false;
  throw Error(errno_message("map the open-bus page"));
}

bool ShadowWindow::protect_page(uint32_t linear, bool writable) {
  // SAFETY: changes protection of one page of our own window.
  if (mprotect(base_ + (linear & ~0xFFFu), 4096, writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0) return true;
  return errno != ENOMEM ? throw Error(errno_message("mprotect shadow page")) : false;
}

void ShadowWindow::unmap_page(uint32_t linear) {
  // SAFETY: returns one page of our window to the PROT_NONE reservation.
  mmap(base_ + (linear & ~0xFFFu), 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

void ShadowWindow::unmap_range(uint32_t linear, uint32_t bytes) {
  // SAFETY: returns a page-aligned range of our window to PROT_NONE.
  mmap(base_ + linear, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

void ShadowWindow::unmap_all() {
  // SAFETY: returns the whole window (not the guards) to PROT_NONE.
  mmap(base_, kSpan, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

}  // namespace tv::mmu
