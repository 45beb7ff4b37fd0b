#include "bt/exec/vcpu_area.h"

#include <sys/mman.h>

#include <new>

#include "base/error.h"

namespace tv::bt {

VcpuArea::VcpuArea() {
  // SAFETY: our own anonymous mapping; CpuState is constructed in place
  // at a page boundary and destroyed before the unmap.
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw Error(errno_message("mmap vCPU area"));
  base_ = static_cast<uint8_t*>(p);
  cpu_ = new (base_ + 4096) CpuState();
  open_gate();
}

VcpuArea::~VcpuArea() {
  cpu_->~CpuState();
  munmap(base_, kBytes);
}

// SAFETY (both): changes the protection of the gate page we own; mprotect
// is async-signal-safe, so the kick signal handler may call close_gate().
void VcpuArea::close_gate() { mprotect(base_, 4096, PROT_NONE); }
void VcpuArea::open_gate() { mprotect(base_, 4096, PROT_READ); }

}  // namespace tv::bt
