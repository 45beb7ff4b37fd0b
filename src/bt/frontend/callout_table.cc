// The table that decides which guest instructions are handed to C++
// (DESIGN.md "BT: translation", callouts), and which of them end a block.
#include "bt/frontend/callout_table.h"

#include "base/log.h"
#include "bt/helpers/handlers.h"

namespace tv::bt {
namespace {

constexpr CalloutInfo kIo{handle_io, CalloutKind::kIo, false};
constexpr CalloutInfo kString{handle_string, CalloutKind::kString, false};
constexpr CalloutInfo kHlt{handle_hlt, CalloutKind::kHlt, true};
constexpr CalloutInfo kCpuid{handle_cpuid, CalloutKind::kCpuid, false};
constexpr CalloutInfo kRdmsr{handle_rdmsr, CalloutKind::kRdmsr, false};
constexpr CalloutInfo kWrmsr{handle_wrmsr, CalloutKind::kWrmsr, true};
constexpr CalloutInfo kMovCr{handle_mov_cr, CalloutKind::kMovCr, true};
constexpr CalloutInfo kMovDr{handle_mov_dr, CalloutKind::kMovDr, false};
constexpr CalloutInfo kDescriptorTable{handle_descriptor_table, CalloutKind::kDescriptorTable,
                                       true};
constexpr CalloutInfo kMovToSeg{handle_mov_to_seg, CalloutKind::kMovToSeg,
                                false};  // exits unless nothing changed
constexpr CalloutInfo kMovFromSeg{handle_mov_from_seg, CalloutKind::kMovFromSeg, false};
constexpr CalloutInfo kPushSeg{handle_push_seg, CalloutKind::kPushSeg, false};
constexpr CalloutInfo kPopSeg{handle_pop_seg, CalloutKind::kPopSeg, false};
constexpr CalloutInfo kFarPointer{handle_far_pointer, CalloutKind::kFarPointer, true};
constexpr CalloutInfo kFarJmp{handle_far_jmp, CalloutKind::kFarJmp, true};
constexpr CalloutInfo kFarCall{handle_far_call, CalloutKind::kFarCall, true};
constexpr CalloutInfo kFarRet{handle_far_ret, CalloutKind::kFarRet, true};
constexpr CalloutInfo kIret{handle_iret, CalloutKind::kIret, true};
constexpr CalloutInfo kInt{handle_int, CalloutKind::kInt, true};
constexpr CalloutInfo kAccessCheck{handle_access_check, CalloutKind::kAccessCheck, false};
constexpr CalloutInfo kLegacy{handle_legacy, CalloutKind::kLegacy, false};
constexpr CalloutInfo kUd{handle_ud, CalloutKind::kUd, true};
constexpr CalloutInfo kNm{handle_nm, CalloutKind::kNm, true};
constexpr CalloutInfo kGp{handle_gp, CalloutKind::kGp, true};
constexpr CalloutInfo kSsFault{handle_ss, CalloutKind::kSs, true};
constexpr CalloutInfo kCliSti{handle_cli_sti, CalloutKind::kCliSti, false};
constexpr CalloutInfo kPopf{handle_popf, CalloutKind::kPopf, false};
constexpr CalloutInfo kPushf16{handle_pushf16, CalloutKind::kPushf16, false};
constexpr CalloutInfo kEnter{handle_enter, CalloutKind::kEnter, false};
constexpr CalloutInfo kPopMem{handle_pop_mem, CalloutKind::kPopMem, false};
constexpr CalloutInfo kInvlpg{handle_invlpg, CalloutKind::kInvlpg, false};
constexpr CalloutInfo kClts{handle_clts, CalloutKind::kClts, true};
constexpr CalloutInfo kSysenter{handle_sysenter, CalloutKind::kSysenter, true};
constexpr CalloutInfo kLoop16{handle_loop16, CalloutKind::kLoop16, true};
constexpr CalloutInfo kLea16{handle_lea16, CalloutKind::kLea16, false};
constexpr CalloutInfo kDeviceMove{handle_device_move, CalloutKind::kDeviceMove, false};

// The ISA extensions of the CPUID profile (vmm/cpuid.cc): a P6 with MMX,
// SSE and SSE2. Anything newer is #UD, as on such a CPU.
bool in_cpuid_profile(ZyanU8 isa_set) {
  static constexpr ZydisISASet kAllowed[] = {
      ZYDIS_ISA_SET_I86,      ZYDIS_ISA_SET_I186,         ZYDIS_ISA_SET_I286PROTECTED,
      ZYDIS_ISA_SET_I286REAL, ZYDIS_ISA_SET_I386,         ZYDIS_ISA_SET_I486,
      ZYDIS_ISA_SET_I486REAL, ZYDIS_ISA_SET_PENTIUMREAL,  ZYDIS_ISA_SET_PPRO,
      ZYDIS_ISA_SET_X87,      ZYDIS_ISA_SET_FAT_NOP,      ZYDIS_ISA_SET_CMOV,
      ZYDIS_ISA_SET_FCMOV,    ZYDIS_ISA_SET_PENTIUMMMX,   ZYDIS_ISA_SET_SSE,
      ZYDIS_ISA_SET_SSE2,     ZYDIS_ISA_SET_SSE2MMX,      ZYDIS_ISA_SET_SSE_PREFETCH,
      ZYDIS_ISA_SET_SSEMXCSR, ZYDIS_ISA_SET_FXSAVE,       ZYDIS_ISA_SET_CLFSH,
      ZYDIS_ISA_SET_PAUSE,    ZYDIS_ISA_SET_PREFETCH_NOP, ZYDIS_ISA_SET_LAHF,
      ZYDIS_ISA_SET_LONGMODE};
  for (ZydisISASet s : kAllowed)
    if (s == isa_set) return true;
  return false;
}

bool is_reg_class(const ZydisDecodedOperand& op, ZydisRegisterClass c) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == c;
}

bool is_far(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  return ops[0].type == ZYDIS_OPERAND_TYPE_POINTER ||
         (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
          insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) ||
         insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
}

}  // namespace

