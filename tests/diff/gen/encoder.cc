// ModRM/SIB encoding rules: SDM Vol. 2A 2.1.5, Tables 2-2 and 2-3.
#include "encoder.h"

namespace tv::difftest {

namespace {

constexpr int kRmSib = 4;       // r/m 100b: a SIB byte follows
constexpr int kRmDisp32 = 5;    // mod 00, r/m 101b: disp32, no base
constexpr int kSibNoIndex = 4;  // SIB index 100b: no index
constexpr int kSibNoBase = 5;   // mod 00, SIB base 101b: disp32, no base

bool fits_disp8(int32_t d) { return d >= -128 && d <= 127; }

}  // namespace

void Code::imm(uint32_t value, int size_bytes) {
  for (int i = 0; i < size_bytes; ++i) byte(static_cast<uint8_t>(value >> (8 * i)));
}

void Code::modrm(int reg_field, const Rm& rm) {
  if (!rm.is_mem) {
    byte(static_cast<uint8_t>(0xC0 | (reg_field << 3) | rm.reg));
    return;
  }
  memory(reg_field, rm.mem);
}

void Code::memory(int reg_field, const Mem& m) {
  const int reg = reg_field << 3;
  const int index = m.index >= 0 ? m.index : kSibNoIndex;
  const auto sib = [&](int base) {
    return static_cast<uint8_t>((m.scale_log << 6) | (index << 3) | base);
  };
  if (m.base < 0) {  // LEA only: [disp32] or [index*scale + disp32]
    if (m.index < 0 && !m.force_sib) {
      byte(static_cast<uint8_t>(reg | kRmDisp32));
    } else {
      byte(static_cast<uint8_t>(reg | kRmSib));
      byte(sib(kSibNoBase));
    }
    imm(static_cast<uint32_t>(m.disp), 4);
    return;
  }
  // mod 00 with base EBP means "no base", so [ebp] needs a zero disp8.
  int mod = 2;
  if (m.disp_size == DispSize::kAuto && m.disp == 0 && m.base != DIFF_EBP) {
    mod = 0;
  } else if (m.disp_size != DispSize::kDisp32 && fits_disp8(m.disp)) {
    mod = 1;
  }
  const bool need_sib = m.index >= 0 || m.force_sib || m.base == DIFF_ESP;
  byte(static_cast<uint8_t>((mod << 6) | reg | (need_sib ? kRmSib : m.base)));
  if (need_sib) byte(sib(m.base));
  if (mod == 1) imm(static_cast<uint32_t>(m.disp), 1);
  if (mod == 2) imm(static_cast<uint32_t>(m.disp), 4);
}

}  // namespace tv::difftest
