#include "shadow_mmu/shadow_window.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>

#include "base/error.h"

namespace tv::mmu {
namespace {

HostStatus status_of(bool ok, const char* what) {
  return ok ? HostStatus{} : HostStatus{errno, what};
}

constexpr int kReserve = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;

}  // namespace

void throw_if_failed(HostStatus status) {
  if (!status.ok()) throw Error(fmt::format("{}: {}", status.what, std::strerror(status.error)));
}

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

HostStatus ShadowWindow::map_identity() {
  // SAFETY: replaces part of our own reservation with a shared mapping of
  // guest RAM; the range [base, base + ram size) lies inside the window.
  void* p = mmap(base_, ram_.size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_.fd(), 0);
  return status_of(p != MAP_FAILED, "map guest RAM into the shadow window");
}

HostStatus ShadowWindow::set_frame_writable(GuestPhys frame, bool writable) {
  if (frame.value >= ram_.size()) return {};
  // SAFETY: changes protection of one page of a RAM mapping we own.
  int rc = mprotect(base_ + page_of(frame).value, kPageSize,
                    writable ? PROT_READ | PROT_WRITE : PROT_READ);
  return status_of(rc == 0, "mprotect a frame of the identity shadow view");
}

HostStatus ShadowWindow::map_page(GuestLinear page, GuestPhys frame, bool writable) {
  // SAFETY: replaces one page of our reservation with a shared mapping of
  // one guest-RAM frame (frame < RAM size, checked by the caller).
  // MAP_POPULATE fills the host PTE now: the access that follows would
  // otherwise take a host fault of its own.
  void* p =
      mmap(base_ + page_of(page).value, kPageSize, writable ? PROT_READ | PROT_WRITE : PROT_READ,
           MAP_SHARED | MAP_FIXED | MAP_POPULATE, ram_.fd(), off_t(page_of(frame).value));
  return status_of(p != MAP_FAILED, "map a guest frame into the shadow window");
}

HostStatus ShadowWindow::map_foreign_page(GuestLinear page, int fd, bool writable) {
  // SAFETY: replaces one page of our reservation with a shared mapping of
  // a one-page file we own.
  void* p = mmap(base_ + page_of(page).value, kPageSize,
                 writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  return status_of(p != MAP_FAILED, "map a VMM page into the shadow window");
}

HostStatus ShadowWindow::protect_page(GuestLinear page, bool writable) {
  // SAFETY: changes protection of one page of our own window.
  int rc = mprotect(base_ + page_of(page).value, kPageSize,
                    writable ? PROT_READ | PROT_WRITE : PROT_READ);
  return status_of(rc == 0, "mprotect a shadow page");
}

HostStatus ShadowWindow::unmap_page(GuestLinear page) {
  // SAFETY: returns one page of our window to the PROT_NONE reservation.
  void* p = mmap(base_ + page_of(page).value, kPageSize, PROT_NONE, kReserve, -1, 0);
  return status_of(p != MAP_FAILED, "unmap a shadow page");
}

HostStatus ShadowWindow::unmap_range(GuestLinear first, uint32_t bytes) {
  // SAFETY: returns a page-aligned range of our window to PROT_NONE.
  void* p = mmap(base_ + first.value, bytes, PROT_NONE, kReserve, -1, 0);
  return status_of(p != MAP_FAILED, "unmap a shadow region");
}

HostStatus ShadowWindow::unmap_all() {
  // SAFETY: returns the whole window (not the guards) to PROT_NONE.
  void* p = mmap(base_, kSpan, PROT_NONE, kReserve, -1, 0);
  return status_of(p != MAP_FAILED, "unmap a shadow window");
}

}  // namespace tv::mmu
