// Callout handlers for segment-register loads and stores, far-pointer
// loads (LDS/LES/...) and the access checks LAR/LSL/VERR/VERW. The
// protected-mode rules live in bt/x86/segments.cc; these adapt decoded
// operands to them and tell the vCPU when the translation mode changed.
#include "bt/helpers/callout_context.h"
#include "bt/helpers/handlers.h"
#include "bt/helpers/operands.h"
#include "bt/x86/exceptions.h"
#include "bt/x86/legacy_ops.h"
#include "bt/x86/segments.h"

namespace tv::bt {
namespace {

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
CalloutResult after_segment_load(CalloutContext& ctx, CpuState& cpu, SegReg s,
                                 const Segment& before) {
  const Segment& now = cpu.seg[s];
  remember_flat_data(cpu, ctx.memory(), s);
  if (s != kSs && now.selector == before.selector && now.attr == before.attr &&
      now.base == before.base && now.limit == before.limit)
    return CalloutResult::kContinue;
  if (s != kSs && ctx.same_mode_after_segment_load()) return CalloutResult::kContinue;
  ctx.mode_changed();
  return CalloutResult::kExit;
}

void set_zf(CpuState& cpu, bool zf) {
  cpu.host_flags = zf ? (cpu.host_flags | kFlagZf) : (cpu.host_flags & ~uint64_t(kFlagZf));
}

}  // namespace

CalloutResult handle_mov_to_seg(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  SegReg s = seg_of(site.ops[0].reg.value);
  if (s == kCs) throw fault(kUD);
  const Segment before = cpu.seg[s];
  segment_loader(ctx, cpu)(s, uint16_t(read_operand(cpu, ctx.memory(), site.insn, site.ops[1])));
  return after_segment_load(ctx, cpu, s, before);
}

CalloutResult handle_mov_from_seg(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  uint16_t sel = cpu.seg[seg_of(site.ops[1].reg.value)].selector;
  write_operand(cpu, ctx.memory(), site.insn, site.ops[0], sel);
  return CalloutResult::kContinue;
}

CalloutResult handle_push_seg(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  push_segment(cpu, ctx.memory(), osize(site), seg_of(site.ops[0].reg.value));
  return CalloutResult::kContinue;
}

CalloutResult handle_pop_seg(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  SegReg s = seg_of(site.ops[0].reg.value);
  const Segment before = cpu.seg[s];
  pop_segment(cpu, ctx.memory(), osize(site), s, segment_loader(ctx, cpu));
  return after_segment_load(ctx, cpu, s, before);
}

CalloutResult handle_far_pointer(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  const auto& mem_op = site.ops[1];
  if (mem_op.type != ZYDIS_OPERAND_TYPE_MEMORY) throw fault(kUD);
  load_far_pointer(cpu, ctx.memory(), osize(site), gpr_index(site.ops[0].reg.value),
                   far_pointer_target(site.insn.mnemonic), seg_of(mem_op.mem.segment),
                   effective_address(cpu, site.insn, mem_op), segment_loader(ctx, cpu));
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_access_check(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = ctx.memory();
  bool is_verx =
      site.insn.mnemonic == ZYDIS_MNEMONIC_VERR || site.insn.mnemonic == ZYDIS_MNEMONIC_VERW;
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

}  // namespace tv::bt
