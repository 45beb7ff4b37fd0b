// The VGA CRT controller's register file (IBM VGA Technical Reference,
// "CRT Controller Registers"): the index port 0x3D4 and the data port
// 0x3D5, and Input Status #1 at 0x3DA. There is no display behind it yet;
// kernels that move the hardware cursor or read it back (most hobby
// kernels written against QEMU do, before anything else) see a register
// file that keeps what they wrote, and a retrace bit that toggles so that
// waits for vertical retrace end.
#pragma once

#include <array>
#include <cstdint>

#include "devices/device.h"

namespace tv::dev {

class VgaCrtc final : public IoDevice {
 public:
  static constexpr uint16_t kBase = 0x3D4;  // index; data at +1
  static constexpr uint16_t kLength = 7;    // 0x3D4-0x3DA
  static constexpr unsigned kCursorStart = 0x0A, kCursorEnd = 0x0B, kStartHigh = 0x0C,
                            kStartLow = 0x0D, kCursorHigh = 0x0E, kCursorLow = 0x0F;

  VgaCrtc();

  std::string_view name() const override { return "vga-crtc"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // The cursor's character offset in the text buffer (registers 0x0E/0x0F).
  uint16_t cursor() const { return uint16_t(regs_[kCursorHigh] << 8 | regs_[kCursorLow]); }

 private:
  uint8_t read_byte(unsigned port);
  void write_byte(unsigned port, uint8_t value);

  // The index register is 8 bits wide; registers past 0x18 do not exist on
  // a VGA but read back what was written, as QEMU's do.
  std::array<uint8_t, 256> regs_{};
  uint8_t index_ = 0;
  bool retrace_ = false;
};

}  // namespace tv::dev
