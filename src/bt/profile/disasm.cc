#include "bt/profile/disasm.h"

#include <Zydis/Zydis.h>
#include <capstone/capstone.h>
#include <fmt/format.h>

namespace tv::bt {

std::string disassemble_guest(const Block& block, LinearMemory& memory) {
  std::string out;
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  ZydisFormatter fmt;
  ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
  // Read the code through the frames the block was translated from: the
  // current page tables may map its linear address elsewhere, or not at all.
  auto byte_at = [&](uint32_t k) -> uint8_t {
    uint64_t off = (block.phys & 0xFFF) + k;
    uint64_t frame = off < 4096 ? block.pages[0] : block.pages[1];
    const uint8_t* p =
        frame == kNoFrame ? nullptr : memory.ram().host(GuestPhys{frame + (off & 0xFFF)});
    return p ? *p : 0xFF;
  };
  uint32_t eip = block.eip;
  for (uint32_t n = 0; n < block.insn_count; ++n) {
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
    for (uint32_t k = 0; k < sizeof buf; ++k) buf[k] = byte_at(eip - block.eip + k);
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, buf, sizeof buf, &insn, ops))) {
      out += fmt::format("    {:08x}  (undecodable)\n", eip);
      break;
    }
    char text[256];
    ZydisFormatterFormatInstruction(&fmt, &insn, ops, insn.operand_count_visible, text, sizeof text,
                                    eip, nullptr);
    out += fmt::format("    {:08x}  {}\n", eip, text);
    eip += insn.length;
  }
  return out;
}

std::string disassemble_host(const Block& block) {
  std::string out;
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return "    (capstone unavailable)\n";
  cs_insn* insn = nullptr;
  size_t count = cs_disasm(handle, block.host, block.host_len,
                           reinterpret_cast<uint64_t>(block.host), 0, &insn);
  for (size_t i = 0; i < count; ++i)
    out +=
        fmt::format("    {:>5x}  {} {}\n", insn[i].address - reinterpret_cast<uint64_t>(block.host),
                    insn[i].mnemonic, insn[i].op_str);
  if (count) cs_free(insn, count);
  cs_close(&handle);
  return out;
}

}  // namespace tv::bt
