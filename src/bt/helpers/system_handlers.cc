// Callout handlers for I/O, string instructions and system instructions
// (SDM Vol. 2 instruction pages; privilege rules from Vol. 3A 5.9, I/O
// permission from Vol. 1 18.5).
#include <fmt/format.h>

#include "base/error.h"
#include "base/log.h"
#include "bt/helpers/callout_context.h"
#include "bt/helpers/handlers.h"
#include "bt/helpers/operands.h"
#include "bt/x86/segments.h"
#include "bt/x86/string_ops.h"
#include "vmm/cpuid.h"

namespace tv::bt {
namespace {

void require_cpl0(const CpuState& cpu) {
  if (cpu.cpl != 0) throw fault(kGP, 0);
}

// IN/OUT/INS/OUTS at CPL > IOPL consult the I/O permission bitmap of the
// 32-bit TSS: every bit for the bytes accessed must be clear, and bits
// beyond the TSS limit count as set (SDM Vol. 1 19.5.2).
void check_io_permission(CalloutContext& ctx, const CpuState& cpu, uint32_t port, unsigned size) {
  uint32_t iopl = (guest_eflags(cpu) & kFlagIopl) >> 12;
  if (cpu.cpl <= iopl) return;
  const Segment& tr = cpu.tr;
  bool tss32 = (tr.attr & 0x0F) == 0x9 || (tr.attr & 0x0F) == 0xB;
  if (!tss32 || tr.limit < 0x67) throw fault(kGP, 0);
  LinearMemory::PrivilegeScope system(ctx.memory(), 0);  // the TSS: supervisor accesses
  uint32_t map = ctx.memory().read<uint16_t>(tr.base + 0x66);
  uint32_t byte = map + port / 8;
  if (byte + 1 > tr.limit) throw fault(kGP, 0);
  uint16_t bits = ctx.memory().read<uint16_t>(tr.base + byte);
  uint16_t mask = uint16_t(((1u << size) - 1) << (port % 8));
  if (bits & mask) throw fault(kGP, 0);
}

uint32_t port_of(const CpuState& cpu, const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? uint32_t(op.imm.value.u) & 0xFF
                                                 : cpu.gpr[kEdx] & 0xFFFF;
}

StringOp string_op(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD: return StringOp::kMovs;
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD: return StringOp::kCmps;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD: return StringOp::kStos;
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD: return StringOp::kLods;
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD: return StringOp::kScas;
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD: return StringOp::kIns;
    default: return StringOp::kOuts;
  }
}

// Iterations per callout: long REPs return to the dispatcher in between so
// that interrupts are taken (the instruction restarts with updated ECX).
constexpr uint64_t kStringChunk = 1u << 16;

}  // namespace

CalloutResult handle_io(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  bool in = site.insn.mnemonic == ZYDIS_MNEMONIC_IN;
  const ZydisDecodedOperand& data = in ? site.ops[0] : site.ops[1];
  const ZydisDecodedOperand& port_op = in ? site.ops[1] : site.ops[0];
  unsigned size = data.size / 8;
  uint32_t port = port_of(cpu, port_op);
  check_io_permission(ctx, cpu, port, size);
  auto& pio = ctx.pio();
  if (in) {
    write_gpr(cpu, data.reg.value, uint32_t(pio.read(port, size)));
  } else {
    pio.write(port, size, read_gpr(cpu, data.reg.value));
  }
  return CalloutResult::kContinue;
}

