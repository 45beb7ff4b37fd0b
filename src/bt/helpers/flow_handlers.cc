// Callout handlers for control transfers that leave the block (far
// JMP/CALL/RET, IRET, INT n), the stack forms the translator does not
// inline (POPF, PUSHF16, POP m, ENTER n), 16-bit-address LOOP/LEA and the
// instructions that do not exist in 64-bit mode. The rules live in
// bt/x86/far_control.cc, exceptions.cc and legacy_ops.cc.
#include "bt/helpers/callout_context.h"
#include "bt/helpers/handlers.h"
#include "bt/helpers/operands.h"
#include "bt/x86/exceptions.h"
#include "bt/x86/legacy_ops.h"
#include "bt/x86/segments.h"

namespace tv::bt {
namespace {

// A far pointer operand: ptr16:32 immediate or m16:32 (m16:16) in memory.
std::pair<uint16_t, uint32_t> far_pointer(CalloutContext& ctx, const CpuState& cpu,
                                          const CalloutSite& site) {
  const auto& op = site.ops[0];
  if (op.type == ZYDIS_OPERAND_TYPE_POINTER) return {op.ptr.segment, op.ptr.offset};
  uint32_t a = linear_address(cpu, site.insn, op);
  bool op32 = site.insn.operand_width == 32;
  uint32_t offset = op32 ? ctx.memory().read<uint32_t>(a) : ctx.memory().read<uint16_t>(a);
  uint16_t sel = ctx.memory().read<uint16_t>(a + (op32 ? 4 : 2));
  return {sel, offset};
}

}  // namespace

CalloutResult handle_far_jmp(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  auto [sel, offset] = far_pointer(ctx, cpu, site);
  far_jump(cpu, ctx.memory(), sel, offset);
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_far_call(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  auto [sel, offset] = far_pointer(ctx, cpu, site);
  far_call(cpu, ctx.memory(), sel, offset, site.insn.operand_width == 32, site.next_eip);
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_far_ret(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  uint16_t pop = site.insn.operand_count_visible > 0 ? uint16_t(site.ops[0].imm.value.u) : 0;
  far_return(cpu, ctx.memory(), pop, site.insn.operand_width == 32);
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_iret(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  cpu.nmi_blocked = 0;  // IRET unblocks NMIs even if it faults (SDM Vol. 3A 6.7.1)
  iret(cpu, ctx.memory(), site.insn.operand_width == 32);
  ctx.mode_changed();
  ctx.after_iret();
  return CalloutResult::kExit;
}

CalloutResult handle_int(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
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
  ctx.deliver(ev);
  return CalloutResult::kExit;
}

namespace {

// ARPL (SDM Vol. 2A): raises the destination selector's RPL to the
// source's and says in ZF whether it did; valid at any CPL in protected
// mode (the only mode bt runs). The destination is written only when raised.
void arpl(CpuState& cpu, LinearMemory& mem, const CalloutSite& site) {
  const uint32_t dst = read_operand(cpu, mem, site.insn, site.ops[0]);
  const uint32_t src = read_operand(cpu, mem, site.insn, site.ops[1]);
  const bool raise = (dst & 3) < (src & 3);
  if (raise) write_operand(cpu, mem, site.insn, site.ops[0], (dst & ~3u) | (src & 3));
  cpu.host_flags = raise ? cpu.host_flags | kFlagZf : cpu.host_flags & ~uint64_t(kFlagZf);
}

}  // namespace

CalloutResult handle_legacy(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = ctx.memory();
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD: pusha(cpu, mem, osize(site)); break;
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD: popa(cpu, mem, osize(site)); break;
    case ZYDIS_MNEMONIC_DAA: daa(cpu); break;
    case ZYDIS_MNEMONIC_DAS: das(cpu); break;
    case ZYDIS_MNEMONIC_AAA: aaa(cpu); break;
    case ZYDIS_MNEMONIC_AAS: aas(cpu); break;
    case ZYDIS_MNEMONIC_AAM: aam(cpu, uint8_t(site.ops[0].imm.value.u)); break;
    case ZYDIS_MNEMONIC_AAD: aad(cpu, uint8_t(site.ops[0].imm.value.u)); break;
    case ZYDIS_MNEMONIC_SALC: salc(cpu); break;
    case ZYDIS_MNEMONIC_ARPL: arpl(cpu, mem, site); break;
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
CalloutResult handle_popf(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  bool op32 = site.insn.operand_width == 32;
  uint32_t value = op32 ? pop32(cpu, ctx.memory()) : pop16(cpu, ctx.memory());
  uint32_t mask = kHostFlags | kFlagTf | kFlagNt | kFlagAc | kFlagId;
  uint32_t old = guest_eflags(cpu);
  uint32_t iopl = (old & kFlagIopl) >> 12;
  if (cpu.cpl == 0)
    mask |= kFlagIopl | kFlagIf;
  else if (cpu.cpl <= iopl)
    mask |= kFlagIf;
  if (!op32) mask &= 0xFFFF;
  set_guest_eflags(cpu, ((old & ~mask) | (value & mask)) & ~kFlagRf);
  return CalloutResult::kContinue;
}

CalloutResult handle_pushf16(CalloutContext& ctx, CpuState& cpu, const CalloutSite&) {
  push16(cpu, ctx.memory(), uint16_t(guest_eflags(cpu)));
  return CalloutResult::kContinue;
}

// POP m with a segment base: the destination address uses ESP after the
// pop (SDM POP); nothing changes if the store faults.
CalloutResult handle_pop_mem(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  unsigned size = site.insn.operand_width / 8;
  Stack s = Stack::current(cpu);
  uint32_t value = s.pop(ctx.memory(), size);
  uint32_t esp = cpu.gpr[kEsp];
  cpu.gpr[kEsp] = s.esp;
  try {
    write_operand(cpu, ctx.memory(), site.insn, site.ops[0], value);
  } catch (...) {
    cpu.gpr[kEsp] = esp;
    throw;
  }
  s.commit(cpu);
  return CalloutResult::kContinue;
}

// ENTER with a nesting level (SDM Vol. 2A ENTER, 32-bit stack).
CalloutResult handle_enter(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  enter(cpu, ctx.memory(), uint16_t(site.ops[0].imm.value.u), uint8_t(site.ops[1].imm.value.u));
  return CalloutResult::kContinue;
}

// LOOP/LOOPE/LOOPNE/JCXZ with a 0x67 prefix count in CX (SDM Vol. 2A LOOPcc).
CalloutResult handle_loop16(CalloutContext&, CpuState& cpu, const CalloutSite& site) {
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

CalloutResult handle_lea16(CalloutContext&, CpuState& cpu, const CalloutSite& site) {
  write_gpr(cpu, site.ops[0].reg.value, effective_address(cpu, site.insn, site.ops[1]));
  return CalloutResult::kContinue;
}

}  // namespace tv::bt
