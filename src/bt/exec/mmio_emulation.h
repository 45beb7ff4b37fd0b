// Emulation of a translated instruction that touched guest-physical memory
// outside RAM (device memory or an unclaimed hole): the host instruction
// that faulted is decoded and its access goes to the MMIO bus, where an
// unclaimed address reads as all-ones and drops writes (an open PC bus).
// Covers the moves compilers use for device and hole accesses; anything
// else is single-stepped (device_step.h).
#pragma once

#include <ucontext.h>

#include <cstdint>

#include "base/address.h"
#include "devices/bus.h"

namespace tv::bt {

// Performs the access of the host instruction at the signal frame's RIP
// against `bus` at guest-physical `phys` and advances RIP past it. Returns
// false if the instruction is not one it knows. Runs in the fault handler:
// allocates nothing, throws nothing (the caller defers the bus's logging).
bool emulate_device_access(ucontext_t* uc, dev::Bus& bus, GuestPhys phys);

}  // namespace tv::bt
