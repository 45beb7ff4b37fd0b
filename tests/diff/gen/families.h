// Instruction families of the case generator. Each emitter appends one
// instruction, or a short template that sets up what the instruction needs
// (a known shift count, a divisor that cannot raise #DE), and returns true;
// or it returns false, having emitted nothing, when the case's state rules
// it out (a flag it would read is undefined, a register it needs is the
// buffer pointer, no room for a template).
#pragma once

#include "builder.h"

namespace tv::difftest {

// alu.cc: ADD..CMP, TEST, INC/DEC, NEG/NOT, MOV, LEA.
bool emit_alu(Builder& b);
bool emit_test(Builder& b);
bool emit_inc_dec(Builder& b);
bool emit_neg_not(Builder& b);
bool emit_mov(Builder& b);
bool emit_lea(Builder& b);

// shift.cc: ROL ROR RCL RCR SHL SHR SAR, SHLD/SHRD.
bool emit_shift(Builder& b);
bool emit_double_shift(Builder& b);

// muldiv.cc: MUL/IMUL (one, two, three operands), DIV/IDIV.
bool emit_mul(Builder& b);
bool emit_imul(Builder& b);
bool emit_div(Builder& b);

// bits.cc: BT BTS BTR BTC, BSF/BSR, SETcc, CMOVcc, MOVZX/MOVSX, XCHG,
// CMPXCHG, XADD, BSWAP.
bool emit_bit_test(Builder& b);
bool emit_bit_scan(Builder& b);
bool emit_setcc(Builder& b);
bool emit_cmov(Builder& b);
bool emit_move_extend(Builder& b);
bool emit_xchg(Builder& b);
bool emit_cmpxchg(Builder& b);
bool emit_xadd(Builder& b);
bool emit_bswap(Builder& b);

// misc.cc: CBW/CWDE/CWD/CDQ, LAHF/SAHF, CMC CLC STC CLD STD, PUSH/POP,
// PUSHF/POPF; close_stack() pops what the case left pushed.
bool emit_convert(Builder& b);
bool emit_lahf_sahf(Builder& b);
bool emit_flag_op(Builder& b);
bool emit_push(Builder& b);
bool emit_pop(Builder& b);
bool emit_pushf(Builder& b);
bool emit_popf(Builder& b);
void close_stack(Builder& b);

// The effects shared by several families (SDM Vol. 1 Appendix A, Table A-2).
inline constexpr FlagEffect kArithFlags{0, DIFF_STATUS_FLAGS, 0};
inline constexpr FlagEffect kLogicFlags{0, DIFF_STATUS_FLAGS & ~DIFF_AF, DIFF_AF};
inline constexpr FlagEffect kMulFlags{0, DIFF_CF | DIFF_OF, DIFF_SF | DIFF_ZF | DIFF_AF | DIFF_PF};

// Opcode byte for an 8-bit form `op8`, or the 16/32-bit form op8 + 1.
inline uint8_t sized(uint8_t op8, int bits) { return bits == 8 ? op8 : op8 + 1; }

}  // namespace tv::difftest
