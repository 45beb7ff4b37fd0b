// Callout handlers for segment loads, far control transfers, software
// interrupts, IRET, POPF and the instructions that do not exist in 64-bit
// mode. The protected-mode rules live in segments.cc / exceptions.cc /
// legacy_ops.cc; these adapt decoded operands to them.
#include "bt/callouts.h"
#include "bt/exceptions.h"
#include "bt/handlers.h"
#include "bt/legacy_ops.h"
#include "bt/runtime.h"
#include "bt/segments.h"

namespace tv::bt {
namespace {

OperandSize osize(const CalloutSite& site) {
  return site.insn.operand_width == 16 ? OperandSize::k16 : OperandSize::k32;
}

LoadSegment segment_loader(BtRuntime& rt, CpuState& cpu) {
  return [&rt, &cpu](SegReg s, uint16_t sel) {
    load_segment(cpu, rt.memory(), s, sel);
    if (s == kSs) cpu.sti_shadow = 1;
  };
}

// A far pointer operand: ptr16:32 immediate or m16:32 (m16:16) in memory.
std::pair<uint16_t, uint32_t> far_pointer(BtRuntime& rt, const CpuState& cpu, const CalloutSite& site) {
  const auto& op = site.ops[0];
  if (op.type == ZYDIS_OPERAND_TYPE_POINTER) return {op.ptr.segment, op.ptr.offset};
  uint32_t a = linear_address(cpu, site.insn, op);
  bool op32 = site.insn.operand_width == 32;
  uint32_t offset = op32 ? rt.memory().read<uint32_t>(a) : rt.memory().read<uint16_t>(a);
  uint16_t sel = rt.memory().read<uint16_t>(a + (op32 ? 4 : 2));
  return {sel, offset};
}

Gpr gpr_index(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) return Gpr(r - ZYDIS_REGISTER_EAX);
  return Gpr(r - ZYDIS_REGISTER_AX);
}

SegReg far_pointer_target(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_LES: return kEs;
    case ZYDIS_MNEMONIC_LSS: return kSs;
    case ZYDIS_MNEMONIC_LFS: return kFs;
    case ZYDIS_MNEMONIC_LGS: return kGs;
    default: return kDs;
  }
}

// A GDT descriptor that just loaded into DS/ES/FS/GS as a flat writable
// data segment: translated MOV/POP sreg load it inline from now on while
// its bytes stay the same (translate_segment_load()).
void remember_flat_data(CpuState& cpu, LinearMemory& mem, SegReg s) {
  const Segment& seg = cpu.seg[s];
  const bool flat_data = (seg.attr & 0x9E) == 0x92 && seg.base == 0 && seg.limit == 0xFFFFFFFFu;
  if (s == kSs || s == kCs || !flat_data || (seg.selector & 4)) return;
  uint64_t raw;
  try {
    LinearMemory::PrivilegeScope system(mem, 0);
    raw = mem.read<uint64_t>(cpu.gdtr.base + (seg.selector & 0xFFF8));
  } catch (const GuestFault&) {
    return;
  }
  for (uint64_t known : cpu.flat_data)
    if (known == raw) return;
  cpu.flat_data[cpu.flat_data_next++ % 4] = raw;
}

// A data segment load that leaves the translation mode as it was (Linux
// reloads __USER_DS on every kernel entry; a flat kernel data segment
// replaces a flat user one) lets the block go on; any other load ends it
// in the new mode. MOV SS always ends it (the interrupt shadow).
CalloutResult after_segment_load(BtRuntime& rt, CpuState& cpu, SegReg s, const Segment& before) {
  const Segment& now = cpu.seg[s];
  remember_flat_data(cpu, rt.memory(), s);
  if (s != kSs && now.selector == before.selector && now.attr == before.attr && now.base == before.base &&
      now.limit == before.limit)
    return CalloutResult::kContinue;
  if (s != kSs && rt.same_mode_after_segment_load()) return CalloutResult::kContinue;
  rt.mode_changed();
  return CalloutResult::kExit;
}

void set_zf(CpuState& cpu, bool zf) {
  cpu.host_flags = zf ? (cpu.host_flags | kFlagZf) : (cpu.host_flags & ~uint64_t(kFlagZf));
}

}  // namespace

CalloutResult handle_mov_to_seg(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  SegReg s = seg_of(site.ops[0].reg.value);
  if (s == kCs) throw fault(kUD);
  const Segment before = cpu.seg[s];
  segment_loader(rt, cpu)(s, uint16_t(read_operand(cpu, rt.memory(), site.insn, site.ops[1])));
  return after_segment_load(rt, cpu, s, before);
}

