// Task switches (SDM Vol. 3A 7.3, "Task Switching", its step list and
// Table 7-1; Vol. 2 JMP, CALL, IRET and INT n pseudo-code).
//
// The order: check the new TSS, read it and probe every page the switch
// will write (old TSS, new TSS back link, both descriptors' busy bits);
// then save the old task, update the busy bits and the back link, load TR
// (the commit point) and load and check the new task's state. The 16-bit
// (286) TSS has no CR3, FS or GS: a switch to one keeps CR3, makes FS and
// GS null and keeps the upper halves of the general registers.
#include "bt/x86/task_switch.h"

#include <cstring>

namespace tv::bt {
namespace {

// Descriptor type bit 1, the busy flag, in the descriptor's high dword
// (SDM Vol. 3A 7.2.2).
constexpr uint32_t kBusyBit = 1u << 9;

// Where a TSS keeps each field (SDM Vol. 3A Figure 7-2 for the 32-bit TSS,
// Figure 7-11 for the 16-bit one). Registers are in EAX..EDI order and
// segment selectors in ES, CS, SS, DS, FS, GS order, as Gpr and SegReg.
struct TssLayout {
  uint32_t min_limit;
  unsigned width;  // bytes of EIP, EFLAGS and each general register
  uint32_t eip, eflags, gpr, seg;
  unsigned seg_stride, seg_count;
  uint32_t ldt;

