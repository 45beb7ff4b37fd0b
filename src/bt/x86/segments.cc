// Descriptor tables, segment-register loads and SS:ESP stack access for the
// BT helpers (SDM Vol. 3A chapters 3 and 5). Far control transfers live in
// far_control.cc, event delivery in exceptions.cc.
#include "bt/x86/segments.h"

#include <mutex>
#include <set>

#include "base/log.h"

namespace tv::bt {

Segment make_segment(uint16_t selector, const Descriptor& d) {
  return Segment{selector, d.attr(), d.base(), d.limit()};
}

Segment null_segment(uint16_t selector) { return Segment{selector, 0, 0, 0}; }

std::optional<Descriptor> find_descriptor(const CpuState& cpu, LinearMemory& mem,
                                          uint16_t selector) {
  // TI selects the LDT (SDM Vol. 3A 3.4.2); an unusable LDTR has no entries.
  const bool local = selector & 4;
  if (local && !segment_usable(cpu.ldtr)) return std::nullopt;
  const uint32_t base = local ? cpu.ldtr.base : cpu.gdtr.base;
  const uint32_t limit = local ? cpu.ldtr.limit : cpu.gdtr.limit;
  const uint32_t index = selector & 0xFFF8;
  if (index + 7 > limit) return std::nullopt;
  Descriptor d;
  d.addr = base + index;
  LinearMemory::PrivilegeScope system(mem, 0);  // descriptor tables: supervisor accesses
  const uint64_t raw = mem.read<uint64_t>(d.addr);
  d.lo = uint32_t(raw);
  d.hi = uint32_t(raw >> 32);
  return d;
}

Descriptor read_descriptor(const CpuState& cpu, LinearMemory& mem, uint16_t selector,
                           uint8_t vector, uint32_t ext) {
  if (auto d = find_descriptor(cpu, mem, selector)) return *d;
  throw fault(vector, selector_error(selector) | ext);
}

void mark_accessed(LinearMemory& mem, Descriptor& d) {
  if (d.system() || (d.hi & (1u << 8))) return;
  d.hi |= 1u << 8;
  LinearMemory::PrivilegeScope system(mem, 0);
  mem.write<uint8_t>(d.addr + 5, uint8_t(d.hi >> 8));
}

bool segment_fits(const Segment& s, uint32_t offset, uint32_t size) {
  if (!segment_usable(s)) return false;
  const uint64_t last = uint64_t(offset) + size - 1;
  const bool expand_down = (s.attr & kAttrS) && (s.attr & 0xC) == 0x4;
  if (!expand_down) return last <= s.limit;
  // Expand-down: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF per B.
  const uint64_t top = segment_big(s) ? 0xFFFFFFFFull : 0xFFFFull;
  return offset > s.limit && last <= top;
}

void reset_flat_protected_mode(CpuState& cpu, uint16_t code_sel, uint16_t data_sel, TableReg gdtr) {
  // Multiboot spec 3.2 "Machine state" / Linux boot.rst "32-bit boot
  // protocol": flat 4 GiB read/execute code and read/write data, PE on,
  // paging off, with the loader's GDT behind the selectors.
  constexpr uint16_t kFlags = kAttrG | kAttrDb;
  const Segment code{code_sel, uint16_t(kFlags | kAttrP | kAttrS | 0xB), 0, 0xFFFFFFFF};
  const Segment data{data_sel, uint16_t(kFlags | kAttrP | kAttrS | 0x3), 0, 0xFFFFFFFF};
  for (unsigned r = 0; r < kNumSegRegs; ++r) cpu.seg[r] = data;
  cpu.seg[kCs] = code;
  // The LDTR keeps its reset state (SDM Vol. 3A 9.1.1, Table 9-1): base 0,
  // limit 0xFFFF, present, an LDT; QEMU's firmware path leaves it so too.
  cpu.ldtr = Segment{0, uint16_t(kAttrP | 0x2), 0, 0xFFFF};
  cpu.tr = null_segment(0);
  cpu.gdtr = gdtr;
  cpu.idtr = {};
  cpu.cr0 = 0x11;  // PE | ET
  cpu.cpl = 0;
  set_guest_eflags(cpu, 0x2);
}

namespace {

// MOV SS / POP SS (SDM Vol. 2 MOV, "IF SS is loaded").
void load_ss(CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  if (is_null(selector)) throw fault(kGP, 0);
  Descriptor d = read_descriptor(cpu, mem, selector);
  const uint32_t err = selector_error(selector);
  if (rpl(selector) != cpu.cpl || !d.writable() || d.dpl() != cpu.cpl) throw fault(kGP, err);
  if (!d.present()) throw fault(kSS, err);
  mark_accessed(mem, d);
  cpu.seg[kSs] = make_segment(selector, d);
}

}  // namespace

void load_segment(CpuState& cpu, LinearMemory& mem, SegReg reg, uint16_t selector) {
  if (reg == kCs) throw fault(kUD);  // MOV CS is #UD; the translator never asks
  if (reg == kSs) return load_ss(cpu, mem, selector);
  // A null selector loads an unusable segment; its use faults later.
  if (is_null(selector)) {
    cpu.seg[reg] = null_segment(selector);
    return;
  }
  // SDM Vol. 2 MOV: data or readable code; privilege applies unless the
  // code is conforming.
  Descriptor d = read_descriptor(cpu, mem, selector);
  const uint32_t err = selector_error(selector);
  if (!d.readable()) throw fault(kGP, err);
  if (!d.conforming() && (rpl(selector) > d.dpl() || cpu.cpl > d.dpl())) throw fault(kGP, err);
  if (!d.present()) throw fault(kNP, err);
  mark_accessed(mem, d);
  cpu.seg[reg] = make_segment(selector, d);
}

void load_cs(CpuState& cpu, LinearMemory& mem, uint16_t selector, Descriptor& d, uint8_t cpl) {
  mark_accessed(mem, d);
  cpu.seg[kCs] = make_segment(uint16_t((selector & 0xFFFC) | cpl), d);
  cpu.cpl = cpl;
}

void null_outer_data_segments(CpuState& cpu) {
  for (SegReg r : {kEs, kDs, kFs, kGs}) {
    const Segment& s = cpu.seg[r];
    const bool conforming_code = (s.attr & kAttrS) && (s.attr & 0xC) == 0xC;
    if (segment_usable(s) && (s.attr & kAttrS) && !conforming_code && segment_dpl(s) < cpu.cpl)
      cpu.seg[r] = null_segment(0);
  }
}

// ---- Stack ----

Stack Stack::current(const CpuState& cpu) { return Stack{cpu.seg[kSs], cpu.gpr[kEsp], 0}; }

uint32_t Stack::moved(uint32_t delta) const {
  // A 16-bit stack (SS.B=0) moves SP only and keeps ESP's upper half.
  if (segment_big(ss)) return esp + delta;
  return (esp & 0xFFFF0000) | ((esp + delta) & 0xFFFF);
}

uint32_t Stack::checked_address(uint32_t sp, unsigned size) const {
  const uint32_t offset = segment_big(ss) ? sp : sp & 0xFFFF;
  if (!segment_fits(ss, offset, size)) throw fault(kSS, fault_error);
  return ss.base + offset;
}

void Stack::push(LinearMemory& mem, uint32_t value, unsigned size) {
  LinearMemory::PrivilegeScope scope(mem, segment_dpl(ss));
  const uint32_t sp = moved(-size);
  const uint32_t addr = checked_address(sp, size);
  if (size == 4) {
    mem.write<uint32_t>(addr, value);
  } else {
    mem.write<uint16_t>(addr, uint16_t(value));
  }
  esp = sp;
}

uint32_t Stack::peek(LinearMemory& mem, uint32_t byte_offset, unsigned size) const {
  LinearMemory::PrivilegeScope scope(mem, segment_dpl(ss));
  const uint32_t addr = checked_address(moved(byte_offset), size);
  return size == 4 ? mem.read<uint32_t>(addr) : mem.read<uint16_t>(addr);
}

uint32_t Stack::pop(LinearMemory& mem, unsigned size) {
  const uint32_t value = peek(mem, 0, size);
  esp = moved(size);
  return value;
}

void Stack::release(uint32_t bytes) { esp = moved(bytes); }

void Stack::commit(CpuState& cpu) const {
  cpu.seg[kSs] = ss;
  cpu.gpr[kEsp] = esp;
}

Stack inner_stack(const CpuState& cpu, LinearMemory& mem, uint8_t dpl, uint32_t ext) {
  // SDM Vol. 3A 7.2.1 / 7.6: SS0:ESP0 at 8/4 in a 32-bit TSS, SS0:SP0 at 4/2
  // in a 16-bit one; the TSS must hold the SS field (Vol. 2 CALL, INT n).
  const bool tss32 = cpu.tr.attr & 0x8;
  const uint32_t sp_offset = tss32 ? 4 + 8u * dpl : 2 + 4u * dpl;
  const uint32_t ss_offset = sp_offset + (tss32 ? 4 : 2);
  if (!segment_usable(cpu.tr) || ss_offset + 1 > cpu.tr.limit)
    throw fault(kTS, selector_error(cpu.tr.selector) | ext);
  LinearMemory::PrivilegeScope system(mem, 0);  // the TSS: supervisor accesses
  const uint32_t sp = tss32 ? mem.read<uint32_t>(cpu.tr.base + sp_offset)
                            : mem.read<uint16_t>(cpu.tr.base + sp_offset);
  const uint16_t ss = mem.read<uint16_t>(cpu.tr.base + ss_offset);
  const uint32_t err = selector_error(ss) | ext;
  if (is_null(ss)) throw fault(kTS, ext);
  Descriptor d = read_descriptor(cpu, mem, ss, kTS, ext);
  if (rpl(ss) != dpl || d.dpl() != dpl || !d.writable()) throw fault(kTS, err);
  if (!d.present()) throw fault(kSS, err);
  mark_accessed(mem, d);
  return Stack{make_segment(ss, d), sp, err};
}

void push32(CpuState& cpu, LinearMemory& mem, uint32_t value) {
  Stack s = Stack::current(cpu);
  s.push(mem, value, 4);
  cpu.gpr[kEsp] = s.esp;
}

void push16(CpuState& cpu, LinearMemory& mem, uint16_t value) {
  Stack s = Stack::current(cpu);
  s.push(mem, value, 2);
  cpu.gpr[kEsp] = s.esp;
}

uint32_t pop32(CpuState& cpu, LinearMemory& mem) {
  Stack s = Stack::current(cpu);
  const uint32_t v = s.pop(mem, 4);
  cpu.gpr[kEsp] = s.esp;
  return v;
}

uint16_t pop16(CpuState& cpu, LinearMemory& mem) {
  Stack s = Stack::current(cpu);
  const uint16_t v = uint16_t(s.pop(mem, 2));
  cpu.gpr[kEsp] = s.esp;
  return v;
}

// ---- System tables (SDM Vol. 2 LGDT/LIDT, SGDT/SIDT, LLDT, LTR) ----

namespace {

TableReg read_pseudo_descriptor(const CpuState& cpu, LinearMemory& mem, uint32_t addr, bool op32) {
  if (cpu.cpl != 0) throw fault(kGP, 0);
  TableReg t;
  t.limit = mem.read<uint16_t>(addr);
  t.base = mem.read<uint32_t>(addr + 2) & (op32 ? 0xFFFFFFFF : 0x00FFFFFF);
  return t;
}

void write_pseudo_descriptor(LinearMemory& mem, uint32_t addr, const TableReg& t) {
  mem.write<uint16_t>(addr, t.limit);
  mem.write<uint32_t>(addr + 2, t.base);
}

// LLDT/LTR name a GDT entry only, and run at CPL 0.
Descriptor system_descriptor(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  if (cpu.cpl != 0) throw fault(kGP, 0);
  if (selector & 4) throw fault(kGP, selector_error(selector));
  return read_descriptor(cpu, mem, selector);
}

}  // namespace

void lgdt(CpuState& cpu, LinearMemory& mem, uint32_t addr, bool op32) {
  cpu.gdtr = read_pseudo_descriptor(cpu, mem, addr, op32);
}

void lidt(CpuState& cpu, LinearMemory& mem, uint32_t addr, bool op32) {
  cpu.idtr = read_pseudo_descriptor(cpu, mem, addr, op32);
}

void sgdt(const CpuState& cpu, LinearMemory& mem, uint32_t addr) {
  write_pseudo_descriptor(mem, addr, cpu.gdtr);
}

void sidt(const CpuState& cpu, LinearMemory& mem, uint32_t addr) {
  write_pseudo_descriptor(mem, addr, cpu.idtr);
}

void lldt(CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  if (cpu.cpl != 0) throw fault(kGP, 0);
  if (is_null(selector)) {  // a null LDTR is legal; LDT references then #GP
    cpu.ldtr = null_segment(selector);
    return;
  }
  const Descriptor d = system_descriptor(cpu, mem, selector);
  if (!d.system() || d.type() != kLdtType) throw fault(kGP, selector_error(selector));
  if (!d.present()) throw fault(kNP, selector_error(selector));
  cpu.ldtr = make_segment(selector, d);
}

void ltr(CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  if (cpu.cpl != 0 || is_null(selector)) throw fault(kGP, 0);
  Descriptor d = system_descriptor(cpu, mem, selector);
  const bool available = d.type() == kTss32Available || d.type() == kTss16Available;
  if (!d.system() || !available) throw fault(kGP, selector_error(selector));
  if (!d.present()) throw fault(kNP, selector_error(selector));
  // Type bit 1 is the busy bit (SDM Vol. 3A 7.2.2).
  d.hi |= 2u << 8;
  LinearMemory::PrivilegeScope system(mem, 0);
  mem.write<uint8_t>(d.addr + 5, uint8_t(d.hi >> 8));
  cpu.tr = make_segment(selector, d);
}

// ---- LAR, LSL, VERR, VERW (SDM Vol. 2 instruction pages) ----

namespace {

// Privilege rule shared by all four: conforming code is always visible,
// everything else needs DPL >= CPL and DPL >= RPL.
bool visible(const CpuState& cpu, const Descriptor& d, uint16_t selector) {
  return d.conforming() || (d.dpl() >= cpu.cpl && d.dpl() >= rpl(selector));
}

std::optional<Descriptor> checkable(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  if (is_null(selector)) return std::nullopt;
  auto d = find_descriptor(cpu, mem, selector);
  if (!d || !visible(cpu, *d, selector)) return std::nullopt;
  return d;
}

}  // namespace

AccessCheck lar(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  // Valid system types: TSSs, LDT, call gates, task gates (SDM Vol. 2 LAR).
  constexpr uint16_t kLarTypes =
      1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 9 | 1u << 0xB | 1u << 0xC;
  auto d = checkable(cpu, mem, selector);
  if (!d || (d->system() && !(kLarTypes & (1u << d->type())))) return {false, 0};
  return {true, d->hi & 0x00F0FF00};
}

AccessCheck lsl(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  // Only descriptors with a limit: TSSs and LDT among system types.
  constexpr uint16_t kLslTypes = 1u << 1 | 1u << 2 | 1u << 3 | 1u << 9 | 1u << 0xB;
  auto d = checkable(cpu, mem, selector);
  if (!d || (d->system() && !(kLslTypes & (1u << d->type())))) return {false, 0};
  return {true, d->limit()};
}

AccessCheck verr(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  auto d = checkable(cpu, mem, selector);
  return {d && d->readable(), 0};
}

AccessCheck verw(const CpuState& cpu, LinearMemory& mem, uint16_t selector) {
  auto d = checkable(cpu, mem, selector);
  return {d && d->writable(), 0};
}

void unimplemented(const char* what, GuestFault f) {
  static std::mutex mu;
  static std::set<const char*> seen;
  {
    std::lock_guard lock(mu);
    if (seen.insert(what).second) tv::log::get("bt")->warn("unimplemented: {}", what);
  }
  throw f;
}

}  // namespace tv::bt
