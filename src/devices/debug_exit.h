// QEMU-compatible isa-debug-exit (QEMU hw/misc/debugexit.c): a write of value
// v ends the VMM with exit status (v << 1) | 1, so a test guest can report
// pass/fail without a serial parser. We place it at QEMU's common test setup
// iobase=0xf4, iosize=4 so the same guest image runs under QEMU and here.
#pragma once

#include <cstdint>

#include "devices/device.h"

namespace tv::dev {

class DebugExit : public IoDevice {
 public:
  static constexpr uint64_t kPort = 0xf4;
  static constexpr uint64_t kLength = 4;

  explicit DebugExit(MachineControl& machine) : machine_(machine) {}

  std::string_view name() const override { return "isa-debug-exit"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  MachineControl& machine_;
};

}  // namespace tv::dev
