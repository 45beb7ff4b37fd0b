// MC146818-compatible CMOS RTC and NVRAM (port 0x70 index, 0x71 data, IRQ8).
// The time is the host's wall clock read once at start-up, carried forward by
// the monotonic clock, so seconds, UIP and the update/periodic interrupts all
// agree and tests are deterministic. A guest that sets the clock moves an
// offset; the host clock is never touched. Interrupt flags are computed
// lazily from time; a deadline exists only while an enabled interrupt can
// still fire, so an idle guest is not woken.
#pragma once

#include <time.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

#include "devices/device.h"

namespace tv::dev {

class Rtc final : public IoDevice, public TimedDevice {
 public:
  Rtc(
      const Clock& clock, IrqSink& irq, uint64_t ram_bytes,
      std::function<time_t()> wall_clock = [] { return time(nullptr); });

  std::string_view name() const override { return "rtc"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  void advance(uint64_t now_ns) override;
  std::optional<uint64_t> next_deadline_ns() const override;

  // Port 0x70 bit 7, kept for the machine to consult.
  bool nmi_disabled() const { return nmi_disabled_; }

 private:
  uint8_t read_register(uint8_t index, uint64_t now);
  void write_register(uint8_t index, uint8_t value, uint64_t now);
  void write_time_field(uint8_t index, uint8_t value, uint64_t now);
  void write_reg_a(uint8_t value, uint64_t now);
  void write_reg_b(uint8_t value, uint64_t now);
  uint8_t read_reg_c(uint64_t now);

  uint64_t since_epoch(uint64_t now) const;
  tm broken_down(uint64_t now) const;
  uint8_t time_field(const tm& t, uint8_t index) const;
  uint8_t encode(unsigned value) const;
  unsigned decode(uint8_t value) const;
  uint8_t encode_hour(unsigned hour24) const;
  unsigned decode_hour(uint8_t value) const;

  uint64_t period_units() const;  // periodic period in 1/32768 s, 0 if off
  uint64_t periodic_index(uint64_t ns) const;
  uint64_t periodic_time(uint64_t index) const;
  std::optional<uint64_t> next_periodic_after(uint64_t ns) const;
  uint64_t next_update_after(uint64_t ns) const;
  void sync(uint64_t now);
  void update_irq();
  void set_nvram_memory_sizes(uint64_t ram_bytes);

  const Clock& clock_;
  IrqSink& irq_;
  std::array<uint8_t, 128> cmos_{};  // NVRAM and the stored registers
  uint8_t index_ = 0;
  bool nmi_disabled_ = false;

  // Guest time: `epoch_s` seconds at monotonic instant `epoch_ns`, which is
  // also the phase of the divider chain (updates and periodic ticks).
  int64_t epoch_s_ = 0;
  uint64_t epoch_ns_ = 0;
  tm held_{};  // the registers the guest is editing while SET = 1

  uint64_t last_update_ns_ = 0;    // the last update cycle accounted for
  uint64_t last_periodic_ns_ = 0;  // the last periodic tick accounted for
  bool irq_level_ = false;
};

}  // namespace tv::dev