CalloutResult handle_mov_from_seg(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  uint16_t sel = cpu.seg[seg_of(site.ops[1].reg.value)].selector;
  write_operand(cpu, rt.memory(), site.insn, site.ops[0], sel);
  return CalloutResult::kContinue;
}

CalloutResult handle_push_seg(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  push_segment(cpu, rt.memory(), osize(site), seg_of(site.ops[0].reg.value));
  return CalloutResult::kContinue;
}

CalloutResult handle_pop_seg(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  SegReg s = seg_of(site.ops[0].reg.value);
  const Segment before = cpu.seg[s];
  pop_segment(cpu, rt.memory(), osize(site), s, segment_loader(rt, cpu));
  return after_segment_load(rt, cpu, s, before);
}

CalloutResult handle_far_pointer(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  const auto& mem_op = site.ops[1];
  if (mem_op.type != ZYDIS_OPERAND_TYPE_MEMORY) throw fault(kUD);
  load_far_pointer(cpu, rt.memory(), osize(site), gpr_index(site.ops[0].reg.value),
                   far_pointer_target(site.insn.mnemonic), seg_of(mem_op.mem.segment),
                   effective_address(cpu, site.insn, mem_op), segment_loader(rt, cpu));
  rt.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_far_jmp(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  auto [sel, offset] = far_pointer(rt, cpu, site);
  far_jump(cpu, rt.memory(), sel, offset);
  rt.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_far_call(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  auto [sel, offset] = far_pointer(rt, cpu, site);
  far_call(cpu, rt.memory(), sel, offset, site.insn.operand_width == 32, site.next_eip);
  rt.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_far_ret(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  uint16_t pop = site.insn.operand_count_visible > 0 ? uint16_t(site.ops[0].imm.value.u) : 0;
  far_return(cpu, rt.memory(), pop, site.insn.operand_width == 32);
  rt.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_iret(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  iret(cpu, rt.memory(), site.insn.operand_width == 32);
  rt.mode_changed();
  rt.after_iret();
  return CalloutResult::kExit;
}

CalloutResult handle_int(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  Event ev{};
  ev.insn_len = site.insn.length;
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_INT3: ev.vector = kBP, ev.kind = EventKind::kInt3; break;
    case ZYDIS_MNEMONIC_INT1: ev.vector = kDB, ev.kind = EventKind::kIcebp; break;
    case ZYDIS_MNEMONIC_INTO:
      if (!into(cpu)) return CalloutResult::kExit;
      ev.vector = kOF, ev.kind = EventKind::kInto;
      break;
    default: ev.vector = uint8_t(site.ops[0].imm.value.u), ev.kind = EventKind::kSoftwareInt; break;
  }
  rt.deliver(ev);
  return CalloutResult::kExit;
}

CalloutResult handle_access_check(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = rt.memory();
  bool is_verx = site.insn.mnemonic == ZYDIS_MNEMONIC_VERR || site.insn.mnemonic == ZYDIS_MNEMONIC_VERW;
  const auto& src = is_verx ? site.ops[0] : site.ops[1];
  uint16_t sel = uint16_t(read_operand(cpu, mem, site.insn, src));
  AccessCheck r{};
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_LAR: r = lar(cpu, mem, sel); break;
    case ZYDIS_MNEMONIC_LSL: r = lsl(cpu, mem, sel); break;
    case ZYDIS_MNEMONIC_VERR: r = verr(cpu, mem, sel); break;
    default: r = verw(cpu, mem, sel); break;
  }
  set_zf(cpu, r.ok);
  if (r.ok && !is_verx) write_gpr(cpu, site.ops[0].reg.value, r.value);
  return CalloutResult::kContinue;
}

CalloutResult handle_legacy(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = rt.memory();
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: pusha(cpu, mem, osize(site)); break;
    case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: popa(cpu, mem, osize(site)); break;
    case ZYDIS_MNEMONIC_DAA: daa(cpu); break;
    case ZYDIS_MNEMONIC_DAS: das(cpu); break;
    case ZYDIS_MNEMONIC_AAA: aaa(cpu); break;
    case ZYDIS_MNEMONIC_AAS: aas(cpu); break;
    case ZYDIS_MNEMONIC_AAM: aam(cpu, uint8_t(site.ops[0].imm.value.u)); break;
    case ZYDIS_MNEMONIC_AAD: aad(cpu, uint8_t(site.ops[0].imm.value.u)); break;
    case ZYDIS_MNEMONIC_SALC: salc(cpu); break;
    case ZYDIS_MNEMONIC_BOUND: {
      const auto& m = site.ops[1];
      bound(cpu, mem, osize(site), gpr_index(site.ops[0].reg.value), seg_of(m.mem.segment),
            effective_address(cpu, site.insn, m));
      break;
    }
    default: throw fault(kUD);
  }
  return CalloutResult::kContinue;
}

// POPF (SDM Vol. 2B): at CPL 0 every flag but VM/VIP/VIF may change; at
// CPL > 0 IOPL is kept, and IF only changes when CPL <= IOPL. RF is cleared.
CalloutResult handle_popf(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  bool op32 = site.insn.operand_width == 32;
  uint32_t value = op32 ? pop32(cpu, rt.memory()) : pop16(cpu, rt.memory());
  uint32_t mask = kHostFlags | kFlagTf | kFlagNt | kFlagAc | kFlagId;
  uint32_t old = guest_eflags(cpu);
  uint32_t iopl = (old & kFlagIopl) >> 12;
  if (cpu.cpl == 0) mask |= kFlagIopl | kFlagIf;
  else if (cpu.cpl <= iopl) mask |= kFlagIf;
  if (!op32) mask &= 0xFFFF;
  set_guest_eflags(cpu, ((old & ~mask) | (value & mask)) & ~kFlagRf);
  return CalloutResult::kContinue;
}

CalloutResult handle_pushf16(BtRuntime& rt, CpuState& cpu, const CalloutSite&) {
  push16(cpu, rt.memory(), uint16_t(guest_eflags(cpu)));
  return CalloutResult::kContinue;
}

// POP m with a segment base: the destination address uses ESP after the
// pop (SDM POP); nothing changes if the store faults.
CalloutResult handle_pop_mem(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  unsigned size = site.insn.operand_width / 8;
  Stack s = Stack::current(cpu);
  uint32_t value = s.pop(rt.memory(), size);
  uint32_t esp = cpu.gpr[kEsp];
  cpu.gpr[kEsp] = s.esp;
  try {
    write_operand(cpu, rt.memory(), site.insn, site.ops[0], value);
  } catch (...) {
    cpu.gpr[kEsp] = esp;
    throw;
  }
  s.commit(cpu);
  return CalloutResult::kContinue;
}

// ENTER with a nesting level (SDM Vol. 2A ENTER, 32-bit stack).
CalloutResult handle_enter(BtRuntime& rt, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = rt.memory();
  uint32_t alloc = uint32_t(site.ops[0].imm.value.u) & 0xFFFF;
  unsigned level = unsigned(site.ops[1].imm.value.u) & 0x1F;
  push32(cpu, mem, cpu.gpr[kEbp]);
  uint32_t frame = cpu.gpr[kEsp];
  for (unsigned i = 1; i < level; ++i) {
    cpu.gpr[kEbp] -= 4;
    push32(cpu, mem, mem.read<uint32_t>(cpu.seg[kSs].base + cpu.gpr[kEbp]));
  }
  if (level > 0) push32(cpu, mem, frame);
  cpu.gpr[kEbp] = frame;
  cpu.gpr[kEsp] -= alloc;
  return CalloutResult::kContinue;
}

// LOOP/LOOPE/LOOPNE/JCXZ with a 0x67 prefix count in CX (SDM Vol. 2A LOOPcc).
CalloutResult handle_loop16(BtRuntime&, CpuState& cpu, const CalloutSite& site) {
  uint32_t& ecx = cpu.gpr[kEcx];
  bool zf = cpu.host_flags & kFlagZf;
  bool taken;
  if (site.insn.mnemonic == ZYDIS_MNEMONIC_JCXZ) {
    taken = (ecx & 0xFFFF) == 0;
  } else {
    ecx = (ecx & 0xFFFF0000u) | ((ecx - 1) & 0xFFFF);
    taken = (ecx & 0xFFFF) != 0;
    if (site.insn.mnemonic == ZYDIS_MNEMONIC_LOOPE) taken = taken && zf;
    if (site.insn.mnemonic == ZYDIS_MNEMONIC_LOOPNE) taken = taken && !zf;
  }
  if (taken) {
    uint32_t target = site.next_eip + uint32_t(site.ops[0].imm.value.s);
    cpu.eip = site.insn.operand_width == 16 ? (target & 0xFFFF) : target;
  }
  return CalloutResult::kExit;
}

CalloutResult handle_lea16(BtRuntime&, CpuState& cpu, const CalloutSite& site) {
  write_gpr(cpu, site.ops[0].reg.value, effective_address(cpu, site.insn, site.ops[1]));
  return CalloutResult::kContinue;
}

}  // namespace tv::bt