CalloutResult handle_string(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  const auto& d = site.insn;
  StringInsn s;
  s.op = string_op(d.mnemonic);
  s.size = d.operand_width / 8;
  if (s.op == StringOp::kIns || s.op == StringOp::kOuts)
    check_io_permission(ctx, cpu, cpu.gpr[kEdx] & 0xFFFF, s.size);
  if (d.attributes & ZYDIS_ATTRIB_HAS_REPNE)
    s.rep = RepKind::kRepne;
  else if (d.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
    s.rep = RepKind::kRep;
  for (unsigned i = 0; i < d.operand_count; ++i) {
    const auto& op = site.ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY &&
        (op.mem.base == ZYDIS_REGISTER_ESI || op.mem.base == ZYDIS_REGISTER_SI))
      s.src_seg = seg_of(op.mem.segment);
  }
  s.addr16 = d.address_width == 16;
  s.next_eip = site.next_eip;
  cpu.eip = site.eip;
  StringResult r = run_string_op(cpu, ctx.memory(), ctx.pio(), s, kStringChunk);
  return r == StringResult::kDone ? CalloutResult::kContinue : CalloutResult::kExit;
}

CalloutResult handle_hlt(CalloutContext& ctx, CpuState& cpu, const CalloutSite&) {
  require_cpl0(cpu);
  ctx.set_halted();
  return CalloutResult::kExit;
}

CalloutResult handle_cpuid(CalloutContext&, CpuState& cpu, const CalloutSite&) {
  CpuidRegs r = guest_cpuid(cpu.gpr[kEax], cpu.gpr[kEcx]);
  cpu.gpr[kEax] = r.eax, cpu.gpr[kEbx] = r.ebx, cpu.gpr[kEcx] = r.ecx, cpu.gpr[kEdx] = r.edx;
  return CalloutResult::kContinue;
}

// MSRs of the CPUID profile (SDM Vol. 4); anything else is #GP(0), which
// Linux's *_safe accessors expect for absent MSRs.
CalloutResult handle_rdmsr(CalloutContext& ctx, CpuState& cpu, const CalloutSite&) {
  require_cpl0(cpu);
  uint64_t v;
  switch (cpu.gpr[kEcx]) {
    case 0x10: {  // IA32_TIME_STAMP_COUNTER
      uint32_t lo, hi;
      asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
      v = (uint64_t(hi) << 32) | lo;
      break;
    }
    case 0x17:
    case 0x2A:
    case 0x8B:
    case 0x179: v = 0; break;  // platform id, power-on, ucode, MCG_CAP
    case 0x174: v = cpu.sysenter_cs; break;
    case 0x175: v = cpu.sysenter_esp; break;
    case 0x176: v = cpu.sysenter_eip; break;
    default:
      if (auto p = read_cpu_msr(cpu.msrs, cpu.gpr[kEcx])) {
        v = *p;
        break;
      }
      if (auto p = ctx.platform_read_msr(cpu.gpr[kEcx])) {
        v = *p;
        break;
      }
      throw fault(kGP, 0);
  }
  cpu.gpr[kEax] = uint32_t(v);
  cpu.gpr[kEdx] = uint32_t(v >> 32);
  return CalloutResult::kContinue;
}

CalloutResult handle_wrmsr(CalloutContext& ctx, CpuState& cpu, const CalloutSite&) {
  require_cpl0(cpu);
  uint32_t lo = cpu.gpr[kEax];
  const uint64_t value = uint64_t(cpu.gpr[kEdx]) << 32 | lo;
  if (std::optional<bool> ok = write_cpu_msr(cpu.msrs, cpu.gpr[kEcx], value)) {
    if (!*ok) throw fault(kGP, 0);
    return CalloutResult::kContinue;
  }
  switch (cpu.gpr[kEcx]) {
    case 0x174: cpu.sysenter_cs = lo & 0xFFFF; break;
    case 0x175: cpu.sysenter_esp = lo; break;
    case 0x176: cpu.sysenter_eip = lo; break;
    case 0x10:
    case 0x8B:
    case 0x179: break;  // TSC, microcode probes: ignored
    default:
      if (!ctx.platform_write_msr(cpu.gpr[kEcx], value)) throw fault(kGP, 0);
  }
  return CalloutResult::kContinue;
}

