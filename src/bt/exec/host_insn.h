// The host instruction a signal interrupted in translated code (x86-64),
// decoded with its operands. Async-signal-safe: Zydis allocates nothing.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

namespace tv::bt {

struct HostInsn {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

// False if the bytes at `pc` do not decode.
inline bool decode_host_insn(const uint8_t* pc, HostInsn& out) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  return ZYAN_SUCCESS(
      ZydisDecoderDecodeFull(&dec, pc, ZYDIS_MAX_INSTRUCTION_LENGTH, &out.insn, out.ops));
}

}  // namespace tv::bt
