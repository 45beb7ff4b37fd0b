// Event delivery through the guest IDT (SDM Vol. 3A 6.12 "Exception and
// interrupt handling", Vol. 2 INT n pseudocode) and the double-fault rules
// (Vol. 3A 6.15 "Interrupt 8", Table 6-5). Task gates switch tasks
// (task_switch.cc).
//
// One delivery attempt reads and checks the gate and the handler's code
// segment, builds the frame on a Stack copy and commits only at the end, so
// a fault during delivery leaves the CPU at the original boundary and the
// next event can be delivered from there; only a task gate's new task,
// once its TSS is loaded, takes faults in its own context.
#include "bt/x86/exceptions.h"

#include <cstdio>
#include <optional>

#include "bt/x86/segments.h"
#include "bt/x86/task_switch.h"

namespace tv::bt {
namespace {

bool is_software(EventKind k) {
  return k == EventKind::kSoftwareInt || k == EventKind::kInt3 || k == EventKind::kInto;
}

// EXT (error code bit 0): set when the fault arose while delivering an
// event not caused by the program itself (SDM Vol. 3A 6.13).
uint32_t ext_bit(const Event& e) { return is_software(e.kind) ? 0 : 1; }

// Error code naming an IDT entry: index, IDT bit (1), EXT.
uint32_t idt_error(uint8_t vector, uint32_t ext) { return vector * 8u + 2 + ext; }

// SDM Vol. 2 INT n: limit, gate type, software-int DPL, presence, in order.
Descriptor read_gate(const CpuState& cpu, LinearMemory& mem, const Event& ev, uint32_t ext) {
  const uint32_t err = idt_error(ev.vector, ext);
  if (ev.vector * 8u + 7 > cpu.idtr.limit) throw fault(kGP, err);
  Descriptor g;
  g.addr = cpu.idtr.base + ev.vector * 8u;
  LinearMemory::PrivilegeScope system(mem, 0);  // the IDT: supervisor accesses
  g.lo = mem.read<uint32_t>(g.addr);
  g.hi = mem.read<uint32_t>(g.addr + 4);
  const uint8_t t = g.type();
  const bool gate =
      t == kTaskGate || t == kIntGate16 || t == kTrapGate16 || t == kIntGate32 || t == kTrapGate32;
  if (!g.system() || !gate) throw fault(kGP, err);
  if (is_software(ev.kind) && g.dpl() < cpu.cpl) throw fault(kGP, err);
  if (!g.present()) throw fault(kNP, err);
  return g;
}

// The handler's code segment: code, not less privileged than CPL, present.
Descriptor handler_code(const CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t ext) {
  if (is_null(selector)) throw fault(kGP, ext);
  Descriptor d = read_descriptor(cpu, mem, selector, kGP, ext);
  const uint32_t err = selector_error(selector) | ext;
  if (!d.code() || d.dpl() > cpu.cpl) throw fault(kGP, err);
  if (!d.present()) throw fault(kNP, err);
  return d;
}

void deliver_once(CpuState& cpu, LinearMemory& mem, const Event& ev) {
  const uint32_t ext = ext_bit(ev);
  const Descriptor gate = read_gate(cpu, mem, ev, ext);
  if (gate.type() == kTaskGate) {
    std::optional<uint32_t> error_code;
    if (ev.has_error_code) error_code = ev.error_code;
    return task_gate_event(cpu, mem, gate, ext, error_code);
  }
  const unsigned size = gate.gate32() ? 4 : 2;
  const uint16_t cs = gate.gate_selector();
  Descriptor code = handler_code(cpu, mem, cs, ext);
  const uint32_t eip = gate.gate32() ? gate.gate_offset() : gate.gate_offset() & 0xFFFF;
  if (eip > code.limit()) throw fault(kGP, ext);

  // Inter-privilege: the TSS stack for the handler's DPL, with the old
  // SS:ESP pushed first (SDM Vol. 3A 6.12.1, Figure 6-4).
  const uint32_t eflags = guest_eflags(cpu);
  const bool inner = !code.conforming() && code.dpl() < cpu.cpl;
  const uint8_t cpl = inner ? code.dpl() : cpu.cpl;
  Stack s = inner ? inner_stack(cpu, mem, cpl, ext) : Stack::current(cpu);
  if (inner) {
    s.push(mem, cpu.seg[kSs].selector, size);
    s.push(mem, cpu.gpr[kEsp], size);
  } else {
    s.fault_error = ext;
  }
  s.push(mem, eflags, size);
  s.push(mem, cpu.seg[kCs].selector, size);
  s.push(mem, cpu.eip, size);
  if (ev.has_error_code) s.push(mem, ev.error_code, size);

  s.commit(cpu);
  load_cs(cpu, mem, cs, code, cpl);
  cpu.eip = eip;
  // Interrupt gates also clear IF; trap gates leave it (SDM Vol. 3A 6.12.1.3).
  uint32_t cleared = kFlagTf | kFlagNt | kFlagRf | kFlagVm;
  if ((gate.type() & 7) == kIntGate16) cleared |= kFlagIf;
  set_guest_eflags(cpu, eflags & ~cleared);
  cpu.halted = 0;
}

enum class Class { kBenign, kContributory, kPageFault };

Class classify(const Event& e) {
  if (e.kind != EventKind::kException) return Class::kBenign;
  if (is_contributory(e.vector)) return Class::kContributory;
  // #PF and #VE form the page-fault class.
  return (e.vector == kPF || e.vector == 20) ? Class::kPageFault : Class::kBenign;
}

// What to deliver after `fault` was raised while delivering `first`
// (SDM Vol. 3A Table 6-5); nullopt means shutdown (triple fault).
std::optional<Event> next_event(const Event& first, const GuestFault& f) {
  if (first.kind == EventKind::kException && first.vector == kDF) return std::nullopt;
  const Event second = exception_event(f);
  const Class a = classify(first), b = classify(second);
  const bool df = (a == Class::kContributory && b == Class::kContributory) ||
                  (a == Class::kPageFault && b != Class::kBenign);
  if (df) return Event{kDF, EventKind::kException, true, 0};
  return second;
}

}  // namespace

DeliveryResult deliver_event(CpuState& cpu, LinearMemory& mem, const Event& event) {
  Event current = event;
  // Each step either escalates towards #DF or replaces a benign event; the
  // bound only guards against a loop of benign faults.
  for (int attempt = 0; attempt < 8; ++attempt) {
    try {
      deliver_once(cpu, mem, current);
      return DeliveryResult::kDelivered;
    } catch (const GuestFault& f) {
      auto next = next_event(current, f);
      if (!next) return DeliveryResult::kTripleFault;
      // A fault delivering INT n is a fault of the INT instruction itself;
      // one in the new task of a task gate is delivered in that task.
      if (!f.committed) cpu.eip -= current.insn_len;
      current = *next;
    }
  }
  return DeliveryResult::kTripleFault;
}

bool pushes_error_code(uint8_t vector) {
  // #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP (21), #VC (29), #SX (30).
  constexpr uint32_t kMask = 1u << kDF | 1u << kTS | 1u << kNP | 1u << kSS | 1u << kGP | 1u << kPF |
                             1u << kAC | 1u << 21 | 1u << 29 | 1u << 30;
  return vector < 32 && (kMask & (1u << vector));
}

bool is_contributory(uint8_t vector) {
  // #DE, coprocessor segment overrun (9), #TS, #NP, #SS, #GP, #CP (21).
  constexpr uint32_t kMask =
      1u << kDE | 1u << 9 | 1u << kTS | 1u << kNP | 1u << kSS | 1u << kGP | 1u << 21;
  return vector < 32 && (kMask & (1u << vector));
}

bool is_trap_vector(uint8_t vector) { return vector == kBP || vector == kOF; }

std::string describe(const Event& e) {
  static const char* const kNames[32] = {"DE", "DB",  "NMI", "BP", "OF", "BR", "UD", "NM",
                                         "DF", "CSO", "TS",  "NP", "SS", "GP", "PF", "15",
                                         "MF", "AC",  "MC",  "XM", "VE", "CP", "22", "23",
                                         "24", "25",  "26",  "27", "HV", "VC", "SX", "31"};
  char buf[64];
  switch (e.kind) {
    case EventKind::kException:
      if (e.vector >= 32) {
        std::snprintf(buf, sizeof buf, "exception vector 0x%02x", e.vector);
      } else if (e.has_error_code) {
        std::snprintf(buf, sizeof buf, "#%s(0x%04x)", kNames[e.vector], e.error_code);
      } else {
        std::snprintf(buf, sizeof buf, "#%s", kNames[e.vector]);
      }
      return buf;
    case EventKind::kExternal:
      std::snprintf(buf, sizeof buf, "irq vector 0x%02x", e.vector);
      return buf;
    case EventKind::kInt3: return "int3";
    case EventKind::kInto: return "into";
    case EventKind::kIcebp: return "icebp";
    case EventKind::kSoftwareInt: break;
  }
  std::snprintf(buf, sizeof buf, "int 0x%02x", e.vector);
  return buf;
}

}  // namespace tv::bt
