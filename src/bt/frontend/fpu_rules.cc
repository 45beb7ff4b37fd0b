#include "bt/frontend/fpu_rules.h"

#include "bt/frontend/translator.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

// The fault an x87/MMX/SSE instruction raises in this mode, or 0 (SDM Vol.
// 3A Table 2-2 and the instruction pages' exception lists).
uint8_t fpu_trap(const ZydisDecodedInstruction& d, uint32_t mode) {
  bool em = mode & Mode::kCr0Em, ts = mode & Mode::kCr0Ts;
  if (d.mnemonic == ZYDIS_MNEMONIC_FWAIT) return ts && (mode & Mode::kCr0Mp) ? kNM : 0;
  switch (d.meta.isa_set) {
    case ZYDIS_ISA_SET_X87:
    case ZYDIS_ISA_SET_FCMOV:
    case ZYDIS_ISA_SET_FXSAVE: return em || ts ? kNM : 0;
    case ZYDIS_ISA_SET_PENTIUMMMX: return em ? kUD : ts ? kNM : 0;
    case ZYDIS_ISA_SET_SSE:
    case ZYDIS_ISA_SET_SSE2:
    case ZYDIS_ISA_SET_SSE2MMX:
    case ZYDIS_ISA_SET_SSEMXCSR: return em || (mode & Mode::kNoOsfxsr) ? kUD : ts ? kNM : 0;
    default: return 0;
  }
}

// True if the instruction touches the x87/MMX registers, which the fast
// callout path does not save.
bool touches_x87(const ZydisDecodedInstruction& d, const ZydisDecodedOperand* ops) {
  switch (d.meta.isa_set) {
    case ZYDIS_ISA_SET_X87:
    case ZYDIS_ISA_SET_FCMOV:
    case ZYDIS_ISA_SET_PENTIUMMMX:
    case ZYDIS_ISA_SET_SSE2MMX:
    case ZYDIS_ISA_SET_FXSAVE: return true;
    default: break;
  }
  for (unsigned k = 0; k < d.operand_count; ++k)
    if (ops[k].type == ZYDIS_OPERAND_TYPE_REGISTER) {
      auto c = ZydisRegisterGetClass(ops[k].reg.value);
      if (c == ZYDIS_REGCLASS_MMX || c == ZYDIS_REGCLASS_X87) return true;
    }
  return false;
}

// True if the instruction reads or writes XMM0-7 or MXCSR (FXSAVE and
// FXRSTOR included), which callouts leave in the image.
bool touches_sse(const ZydisDecodedInstruction& d, const ZydisDecodedOperand* ops) {
  switch (d.meta.isa_set) {
    case ZYDIS_ISA_SET_SSE:
    case ZYDIS_ISA_SET_SSE2:
    case ZYDIS_ISA_SET_SSE2MMX:
    case ZYDIS_ISA_SET_SSEMXCSR:
    case ZYDIS_ISA_SET_FXSAVE: return true;
    default: break;
  }
  for (unsigned k = 0; k < d.operand_count; ++k)
    if (ops[k].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(ops[k].reg.value) == ZYDIS_REGCLASS_XMM)
      return true;
  return false;
}

}  // namespace tv::bt
