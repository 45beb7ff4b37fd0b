#include "shadow_mmu/shadow_window.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include "vmm/error.h"

namespace tv::mmu {

ShadowWindow::ShadowWindow(GuestMemory& ram) : ram_(ram) {
  // SAFETY: a reservation only (PROT_NONE, no backing); pages become
  // accessible solely through MAP_FIXED mappings of the guest-RAM memfd
  // made inside this range by this class.
  void* p = mmap(nullptr, kSpan + kGuard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error(errno_message("reserve 4 GiB shadow window"));
  base_ = static_cast<uint8_t*>(p);
}

ShadowWindow::~ShadowWindow() { munmap(base_, kSpan + kGuard); }

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

}  // namespace tv::mmu
