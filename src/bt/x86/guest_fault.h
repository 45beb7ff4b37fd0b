// A guest-visible exception raised by C++ (helpers, descriptor loads,
// memory accesses through LinearMemory): the callout entry catches it and
// delivers it through the guest IDT at the faulting instruction.
#pragma once

#include <cstdint>

#include "arch/x86.h"

namespace tv::bt {

using namespace tv::x86;

// Thrown by helpers for a guest-visible exception; the callout wrapper
// catches it and delivers the event through the guest IDT.
struct GuestFault {
  uint8_t vector;
  bool has_error_code = false;
  uint32_t error_code = 0;
  // Raised after the instruction or event committed a new state (a task
  // switch's new task, SDM Vol. 3A 7.3 step 13): it is delivered with
  // cpu.eip as it stands, not at the instruction that started it.
  bool committed = false;
};

inline GuestFault fault(uint8_t vector) { return {vector, false, 0}; }
inline GuestFault fault(uint8_t vector, uint32_t error) { return {vector, true, error}; }

}  // namespace tv::bt
