// Instructions that do not exist in 64-bit mode (SDM Vol. 2: "Invalid in
// 64-bit mode"), so translated code cannot re-encode them and calls out to
// these helpers instead: PUSHA/POPA, the BCD adjusts DAA/DAS/AAA/AAS/AAM/AAD,
// SALC, BOUND, LES/LDS, PUSH/POP of ES/CS/SS/DS and INTO.
//
// Each helper either completes or throws GuestFault with the guest state
// unchanged (memory below ESP aside), so the caller can deliver the fault at
// the instruction. cpu.eip is the caller's to advance. Stack accesses go
// through segments.h's Stack: SS:ESP, or SS:SP when SS.B is clear (SDM
// Vol. 3A 3.4.5, D/B flag).
//
// Flags the SDM leaves undefined are set the way an Intel CPU (a Xeon, run
// in compatibility mode over every input) sets them:
//   DAA, DAS: OF = 0.   AAA, AAS: SF/ZF/PF from the result AL, OF = 0.
//   AAM: OF = AF = CF = 0.   AAD: OF/AF/CF of the 8-bit ADD AL + AH * imm8.
#pragma once

#include <cstdint>
#include <functional>

#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

enum class OperandSize { k16, k32 };

// Loads a segment register the way MOV Sreg does (descriptor checks, hidden
// cache); provided by the caller. May throw GuestFault.
using LoadSegment = std::function<void(SegReg, uint16_t)>;

// PUSHA/PUSHAD: pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI.
void pusha(CpuState& cpu, LinearMemory& mem, OperandSize size);
// POPA/POPAD: the reverse; the ESP slot is skipped.
void popa(CpuState& cpu, LinearMemory& mem, OperandSize size);
// ENTER alloc, level with a 32-bit stack (SDM Vol. 2A ENTER; the level is
// taken mod 32). A fault on any push or frame-pointer read leaves ESP and
// EBP as they were, as the CPU does.
void enter(CpuState& cpu, LinearMemory& mem, uint16_t alloc, uint8_t level);

void daa(CpuState& cpu);
void das(CpuState& cpu);
void aaa(CpuState& cpu);
void aas(CpuState& cpu);
// AAM imm8: throws #DE for imm8 = 0.
void aam(CpuState& cpu, uint8_t imm);
void aad(CpuState& cpu, uint8_t imm);
// SALC (D6, undocumented): AL = CF ? 0xFF : 0; flags unchanged.
void salc(CpuState& cpu);

// BOUND r, m: throws #BR unless lower <= reg <= upper (signed), with the
// bound pair at seg:offset.
void bound(CpuState& cpu, LinearMemory& mem, OperandSize size, Gpr reg, SegReg seg,
           uint32_t offset);

// LES/LDS (and LSS/LFS/LGS) r, m16:16/m16:32: loads `target` with the
// selector after the offset at seg:offset, then `reg` with the offset.
void load_far_pointer(CpuState& cpu, LinearMemory& mem, OperandSize size, Gpr reg, SegReg target,
                      SegReg seg, uint32_t offset, const LoadSegment& load_segment);

// PUSH Sreg: the selector, zero-extended to the operand size.
void push_segment(CpuState& cpu, LinearMemory& mem, OperandSize size, SegReg s);
// POP Sreg: throws #UD for CS. POP SS blocks interrupts for one instruction.
void pop_segment(CpuState& cpu, LinearMemory& mem, OperandSize size, SegReg s,
                 const LoadSegment& load_segment);

// INTO: true if OF is set, i.e. the caller must deliver #OF (a trap: the
// saved EIP is that of the next instruction).
inline bool into(const CpuState& cpu) { return cpu.host_flags & kFlagOf; }

}  // namespace tv::bt
