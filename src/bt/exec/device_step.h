// Device accesses that no move covers (an OR into an HPET register, a CMP
// against a device register, a REP STOS over a hole), run by the host CPU
// itself: the faulting page becomes a scratch page filled with what the
// device returns for the bytes the instruction reads (all-ones elsewhere),
// the instruction runs once with the host's trap flag set, and at the
// debug trap after it the bytes it wrote go to the bus and the page is put
// back. Every instruction form, flags included, behaves as on hardware
// with one read and one write of the device, which is what a locked or
// unlocked read-modify-write cycle does; a write to an address nothing
// decodes is dropped (an open PC bus), never the end of the run.
//
// Runs in the fault handler: allocates nothing, throws nothing; the bus's
// logging is deferred around every access (device models behind it keep
// the signal-context rule).
#pragma once

#include <ucontext.h>

#include <cstdint>

#include "base/address.h"
#include "devices/bus.h"
#include "shadow_mmu/shadow_mmu.h"

namespace tv::bt {

// One stepped instruction's access: one per vCPU, at most one at a time.
struct DeviceStep {
  static constexpr unsigned kMaxBytes = 16;  // an SSE operand

  bool active = false;
  mmu::View view{};
  GuestLinear linear{};  // the first byte accessed on the faulting page
  GuestPhys phys{};      // its guest-physical address
  unsigned size = 0;     // bytes accessed there
  bool writes = false;
  bool conditional = false;  // CMPXCHG-style: only a changed value is written
  uint8_t before[kMaxBytes]{};
};

enum class StepStart { kStarted, kNotSteppable, kHostError };

// Starts stepping the host instruction at the signal frame's RIP, whose
// access at `at` (guest-physical `phys`, outside RAM) faulted. kNotSteppable:
// no memory operand the size of a register or less, an access that crosses
// the page, or a step already active (two device pages in one instruction).
StepStart begin_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, dev::Bus& bus,
                            const mmu::WindowAddress& at, GuestPhys phys, ucontext_t* uc,
                            mmu::HostStatus& host);

// At the debug trap after the stepped instruction: its written bytes go to
// the bus, the page and the trap flag are put back.
mmu::HostStatus finish_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, dev::Bus& bus,
                                   ucontext_t* uc);

// The stepped instruction did not complete (it faulted for another
// reason): nothing is written, the page and the trap flag are put back.
mmu::HostStatus cancel_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, ucontext_t* uc);

}  // namespace tv::bt
