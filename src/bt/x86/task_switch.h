// Hardware task switches (SDM Vol. 3A chapter 7, "Task Management"): far
// JMP/CALL to a TSS descriptor or a task gate, IRET with EFLAGS.NT (back
// to the task in the back link), and events through a task gate in the IDT.
//
// A switch reads and probes everything it touches up to the commit point
// (TR loaded with the new TSS) before it writes anything, so a fault up to
// there leaves the old task's registers as they were. Faults while loading
// and checking the new task's LDTR and segments, pushing an error code or
// checking EIP are raised in the new task (GuestFault::committed), as the
// SDM's step 13 says; the registers then hold what was loaded so far.
#pragma once

#include <cstdint>
#include <optional>

#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"
#include "bt/x86/segments.h"

namespace tv::bt {

// What started the switch: it decides the busy bits, NT and the back link
// (SDM Vol. 3A 7.4, Table 7-2). kEvent is an exception, an interrupt, NMI
// or INT n through a task gate.
enum class TaskSource { kJump, kCall, kIret, kEvent };

struct TaskSwitch {
  TaskSource source;
  uint32_t saved_eip;                  // the EIP stored in the old TSS
  uint32_t ext = 0;                    // EXT for error codes (events the program did not cause)
  std::optional<uint32_t> error_code;  // pushed on the new task's stack (exceptions with one)
};

// The smallest TSS limits a switch accepts (SDM Vol. 3A 7.2.1, 7.6).
constexpr uint32_t kTss32MinLimit = 0x67, kTss16MinLimit = 0x2B;

// True for the four TSS descriptor types (16/32-bit, available/busy).
bool is_tss_descriptor(const Descriptor& d);

// The TSS descriptor a task gate or a back link names: a GDT selector of a
// present TSS, available or busy as `busy` says; else `vector`(selector |
// ext), or #NP if it is not present (SDM Vol. 3A Table 7-1).
Descriptor task_descriptor(const CpuState& cpu, LinearMemory& mem, uint16_t selector, bool busy,
                           uint8_t vector, uint32_t ext);

// Switches to the task whose TSS descriptor `tss` (at GDT `selector`) the
// caller has found and checked (type, privilege, presence): SDM Vol. 3A
// 7.3 steps 3-14.
void switch_task(CpuState& cpu, LinearMemory& mem, uint16_t selector, const Descriptor& tss,
                 const TaskSwitch& how);

// JMP or CALL to `selector`, whose descriptor `d` is a TSS or a task gate
// (SDM Vol. 2 JMP/CALL, "TASK-GATE" and "TASK-STATE-SEGMENT").
void far_task_transfer(CpuState& cpu, LinearMemory& mem, uint16_t selector, const Descriptor& d,
                       TaskSource source, uint32_t return_eip);

// IRET with NT set: back to the task in the current TSS's back link (SDM
// Vol. 2 IRET, "TASK-RETURN").
void task_return(CpuState& cpu, LinearMemory& mem);

// An event whose IDT entry `gate` is a task gate (present, and DPL-checked
// for software interrupts): SDM Vol. 2 INT n, "TASK-GATE". cpu.eip is the
// EIP the old task resumes at.
void task_gate_event(CpuState& cpu, LinearMemory& mem, const Descriptor& gate, uint32_t ext,
                     std::optional<uint32_t> error_code);

}  // namespace tv::bt
