#include "devices/vga_crtc.h"

namespace tv::dev {
namespace {

constexpr unsigned kIndex = 0, kData = 1, kStatus1 = 6;  // offsets from 0x3D4
// Input Status #1: bit 0 display disabled (horizontal or vertical
// retrace), bit 3 vertical retrace.
constexpr uint8_t kStatusRetrace = 0x09;

}  // namespace

VgaCrtc::VgaCrtc() {
  // Mode 3 after a BIOS set it: 80x25, cursor on scan lines 14-15.
  regs_[0x01] = 79;  // horizontal display end
  regs_[0x09] = 15;  // maximum scan line: 16-line characters
  regs_[kCursorStart] = 14;
  regs_[kCursorEnd] = 15;
  regs_[0x12] = 0x8F;  // vertical display end (low 8 bits of 399)
  regs_[0x13] = 40;    // offset: 80 characters per row, in words
}

uint8_t VgaCrtc::read_byte(unsigned port) {
  switch (port) {
    case kIndex: return index_;
    case kData: return regs_[index_];
    case kStatus1:
      // Toggles on every read, so both "wait for retrace" and "wait for
      // the end of retrace" loops finish.
      retrace_ = !retrace_;
      return retrace_ ? kStatusRetrace : 0;
    default: return 0xFF;  // 0x3D6-0x3D9: nothing decodes them
  }
}

void VgaCrtc::write_byte(unsigned port, uint8_t value) {
  if (port == kIndex)
    index_ = value;
  else if (port == kData)
    regs_[index_] = value;
  // Writes to 0x3DA (feature control) and the gaps are dropped.
}

uint64_t VgaCrtc::read(uint64_t offset, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size && offset + i < kLength; ++i)
    v |= uint64_t(read_byte(unsigned(offset + i))) << (8 * i);
  return v;
}

// A 16-bit OUT to 0x3D4 writes the index and then the data byte, the way
// kernels set a register in one instruction (`outw` of index | value << 8).
void VgaCrtc::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && offset + i < kLength; ++i)
    write_byte(unsigned(offset + i), uint8_t(value >> (8 * i)));
}

}  // namespace tv::dev
