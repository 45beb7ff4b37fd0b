// Fakes of the interfaces devices talk to (devices/device.h), shared by
// the device unit tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "devices/device.h"

namespace tv::dev {

// Records reset and exit requests.
class FakeMachine : public MachineControl {
 public:
  void request_reset(std::string_view reason) override { resets.emplace_back(reason); }
  void request_exit(int status) override { exits.push_back(status); }
  void request_power_off() override { ++power_offs; }
  std::vector<std::string> resets;
  std::vector<int> exits;
  unsigned power_offs = 0;
};

// Tracks each IRQ line's level and counts its rising edges.
class FakeIrq : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override {
    if (level && !levels[irq]) ++rising[irq];
    levels[irq] = level;
  }
  bool levels[16] = {};
  unsigned rising[16] = {};
};

}  // namespace tv::dev