const CalloutInfo& raise_ud_callout() { return kUd; }
const CalloutInfo& raise_nm_callout() { return kNm; }
const CalloutInfo& raise_gp_callout() { return kGp; }
const CalloutInfo& raise_ss_callout() { return kSsFault; }
const CalloutInfo& cli_sti_callout() { return kCliSti; }
const CalloutInfo& device_move_callout() { return kDeviceMove; }

const CalloutInfo& stack_callout(const ZydisDecodedInstruction& insn) {
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD: return kPopf;
    case ZYDIS_MNEMONIC_PUSHF: return kPushf16;
    case ZYDIS_MNEMONIC_ENTER: return kEnter;
    case ZYDIS_MNEMONIC_POP: return kPopMem;
    default: return kUd;
  }
}

const CalloutInfo* find_callout(const ZydisDecodedInstruction& insn,
                                const ZydisDecodedOperand* ops) {
  if (insn.meta.category == ZYDIS_CATEGORY_STRINGOP ||
      insn.meta.category == ZYDIS_CATEGORY_IOSTRINGOP)
    return &kString;
  // 16-bit addressing (0x67 in 32-bit code) has no 64-bit encoding.
  if (insn.address_width == 16) {
    switch (insn.mnemonic) {
      case ZYDIS_MNEMONIC_LOOP:
      case ZYDIS_MNEMONIC_LOOPE:
      case ZYDIS_MNEMONIC_LOOPNE:
      case ZYDIS_MNEMONIC_JCXZ: return &kLoop16;
      case ZYDIS_MNEMONIC_LEA: return &kLea16;
      default:
        for (unsigned i = 0; i < insn.operand_count_visible; ++i)
          if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            static bool logged = false;
            if (!logged) log::get("bt")->warn("unimplemented: 16-bit addressing; raising #UD");
            logged = true;
            return &kUd;
          }
    }
  }
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT: return &kIo;
    case ZYDIS_MNEMONIC_HLT: return &kHlt;
    case ZYDIS_MNEMONIC_CPUID: return &kCpuid;
    case ZYDIS_MNEMONIC_RDMSR: return &kRdmsr;
    case ZYDIS_MNEMONIC_WRMSR: return &kWrmsr;
    case ZYDIS_MNEMONIC_MOV:
      if (is_reg_class(ops[0], ZYDIS_REGCLASS_CONTROL) ||
          is_reg_class(ops[1], ZYDIS_REGCLASS_CONTROL))
        return &kMovCr;
      if (is_reg_class(ops[0], ZYDIS_REGCLASS_DEBUG) || is_reg_class(ops[1], ZYDIS_REGCLASS_DEBUG))
        return &kMovDr;
      if (is_reg_class(ops[0], ZYDIS_REGCLASS_SEGMENT)) return &kMovToSeg;
      if (is_reg_class(ops[1], ZYDIS_REGCLASS_SEGMENT)) return &kMovFromSeg;
      return nullptr;
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_STR: return &kDescriptorTable;
    case ZYDIS_MNEMONIC_CLTS:
    case ZYDIS_MNEMONIC_LMSW:
    case ZYDIS_MNEMONIC_SMSW: return &kClts;
    case ZYDIS_MNEMONIC_INVLPG:
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD: return &kInvlpg;
    case ZYDIS_MNEMONIC_PUSH:
      return is_reg_class(ops[0], ZYDIS_REGCLASS_SEGMENT) ? &kPushSeg : nullptr;
    case ZYDIS_MNEMONIC_POP:
      return is_reg_class(ops[0], ZYDIS_REGCLASS_SEGMENT) ? &kPopSeg : nullptr;
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS: return &kFarPointer;
    case ZYDIS_MNEMONIC_JMP: return is_far(insn, ops) ? &kFarJmp : nullptr;
    case ZYDIS_MNEMONIC_CALL: return is_far(insn, ops) ? &kFarCall : nullptr;
    case ZYDIS_MNEMONIC_RET: return is_far(insn, ops) ? &kFarRet : nullptr;
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD: return &kIret;
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_INT1: return &kInt;
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW: return &kAccessCheck;
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAD:
    case ZYDIS_MNEMONIC_SALC:
    case ZYDIS_MNEMONIC_ARPL:
    case ZYDIS_MNEMONIC_BOUND: return &kLegacy;
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT: return &kSysenter;
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_SYSCALL:
    case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_XGETBV:
    case ZYDIS_MNEMONIC_XSETBV:
    case ZYDIS_MNEMONIC_RDPMC:
    case ZYDIS_MNEMONIC_RSM:
    case ZYDIS_MNEMONIC_MONITOR:
    case ZYDIS_MNEMONIC_MWAIT: return &kUd;
    default: break;
  }
  // Anything that needs more than the CPUID profile offers (AVX, BMI, ...)
  // or is privileged and unknown: #UD / #GP as a CPU without it would.
  // TZCNT/LZCNT are BSF/BSR with a REP prefix on a CPU without BMI1/ABM
  // (our profile): the translator emits BSF/BSR for them.
  if (insn.mnemonic == ZYDIS_MNEMONIC_TZCNT || insn.mnemonic == ZYDIS_MNEMONIC_LZCNT)
    return nullptr;
  // CET's ENDBR32/ENDBR64 sit in the hint-NOP space (0F 1E): NOPs on a CPU
  // without CET, and distribution binaries start every function with one.
  if (insn.mnemonic == ZYDIS_MNEMONIC_ENDBR32 || insn.mnemonic == ZYDIS_MNEMONIC_ENDBR64)
    return nullptr;
  if (!in_cpuid_profile(insn.meta.isa_set)) {
    static bool logged = false;
    if (!logged)
      log::get("bt")->info(
          "guest used an instruction outside the CPUID profile (isa set {}); raising #UD",
          int(insn.meta.isa_set));
    logged = true;
    return &kUd;
  }
  return nullptr;
}

}  // namespace tv::bt
