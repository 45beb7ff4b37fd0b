// Clocks for device models: the host's monotonic clock, and a manual clock
// that unit tests advance by hand.
#pragma once

#include <time.h>

#include "devices/device.h"

namespace tv::dev {

class HostClock final : public Clock {
 public:
  uint64_t now_ns() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
  }
};

class ManualClock final : public Clock {
 public:
  uint64_t now_ns() const override { return now_; }
  void set(uint64_t ns) { now_ = ns; }
  void advance(uint64_t ns) { now_ += ns; }

 private:
  uint64_t now_ = 0;
};

}  // namespace tv::dev