  // The part a switch saves the old task into: EIP to the last selector.
  uint32_t save_end() const { return seg + seg_count * seg_stride; }
};

constexpr TssLayout kLayout32{kTss32MinLimit, 4, 0x20, 0x24, 0x28, 0x48, 4, 6, 0x60};
constexpr TssLayout kLayout16{kTss16MinLimit, 2, 0x0E, 0x10, 0x12, 0x22, 2, 4, 0x2A};
constexpr uint32_t kCr3Offset = 0x1C;  // 32-bit TSS only

bool wide(uint8_t type) { return type & 8; }
const TssLayout& layout_of(uint8_t type) { return wide(type) ? kLayout32 : kLayout16; }
uint8_t tr_type(const CpuState& cpu) { return cpu.tr.attr & kAttrTypeMask; }

uint32_t get(const uint8_t* p, unsigned width) {
  uint32_t v = 0;
  std::memcpy(&v, p, width);  // the guest and the host are little-endian
  return v;
}

void put(uint8_t* p, uint32_t v, unsigned width) { std::memcpy(p, &v, width); }

// The state a switch loads from a TSS.
struct TssImage {
  uint32_t cr3 = 0, eip = 0, eflags = 0;
  uint32_t gpr[8] = {};
  uint16_t seg[kNumSegRegs] = {};
  uint16_t ldt = 0;
};

TssImage read_image(LinearMemory& mem, uint32_t base, uint8_t type) {
  const TssLayout& l = layout_of(type);
  uint8_t raw[kTss32MinLimit + 1];
  mem.copy_in(base, raw, l.min_limit + 1);
  TssImage t;
  if (wide(type)) t.cr3 = get(raw + kCr3Offset, 4);
  t.eip = get(raw + l.eip, l.width);
  t.eflags = get(raw + l.eflags, l.width);
  for (unsigned i = 0; i < 8; ++i) t.gpr[i] = get(raw + l.gpr + i * l.width, l.width);
  for (unsigned i = 0; i < l.seg_count; ++i)
    t.seg[i] = uint16_t(get(raw + l.seg + i * l.seg_stride, 2));
  t.ldt = uint16_t(get(raw + l.ldt, 2));
  return t;
}

// Step 8: EIP, EFLAGS, the general registers and the segment selectors go
// into the current TSS; its CR3, LDT and back-link fields stay as they are,
// and so do the reserved upper halves of the selector slots.
void save_state(const CpuState& cpu, LinearMemory& mem, uint32_t eip, uint32_t eflags) {
  const TssLayout& l = layout_of(tr_type(cpu));
  uint8_t area[kTss32MinLimit + 1];
  auto at = [&](uint32_t offset) { return area + (offset - l.eip); };  // by TSS offset
  const uint32_t len = l.save_end() - l.eip;
  mem.copy_in(cpu.tr.base + l.eip, area, len);
  put(at(l.eip), eip, l.width);
  put(at(l.eflags), eflags, l.width);
  for (unsigned i = 0; i < 8; ++i) put(at(l.gpr + i * l.width), cpu.gpr[i], l.width);
  for (unsigned i = 0; i < l.seg_count; ++i)
    put(at(l.seg + i * l.seg_stride), cpu.seg[i].selector, 2);
  mem.copy_out(cpu.tr.base + l.eip, area, len);
}

// Translating both ends of a range (at most two pages) now makes a write
// to it later fault-free: page faults come before anything has changed.
void probe(LinearMemory& mem, uint32_t addr, uint32_t len, Access access) {
  mem.translate(addr, access);
  mem.translate(addr + len - 1, access);
}

void set_busy(LinearMemory& mem, Descriptor& d, bool busy) {
  d.hi = busy ? d.hi | kBusyBit : d.hi & ~kBusyBit;
  mem.write<uint8_t>(d.addr + 5, uint8_t(d.hi >> 8));
}

// Step 13 in the order of Table 7-1: LDTR, CS and SS, then the data
// segments; every error is #TS but a missing SS (#SS) or code or data
// segment (#NP). CPL is the new CS's RPL.
void load_ldtr(CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t ext) {
  if (is_null(selector)) return;  // stays unusable
  const uint32_t err = selector_error(selector) | ext;
  if (selector & 4) throw fault(kTS, err);
  auto d = find_descriptor(cpu, mem, selector);
  if (!d || !d->system() || d->type() != kLdtType || !d->present()) throw fault(kTS, err);
  cpu.ldtr = make_segment(selector, *d);
}

void load_code_and_stack(CpuState& cpu, LinearMemory& mem, uint16_t cs, uint16_t ss, uint32_t ext) {
  const uint32_t cs_err = selector_error(cs) | ext, ss_err = selector_error(ss) | ext;
  if (is_null(cs)) throw fault(kTS, ext);
  Descriptor code = read_descriptor(cpu, mem, cs, kTS, ext);
  const uint8_t cpl = rpl(cs);
  if (!code.code() || (code.conforming() ? code.dpl() > cpl : code.dpl() != cpl))
    throw fault(kTS, cs_err);
  if (is_null(ss)) throw fault(kTS, ext);
  Descriptor stack = read_descriptor(cpu, mem, ss, kTS, ext);
  if (!stack.writable() || rpl(ss) != cpl || stack.dpl() != cpl) throw fault(kTS, ss_err);
  if (!stack.present()) throw fault(kSS, ss_err);
  if (!code.present()) throw fault(kNP, cs_err);
  mark_accessed(mem, stack);
  cpu.seg[kSs] = make_segment(ss, stack);
  mark_accessed(mem, code);
  cpu.seg[kCs] = make_segment(cs, code);
}

void load_data(CpuState& cpu, LinearMemory& mem, SegReg reg, uint32_t ext) {
  const uint16_t selector = cpu.seg[reg].selector;
  if (is_null(selector)) return;  // stays unusable
  const uint32_t err = selector_error(selector) | ext;
  Descriptor d = read_descriptor(cpu, mem, selector, kTS, ext);
  if (!d.readable()) throw fault(kTS, err);
  if (!d.conforming() && (rpl(selector) > d.dpl() || cpu.cpl > d.dpl())) throw fault(kTS, err);
  if (!d.present()) throw fault(kNP, err);
  mark_accessed(mem, d);
  cpu.seg[reg] = make_segment(selector, d);
}

// Steps 12-14, after the commit point.
void load_state(CpuState& cpu, LinearMemory& mem, const TssImage& t, uint8_t type, bool nested,
                const TaskSwitch& how) {
  cpu.cr0 |= kCr0Ts;
  // Without paging the TSS's CR3 is read but not loaded (step 12).
  if (wide(type) && (cpu.cr0 & kCr0Pg)) {
    cpu.cr3 = t.cr3;
    mem.cr3_loaded();
  }
  cpu.eip = t.eip;
  const uint32_t eflags = (wide(type) ? t.eflags : t.eflags & 0xFFFF) & ~kFlagVm;
  set_guest_eflags(cpu, nested ? eflags | kFlagNt : eflags);
  for (unsigned i = 0; i < 8; ++i)
    cpu.gpr[i] = wide(type) ? t.gpr[i] : (cpu.gpr[i] & 0xFFFF0000) | t.gpr[i];
  // Selectors first, unusable until checked: a fault below leaves the
  // rest of them loaded but unusable.
  for (unsigned r = 0; r < kNumSegRegs; ++r) cpu.seg[r] = null_segment(t.seg[r]);
  cpu.ldtr = null_segment(t.ldt);
  cpu.cpl = rpl(t.seg[kCs]);
  load_ldtr(cpu, mem, t.ldt, how.ext);
  load_code_and_stack(cpu, mem, t.seg[kCs], t.seg[kSs], how.ext);
  for (SegReg r : {kDs, kEs, kFs, kGs}) load_data(cpu, mem, r, how.ext);
  // An exception's error code goes on the new task's stack, as a word for
  // a 16-bit TSS (SDM Vol. 3A 6.12.2).
  if (how.error_code) {
    Stack s = Stack::current(cpu);
    s.fault_error = how.ext;
    s.push(mem, *how.error_code, wide(type) ? 4 : 2);
    s.commit(cpu);
  }
  if (cpu.eip > cpu.seg[kCs].limit) throw fault(kGP, how.ext);
}

}  // namespace

bool is_tss_descriptor(const Descriptor& d) {
  // Types 1, 3, 9 and 0xB (SDM Vol. 3A Table 3-2).
  return d.system() && (d.type() & 0x5) == 0x1;
}

Descriptor task_descriptor(const CpuState& cpu, LinearMemory& mem, uint16_t selector, bool busy,
                           uint8_t vector, uint32_t ext) {
  const uint32_t err = selector_error(selector) | ext;
  if (selector & 4) throw fault(vector, err);  // TSS descriptors live in the GDT only
  auto d = find_descriptor(cpu, mem, selector);
  if (!d || !is_tss_descriptor(*d) || bool(d->hi & kBusyBit) != busy) throw fault(vector, err);
  if (!d->present()) throw fault(kNP, err);
  return *d;
}

void switch_task(CpuState& cpu, LinearMemory& mem, uint16_t selector, const Descriptor& tss,
                 const TaskSwitch& how) {
  LinearMemory::PrivilegeScope system(mem, 0);  // TSSs and the GDT: supervisor accesses
  const uint32_t err = selector_error(selector) | how.ext;
  const uint8_t type = tss.type();
  // Step 3, and the current TSS must hold what step 8 saves.
  if (tss.limit() < layout_of(type).min_limit) throw fault(kTS, err);
  const TssLayout& old = layout_of(tr_type(cpu));
  if (!segment_usable(cpu.tr) || cpu.tr.limit < old.min_limit)
    throw fault(kTS, selector_error(cpu.tr.selector) | how.ext);
  if (wide(type) && (read_image(mem, tss.base(), type).eflags & kFlagVm))
    unimplemented("task switch into virtual-8086 mode", fault(kTS, err));

  // Step 5: every page written below is present and writable now.
  const bool nested = how.source == TaskSource::kCall || how.source == TaskSource::kEvent;
  const bool leaving = how.source == TaskSource::kJump || how.source == TaskSource::kIret;
  Descriptor next = tss;
  std::optional<Descriptor> current = find_descriptor(cpu, mem, uint16_t(cpu.tr.selector & ~4));
  if (current && !is_tss_descriptor(*current)) current.reset();
  probe(mem, cpu.tr.base + old.eip, old.save_end() - old.eip, Access::kWrite);
  if (nested) probe(mem, tss.base(), 2, Access::kWrite);
  if (how.source != TaskSource::kIret) probe(mem, next.addr + 5, 1, Access::kWrite);
  if (leaving && current) probe(mem, current->addr + 5, 1, Access::kWrite);

  // Steps 6-10. The new TSS is read after the save: with a back link to
  // itself, it is the old one.
  uint32_t eflags = guest_eflags(cpu);
  if (how.source == TaskSource::kIret) eflags &= ~kFlagNt;
  save_state(cpu, mem, how.saved_eip, eflags);
  if (leaving && current) set_busy(mem, *current, false);
  if (nested) mem.write<uint16_t>(tss.base(), cpu.tr.selector);
  if (how.source != TaskSource::kIret) set_busy(mem, next, true);
  const TssImage image = read_image(mem, tss.base(), type);

  // Step 11, the commit point: from here on faults belong to the new task.
  cpu.tr = make_segment(selector, next);
  try {
    load_state(cpu, mem, image, type, nested, how);
  } catch (GuestFault& f) {
    f.committed = true;
    throw;
  }
  cpu.halted = 0;
}

void far_task_transfer(CpuState& cpu, LinearMemory& mem, uint16_t selector, const Descriptor& d,
                       TaskSource source, uint32_t return_eip) {
  // Step 2: data-access privilege, CPL and RPL not above the DPL of the
  // gate or TSS.
  const uint32_t err = selector_error(selector);
  if (d.dpl() < cpu.cpl || d.dpl() < rpl(selector)) throw fault(kGP, err);
  if (d.type() == kTaskGate) {
    if (!d.present()) throw fault(kNP, err);
    const uint16_t tss_selector = d.gate_selector();
    const Descriptor tss = task_descriptor(cpu, mem, tss_selector, false, kGP, 0);
    return switch_task(cpu, mem, tss_selector, tss, {source, return_eip, 0, std::nullopt});
  }
  if ((selector & 4) || (d.hi & kBusyBit)) throw fault(kGP, err);
  if (!d.present()) throw fault(kNP, err);
  switch_task(cpu, mem, selector, d, {source, return_eip, 0, std::nullopt});
}

void task_return(CpuState& cpu, LinearMemory& mem) {
  if (!segment_usable(cpu.tr)) throw fault(kTS, selector_error(cpu.tr.selector));
  uint16_t link;
  {
    LinearMemory::PrivilegeScope system(mem, 0);
    link = mem.read<uint16_t>(cpu.tr.base);
  }
  const Descriptor tss = task_descriptor(cpu, mem, link, true, kTS, 0);
  switch_task(cpu, mem, link, tss, {TaskSource::kIret, cpu.eip, 0, std::nullopt});
}

void task_gate_event(CpuState& cpu, LinearMemory& mem, const Descriptor& gate, uint32_t ext,
                     std::optional<uint32_t> error_code) {
  const uint16_t selector = gate.gate_selector();
  const Descriptor tss = task_descriptor(cpu, mem, selector, false, kGP, ext);
  switch_task(cpu, mem, selector, tss, {TaskSource::kEvent, cpu.eip, ext, error_code});
}

}  // namespace tv::bt
