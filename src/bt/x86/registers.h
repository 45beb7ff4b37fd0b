// Zydis register names -> the guest register files of CpuState.
#pragma once

#include <Zydis/Zydis.h>

#include "bt/x86/cpu_state.h"

namespace tv::bt {

// The segment register a Zydis segment register names; DS for anything
// else (a memory operand's default segment is resolved by the decoder).
inline SegReg seg_of(ZydisRegister reg) {
  switch (reg) {
    case ZYDIS_REGISTER_ES: return kEs;
    case ZYDIS_REGISTER_CS: return kCs;
    case ZYDIS_REGISTER_SS: return kSs;
    case ZYDIS_REGISTER_FS: return kFs;
    case ZYDIS_REGISTER_GS: return kGs;
    default: return kDs;
  }
}

// The GPR a 32- or 16-bit Zydis register names.
inline Gpr gpr_index(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) return Gpr(r - ZYDIS_REGISTER_EAX);
  return Gpr(r - ZYDIS_REGISTER_AX);
}

}  // namespace tv::bt
