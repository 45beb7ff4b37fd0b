// IA-PC HPET (High Precision Event Timers, specification 1.0a) at
// pc::kHpetBase: one 64-bit main counter at 100 MHz and three comparators,
// the block QEMU gives its PC machines. Like the PIT, nothing runs per
// tick: the counter is a function of the clock, and comparator matches are
// found when the machine calls advance() or the guest touches a register.
//
// Interrupt outputs go to two sinks: `gsi` takes I/O APIC inputs by GSI,
// `pic` takes 8259 inputs and is used only in legacy replacement mode
// (timer 0 drives GSI 2 and IRQ0, timer 1 GSI 8 and IRQ8, as the PIT and
// RTC would). Outside legacy mode a timer drives the GSI in its
// INT_ROUTE_CNF; only GSIs 20-23 are offered (kRouteCap), the pins no ISA
// device or PCI link uses. FSB (MSI) delivery is not offered.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "devices/device.h"

namespace tv::dev {

class Hpet final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kMmioLength = 0x400;
  static constexpr unsigned kTimers = 3;
  static constexpr uint64_t kPeriodFs = 10'000'000;  // 10 ns: 100 MHz, as QEMU
  static constexpr uint32_t kRouteCap = 0x00F00000;  // GSIs 20-23

  // Either sink may be null (not connected).
  Hpet(const Clock& clock, IrqSink* gsi, IrqSink* pic);

  // Told when legacy replacement mode is entered (true) or left (false), so
  // the machine can disconnect the PIT's IRQ0 and the RTC's IRQ8 meanwhile.
  void set_legacy_listener(std::function<void(bool)> listener) {
    legacy_listener_ = std::move(listener);
  }

  // Power-on state: halted, counter 0, timers disabled, comparators all-ones.
  void reset();

  std::string_view name() const override { return "hpet"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Fires every comparator match in (last check, now]; a periodic timer
  // that fell several periods behind fires once.
  void advance(uint64_t now_ns) override;
  // The earliest match that would raise an interrupt.
  std::optional<uint64_t> next_deadline_ns() const override;

  bool legacy_mode() const;

 private:
  // Interrupt outputs of one timer; -1 = none.
  struct Output {
    int gsi = -1;
    int pic = -1;
    bool operator==(const Output&) const = default;
  };

  struct Timer {
    uint64_t config = 0;  // the writable Tn_CONF bits
    uint64_t comparator = ~0ull;
    uint64_t period = 0;     // periodic mode: the last value written
    uint64_t checked = 0;    // the counter value matches were found up to
    bool line_high = false;  // level mode: `driven` is held high
    Output driven;
  };

  uint64_t counter_at(uint64_t now) const;
  bool enabled() const;
  void sync(uint64_t now);
  void check_timer(unsigned n, uint64_t count);
  static unsigned __int128 ticks_to_match(const Timer& t);
  void fire(unsigned n);

  uint64_t read_register(uint64_t reg) const;
  void write_register(uint64_t reg, uint64_t value, uint64_t mask, uint64_t now);
  void write_config(uint64_t value, uint64_t now);
  void write_counter(uint64_t value, uint64_t mask, uint64_t now);
  void write_timer_config(unsigned n, uint64_t value, uint64_t mask);
  void write_comparator(unsigned n, uint64_t value, uint64_t mask, uint64_t now);

  Output output_of(unsigned n);
  bool line_level(unsigned n) const;
  void update_line(unsigned n);
  void drive(const Output& out, bool level);
  void log_once(bool& flag, std::string_view what);

  const Clock& clock_;
  IrqSink* gsi_;
  IrqSink* pic_;
  std::function<void(bool)> legacy_listener_;

  uint64_t config_ = 0;      // ENABLE_CNF, LEG_RT_CNF
  uint64_t status_ = 0;      // level-mode interrupt status, bit n = timer n
  uint64_t base_count_ = 0;  // the counter at base_ns_ (or while halted)
  uint64_t base_ns_ = 0;
  std::array<Timer, kTimers> timers_;

  bool logged_bad_access_ = false;
  bool logged_counter_write_ = false;
  bool logged_bad_route_ = false;
  bool logged_no_route_ = false;
};

}  // namespace tv::dev
