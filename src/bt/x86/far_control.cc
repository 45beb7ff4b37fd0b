// Far control transfers in protected mode: JMP far, CALL far, RET far and
// IRET (SDM Vol. 2 instruction pages; Vol. 3A 5.8 "Privilege level checking
// when transferring program control between code segments").
//
// Each transfer reads and checks everything, builds the new stack on a
// Stack copy, and only then commits CS, EIP, SS:ESP, CPL and EFLAGS, so a
// fault leaves the registers as they were before the instruction.
// Task gates, TSS targets and task returns (IRET with NT) go to
// task_switch.cc; returns to virtual-8086 mode are unimplemented (#GP).
#include "bt/x86/segments.h"
#include "bt/x86/task_switch.h"

namespace tv::bt {
namespace {

void check_eip(const Descriptor& code, uint32_t eip) {
  if (eip > code.limit()) throw fault(kGP, 0);
}

// JMP/CALL straight to a code segment: conforming needs DPL <= CPL,
// non-conforming needs RPL <= CPL and DPL == CPL; CPL never changes.
void check_direct_code(const CpuState& cpu, uint16_t selector, const Descriptor& d) {
  const bool ok =
      d.conforming() ? d.dpl() <= cpu.cpl : rpl(selector) <= cpu.cpl && d.dpl() == cpu.cpl;
  if (!ok) throw fault(kGP, selector_error(selector));
  if (!d.present()) throw fault(kNP, selector_error(selector));
}

// JMP and CALL to a TSS or a task gate switch tasks (SDM Vol. 3A 7.3).
bool task_target(const Descriptor& d) {
  return d.system() && (d.type() == kTaskGate || is_tss_descriptor(d));
}

struct GateTarget {
  uint16_t selector;
  Descriptor code;
  uint32_t eip;
  unsigned size;  // 4 for a 32-bit gate, 2 for a 16-bit one
};

// Call gate checks (SDM Vol. 3A 5.8.4, Vol. 2 JMP/CALL "CALL-GATE").
GateTarget through_call_gate(const CpuState& cpu, LinearMemory& mem, uint16_t selector,
                             const Descriptor& gate, bool jump) {
  if (gate.dpl() < cpu.cpl || rpl(selector) > gate.dpl())
    throw fault(kGP, selector_error(selector));
  if (!gate.present()) throw fault(kNP, selector_error(selector));
  GateTarget t{gate.gate_selector(), {}, gate.gate_offset(), gate.gate32() ? 4u : 2u};
  if (!gate.gate32()) t.eip &= 0xFFFF;
  if (is_null(t.selector)) throw fault(kGP, 0);
  t.code = read_descriptor(cpu, mem, t.selector);
  // JMP cannot change privilege: a non-conforming target must be at CPL.
  const bool inner_jump = jump && !t.code.conforming() && t.code.dpl() != cpu.cpl;
  if (!t.code.code() || t.code.dpl() > cpu.cpl || inner_jump)
    throw fault(kGP, selector_error(t.selector));
  if (!t.code.present()) throw fault(kNP, selector_error(t.selector));
  check_eip(t.code, t.eip);
  return t;
}

// CALL through a gate to a more privileged non-conforming segment: switch
// to the TSS stack for its DPL and copy the gate's parameter count of
// words/dwords across (SDM Vol. 3A 5.8.5, Figure 5-13).
void call_inner(CpuState& cpu, LinearMemory& mem, GateTarget& t, uint8_t params,
                uint32_t return_eip) {
  const uint8_t dpl = t.code.dpl();
  const Stack outer = Stack::current(cpu);
  Stack inner = inner_stack(cpu, mem, dpl, 0);
  inner.push(mem, outer.ss.selector, t.size);
  inner.push(mem, outer.esp, t.size);
  for (unsigned i = params; i-- > 0;) inner.push(mem, outer.peek(mem, i * t.size, t.size), t.size);
  inner.push(mem, cpu.seg[kCs].selector, t.size);
  inner.push(mem, return_eip, t.size);
  inner.commit(cpu);
  load_cs(cpu, mem, t.selector, t.code, dpl);
  cpu.eip = t.eip;
}

void call_same(CpuState& cpu, LinearMemory& mem, uint16_t selector, Descriptor& code, uint32_t eip,
               unsigned size, uint32_t return_eip) {
  Stack s = Stack::current(cpu);
  s.push(mem, cpu.seg[kCs].selector, size);
  s.push(mem, return_eip, size);
  s.commit(cpu);
  load_cs(cpu, mem, selector, code, cpu.cpl);
  cpu.eip = eip;
}

// The CS a RET/IRET pops: RPL is the privilege returned to, never inner
// (SDM Vol. 2 RET "RETURN-TO-OTHER-PRIVILEGE-LEVEL" checks).
Descriptor return_code_segment(const CpuState& cpu, LinearMemory& mem, uint16_t cs) {
  if (is_null(cs)) throw fault(kGP, 0);
  Descriptor d = read_descriptor(cpu, mem, cs);
  const uint32_t err = selector_error(cs);
  if (!d.code() || rpl(cs) < cpu.cpl) throw fault(kGP, err);
  if (d.conforming() ? d.dpl() > rpl(cs) : d.dpl() != rpl(cs)) throw fault(kGP, err);
  if (!d.present()) throw fault(kNP, err);
  return d;
}

// The SS popped on a return to an outer level: writable data at that level.
Stack return_stack(const CpuState& cpu, LinearMemory& mem, uint16_t ss, uint32_t esp, uint8_t cpl) {
  if (is_null(ss)) throw fault(kGP, 0);
  Descriptor d = read_descriptor(cpu, mem, ss);
  const uint32_t err = selector_error(ss);
  if (rpl(ss) != cpl || !d.writable() || d.dpl() != cpl) throw fault(kGP, err);
  if (!d.present()) throw fault(kSS, err);
  mark_accessed(mem, d);
  return Stack{make_segment(ss, d), esp, 0};
}

// EFLAGS after IRET (SDM Vol. 2 IRET "RETURN-TO-SAME-PRIVILEGE-LEVEL"):
// IF only when CPL <= IOPL, IOPL/VIF/VIP only at CPL 0, and a 16-bit IRET
// leaves the upper half alone. Uses the CPL before the return.
uint32_t iret_eflags(const CpuState& cpu, uint32_t popped, bool op32) {
  const uint32_t current = guest_eflags(cpu);
  uint32_t mask =
      kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagTf | kFlagDf | kFlagOf | kFlagNt;
  if (op32) mask |= kFlagRf | kFlagAc | kFlagId;
  if (cpu.cpl <= ((current & kFlagIopl) >> 12)) mask |= kFlagIf;
  if (cpu.cpl == 0) mask |= kFlagIopl | (op32 ? kFlagVif | kFlagVip : 0);
  return (current & ~mask) | (popped & mask) | 0x2;
}

}  // namespace

void far_jump(CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t offset) {
  if (is_null(selector)) throw fault(kGP, 0);
  Descriptor d = read_descriptor(cpu, mem, selector);
  if (d.code()) {
    check_direct_code(cpu, selector, d);
    check_eip(d, offset);
    load_cs(cpu, mem, selector, d, cpu.cpl);
    cpu.eip = offset;
  } else if (d.call_gate()) {
    GateTarget t = through_call_gate(cpu, mem, selector, d, true);
    load_cs(cpu, mem, t.selector, t.code, cpu.cpl);
    cpu.eip = t.eip;
  } else if (task_target(d)) {
    far_task_transfer(cpu, mem, selector, d, TaskSource::kJump, cpu.eip);
  } else {
    throw fault(kGP, selector_error(selector));
  }
}

void far_call(CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t offset, bool op32,
              uint32_t return_eip) {
  if (is_null(selector)) throw fault(kGP, 0);
  Descriptor d = read_descriptor(cpu, mem, selector);
  if (d.code()) {
    check_direct_code(cpu, selector, d);
    check_eip(d, offset);
    call_same(cpu, mem, selector, d, offset, op32 ? 4 : 2, return_eip);
  } else if (d.call_gate()) {
    // The gate's size, not the operand size, sets the frame size.
    GateTarget t = through_call_gate(cpu, mem, selector, d, false);
    if (!t.code.conforming() && t.code.dpl() < cpu.cpl) {
      call_inner(cpu, mem, t, d.gate_params(), return_eip);
    } else {
      call_same(cpu, mem, t.selector, t.code, t.eip, t.size, return_eip);
    }
  } else if (task_target(d)) {
    far_task_transfer(cpu, mem, selector, d, TaskSource::kCall, return_eip);
  } else {
    throw fault(kGP, selector_error(selector));
  }
}

void far_return(CpuState& cpu, LinearMemory& mem, uint16_t pop_bytes, bool op32) {
  const unsigned size = op32 ? 4 : 2;
  Stack s = Stack::current(cpu);
  const uint32_t eip = s.pop(mem, size);
  const uint16_t cs = uint16_t(s.pop(mem, size));
  Descriptor code = return_code_segment(cpu, mem, cs);
  check_eip(code, eip);
  s.release(pop_bytes);
  const uint8_t cpl = rpl(cs);
  if (cpl != cpu.cpl) {
    // Outer level: its SS:ESP sits above the released parameters, and RET
    // imm16 releases the same amount from the outer stack too.
    const uint32_t esp = s.pop(mem, size);
    const uint16_t ss = uint16_t(s.pop(mem, size));
    s = return_stack(cpu, mem, ss, esp, cpl);
    s.release(pop_bytes);
  }
  const bool outer = cpl != cpu.cpl;
  s.commit(cpu);
  load_cs(cpu, mem, cs, code, cpl);
  cpu.eip = eip;
  if (outer) null_outer_data_segments(cpu);
}

void iret(CpuState& cpu, LinearMemory& mem, bool op32) {
  // NT: return to the previous task through the TSS back link.
  if (guest_eflags(cpu) & kFlagNt) return task_return(cpu, mem);
  const unsigned size = op32 ? 4 : 2;
  Stack s = Stack::current(cpu);
  const uint32_t eip = s.pop(mem, size);
  const uint16_t cs = uint16_t(s.pop(mem, size));
  const uint32_t popped = s.pop(mem, size);
  if (op32 && (popped & kFlagVm) && cpu.cpl == 0)
    unimplemented("iret to virtual-8086 mode", fault(kGP, 0));
  Descriptor code = return_code_segment(cpu, mem, cs);
  check_eip(code, eip);
  const uint32_t eflags = iret_eflags(cpu, popped, op32);
  const uint8_t cpl = rpl(cs);
  if (cpl != cpu.cpl) {
    const uint32_t esp = s.pop(mem, size);
    const uint16_t ss = uint16_t(s.pop(mem, size));
    s = return_stack(cpu, mem, ss, esp, cpl);
  }
  const bool outer = cpl != cpu.cpl;
  s.commit(cpu);
  load_cs(cpu, mem, cs, code, cpl);
  cpu.eip = eip;
  set_guest_eflags(cpu, eflags);
  if (outer) null_outer_data_segments(cpu);
}

}  // namespace tv::bt
