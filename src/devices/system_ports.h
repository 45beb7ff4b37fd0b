// Two one-byte PC system ports: System Control Port A at 0x92 (fast reset
// and A20 gate, as on PS/2 and every chipset since) and the POST code port
// at 0x80 that BIOSes and Linux's io_delay write to.
#pragma once

#include <cstdint>

#include "devices/device.h"

namespace tv::dev {

// Port 0x92, "System Control Port A" (IBM PS/2 Hardware Interface Technical
// Reference). Bit 0 = fast CPU reset, bit 1 = A20 gate; the other bits
// (security lock, disk light) are stored and read back.
class ResetPort92 : public IoDevice {
 public:
  static constexpr uint64_t kPort = 0x92;

  explicit ResetPort92(MachineControl& machine) : machine_(machine) {}

  std::string_view name() const override { return "port92"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // The gate is stored only: the machine never masks address bit 20.
  bool a20_enabled() const { return (value_ & kA20) != 0; }

 private:
  static constexpr uint8_t kFastReset = 0x01;
  static constexpr uint8_t kA20 = 0x02;

  MachineControl& machine_;
  // A20 starts enabled, the state firmware leaves it in before an OS boots.
  uint8_t value_ = kA20;
};

// Port 0x80, the POST diagnostic port: a sink that remembers the last byte
// so a stuck guest's progress code can be shown.
class PostPort80 : public IoDevice {
 public:
  static constexpr uint64_t kPort = 0x80;

  std::string_view name() const override { return "port80"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  uint8_t last() const { return last_; }

 private:
  uint8_t last_ = 0;
};

}  // namespace tv::dev