CalloutResult handle_mov_cr(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  require_cpl0(cpu);
  bool to_cr = ZydisRegisterGetClass(site.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL;
  ZydisRegister cr = to_cr ? site.ops[0].reg.value : site.ops[1].reg.value;
  int n = int(cr - ZYDIS_REGISTER_CR0);
  if (!to_cr) {
    uint32_t v = n == 0 ? cpu.cr0 : n == 2 ? cpu.cr2 : n == 3 ? cpu.cr3 : n == 4 ? cpu.cr4 : 0;
    if (n != 0 && n != 2 && n != 3 && n != 4) throw fault(kUD);
    write_gpr(cpu, site.ops[0].reg.value, v);
    return CalloutResult::kContinue;
  }
  uint32_t v = read_gpr(cpu, site.ops[1].reg.value);
  switch (n) {
    case 0:
      if ((v & kCr0Pg) && !(v & kCr0Pe)) throw fault(kGP, 0);
      if (!(v & kCr0Pe))
        throw Error(fmt::format("unimplemented: guest left protected mode at EIP {:#x}", site.eip));
      cpu.cr0 = v | kCr0Et;
      break;
    case 2: cpu.cr2 = v; break;
    case 3: cpu.cr3 = v; break;
    case 4:
      if (v & ~0x000006BFu)
        throw fault(kGP, 0);  // VME PVI TSD DE PSE PGE PCE OSFXSR OSXMMEXCPT; no PAE
      cpu.cr4 = v;
      break;
    default: throw fault(kUD);
  }
  if (n != 2) ctx.paging_changed(n == 3);
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_mov_dr(CalloutContext&, CpuState& cpu, const CalloutSite& site) {
  require_cpl0(cpu);
  bool to_dr = ZydisRegisterGetClass(site.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
  ZydisRegister dr = to_dr ? site.ops[0].reg.value : site.ops[1].reg.value;
  unsigned n = unsigned(dr - ZYDIS_REGISTER_DR0) & 7;
  if (to_dr)
    cpu.dr[n] = read_gpr(cpu, site.ops[1].reg.value);
  else
    write_gpr(cpu, site.ops[0].reg.value, cpu.dr[n]);
  return CalloutResult::kContinue;
}

CalloutResult handle_descriptor_table(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = ctx.memory();
  const auto& op = site.ops[0];
  bool op32 = site.insn.operand_width == 32;
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_LGDT:
      require_cpl0(cpu);
      lgdt(cpu, mem, linear_address(cpu, site.insn, op), op32);
      break;
    case ZYDIS_MNEMONIC_LIDT:
      require_cpl0(cpu);
      lidt(cpu, mem, linear_address(cpu, site.insn, op), op32);
      break;
    case ZYDIS_MNEMONIC_SGDT: sgdt(cpu, mem, linear_address(cpu, site.insn, op)); break;
    case ZYDIS_MNEMONIC_SIDT: sidt(cpu, mem, linear_address(cpu, site.insn, op)); break;
    case ZYDIS_MNEMONIC_LLDT:
      require_cpl0(cpu);
      lldt(cpu, mem, uint16_t(read_operand(cpu, mem, site.insn, op)));
      break;
    case ZYDIS_MNEMONIC_LTR:
      require_cpl0(cpu);
      ltr(cpu, mem, uint16_t(read_operand(cpu, mem, site.insn, op)));
      break;
    case ZYDIS_MNEMONIC_SLDT: write_operand(cpu, mem, site.insn, op, sldt(cpu)); break;
    case ZYDIS_MNEMONIC_STR: write_operand(cpu, mem, site.insn, op, str(cpu)); break;
    default: throw fault(kUD);
  }
  ctx.mode_changed();
  return CalloutResult::kContinue;
}

CalloutResult handle_clts(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  LinearMemory& mem = ctx.memory();
  switch (site.insn.mnemonic) {
    case ZYDIS_MNEMONIC_CLTS:
      require_cpl0(cpu);
      cpu.cr0 &= ~kCr0Ts;
      break;
    case ZYDIS_MNEMONIC_LMSW: {
      require_cpl0(cpu);
      uint32_t v = read_operand(cpu, mem, site.insn, site.ops[0]) & 0xF;
      cpu.cr0 = (cpu.cr0 & ~0xEu) | v | (cpu.cr0 & kCr0Pe);  // LMSW cannot clear PE
      break;
    }
    default:  // SMSW
      write_operand(cpu, mem, site.insn, site.ops[0],
                    cpu.cr0 & (site.ops[0].size == 32 ? ~0u : 0xFFFFu));
      return CalloutResult::kContinue;
  }
  ctx.mode_changed();
  return CalloutResult::kExit;
}

CalloutResult handle_invlpg(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  require_cpl0(cpu);
  if (site.insn.mnemonic == ZYDIS_MNEMONIC_INVLPG)
    ctx.invalidate_linear(linear_address(cpu, site.insn, site.ops[0]));
  return CalloutResult::kContinue;
}

// SYSENTER/SYSEXIT (SDM Vol. 2B): flat segments derived from
// IA32_SYSENTER_CS, no descriptor-table reads.
CalloutResult handle_sysenter(CalloutContext& ctx, CpuState& cpu, const CalloutSite& site) {
  uint16_t cs = uint16_t(cpu.sysenter_cs & 0xFFFC);
  if (cs == 0) throw fault(kGP, 0);
  auto flat = [](uint16_t sel, uint16_t attr) { return Segment{sel, attr, 0, 0xFFFFFFFFu}; };
  if (site.insn.mnemonic == ZYDIS_MNEMONIC_SYSENTER) {
    set_guest_eflags(cpu, guest_eflags(cpu) & ~(kFlagVm | kFlagIf | kFlagRf));
    cpu.seg[kCs] = flat(cs, 0xC9B);
    cpu.seg[kSs] = flat(uint16_t(cs + 8), 0xC93);
    cpu.cpl = 0;
    cpu.gpr[kEsp] = cpu.sysenter_esp;
    cpu.eip = cpu.sysenter_eip;
  } else {
    require_cpl0(cpu);
    cpu.seg[kCs] = flat(uint16_t((cs + 16) | 3), 0xCFB);
    cpu.seg[kSs] = flat(uint16_t((cs + 24) | 3), 0xCF3);
    cpu.cpl = 3;
    cpu.gpr[kEsp] = cpu.gpr[kEcx];
    cpu.eip = cpu.gpr[kEdx];
  }
  ctx.mode_changed();
  return CalloutResult::kExit;
}

// CLI/STI at CPL > 0 (at CPL 0 they are inline): allowed only when
// CPL <= IOPL, else #GP(0). STI's interrupt shadow is kept.
CalloutResult handle_cli_sti(CalloutContext&, CpuState& cpu, const CalloutSite& site) {
  uint32_t iopl = (guest_eflags(cpu) & kFlagIopl) >> 12;
  if (cpu.cpl > iopl) throw fault(kGP, 0);
  // The STI shadow comes from the block structure: the translator ends
  // the block (unchained) right after the next instruction.
  cpu.vif = site.insn.mnemonic == ZYDIS_MNEMONIC_STI ? 1 : 0;
  return CalloutResult::kContinue;
}

CalloutResult handle_ud(CalloutContext&, CpuState&, const CalloutSite&) { throw fault(kUD); }
CalloutResult handle_nm(CalloutContext&, CpuState&, const CalloutSite&) { throw fault(kNM); }
CalloutResult handle_gp(CalloutContext&, CpuState&, const CalloutSite&) { throw fault(kGP, 0); }
CalloutResult handle_ss(CalloutContext&, CpuState&, const CalloutSite&) { throw fault(kSS, 0); }

}  // namespace tv::bt
