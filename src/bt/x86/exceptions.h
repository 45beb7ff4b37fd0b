// Delivery of exceptions and interrupts through the guest IDT in protected
// mode (SDM Vol. 3A 6.10-6.15; Vol. 2 "INT n/INTO/INT3/INT1"), including the
// double-fault escalation rules and triple fault.
#pragma once

#include <cstdint>
#include <string>

#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

// What raised the event. Software interrupts (INT n, INT3, INTO) are checked
// against the gate DPL and do not set EXT in error codes; ICEBP (INT1) and
// external interrupts are not checked and set EXT, like exceptions.
enum class EventKind { kException, kSoftwareInt, kExternal, kInt3, kInto, kIcebp };

struct Event {
  uint8_t vector;
  EventKind kind;
  bool has_error_code = false;
  uint32_t error_code = 0;
  // For INT n/INT3/INTO/ICEBP: the instruction length, so that a fault
  // raised while delivering it reports the instruction itself (cpu.eip
  // then points past it). Zero for everything else.
  uint8_t insn_len = 0;
};

enum class DeliveryResult { kDelivered, kTripleFault };

// Delivers `event` with cpu.eip as the return address: the faulting
// instruction for faults, the next one for traps and software interrupts
// (the caller decides). Faults raised during delivery are delivered in turn
// or escalate to #DF (SDM Vol. 3A Table 6-5); a fault while delivering #DF
// returns kTripleFault without delivering anything (the machine shuts down).
// Delivery also ends HLT (cpu.halted = 0).
DeliveryResult deliver_event(CpuState& cpu, LinearMemory& mem, const Event& event);

// The event for a GuestFault thrown by a helper.
inline Event exception_event(const GuestFault& f) {
  return Event{f.vector, EventKind::kException, f.has_error_code, f.error_code};
}

// Exceptions that push an error code (SDM Vol. 3A Table 6-1).
bool pushes_error_code(uint8_t vector);
// Contributory exceptions (SDM Vol. 3A Table 6-4): #DE, #TS, #NP, #SS, #GP, ...
bool is_contributory(uint8_t vector);
// Vectors whose exception is a trap: the saved EIP is the next instruction.
// #DB is a fault or a trap depending on its cause; the caller knows which.
bool is_trap_vector(uint8_t vector);

// "#GP(0x0010)", "int 0x80", "irq 0x20" ... for logs.
std::string describe(const Event& event);

}  // namespace tv::bt
