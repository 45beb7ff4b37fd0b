// x87/MMX/SSE rules the translator applies per instruction: the fault an
// instruction raises with CR0.TS/EM/MP or without CR4.OSFXSR (the
// translation mode carries those bits), and whether it touches the x87/MMX
// registers (which the fast callout path does not save).
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

namespace tv::bt {

// The vector (kNM or kUD) the instruction raises in `mode`, or 0.
uint8_t fpu_trap(const ZydisDecodedInstruction& d, uint32_t mode);
bool touches_x87(const ZydisDecodedInstruction& d, const ZydisDecodedOperand* ops);
// True if it touches XMM0-7 or MXCSR (translated code loads them first).
bool touches_sse(const ZydisDecodedInstruction& d, const ZydisDecodedOperand* ops);

}  // namespace tv::bt
