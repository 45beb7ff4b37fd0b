// Intel 8254 programmable interval timer (ports 0x40-0x43, 1.193182 MHz) and
// the port 0x61 facade that exposes channel 2's gate and OUT (PC/AT "NMI
// status and control" port). Counters are not stepped: each channel keeps the
// host time its count was loaded and computes its count and OUT from the
// clock, so an idle guest costs nothing and a guest polling OUT2 (Linux's TSC
// calibration) sees real time pass. Channel 0's OUT drives IRQ0.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "devices/device.h"

namespace tv::dev {

class Pit8254 final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kInputHz = 1193182;

  Pit8254(const Clock& clock, IrqSink& irq);

  std::string_view name() const override { return "pit"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Raises one IRQ0 edge if any channel-0 edge fell in (last advance, now].
  void advance(uint64_t now_ns) override;
  // The next channel-0 edge; nullopt when channel 0 will not fire.
  std::optional<uint64_t> next_deadline_ns() const override;

  // The port 0x61 device (insert it at 0x61, length 1). It refers to this
  // PIT and must not be used after the PIT is destroyed.
  std::shared_ptr<IoDevice> port61() const { return port61_; }

  // Channel 0's period in ns in modes 2/3, else 0 (for diagnostics).
  uint64_t irq0_period_ns() const;

 private:
  enum class Access : uint8_t { kLatch = 0, kLow = 1, kHigh = 2, kLowHigh = 3 };

  // Count `reload` from `load_ns`, having already counted `base_ticks`.
  struct Segment {
    uint32_t reload = 0x10000;
    uint64_t load_ns = 0;
    uint64_t base_ticks = 0;
  };

  struct Channel {
    uint8_t mode = 0;  // 0-5; 6 and 7 are stored as 2 and 3
    Access access = Access::kLowHigh;
    bool bcd = false;
    bool gate = true;
    bool loaded = false;           // a count is in the counting element
    bool frozen = false;           // loaded but gate low: ticks stand still
    uint64_t frozen_ticks = 0;     // ticks counted when the gate fell
    uint32_t count_reg = 0x10000;  // last complete count written (CR)
    Segment seg;
    std::optional<Segment> next;  // modes 2/3: new count at the period end
    bool write_high_next = false;
    uint8_t write_low = 0;
    bool read_high_next = false;
    std::optional<uint16_t> latched_count;
    std::optional<uint8_t> latched_status;
    uint64_t last_edge_ns = 0;  // channel 0: the last edge raised
    bool oneshot_done = false;  // channel 0, modes 0/4: the edge was raised
  };

  void write_control(uint8_t value, uint64_t now);
  void read_back(uint8_t value, uint64_t now);
  void write_count(Channel& ch, uint8_t value, uint64_t now);
  void load_count(Channel& ch, uint32_t count, uint64_t now);
  uint8_t read_counter(Channel& ch, uint64_t now);
  void set_gate2(bool gate, uint64_t now);
  uint64_t read_port61(uint64_t offset, unsigned size);
  void write_port61(uint64_t offset, unsigned size, uint64_t value);

  static const Segment& segment_at(const Channel& ch, uint64_t ns);
  static uint64_t ticks_at(const Channel& ch, uint64_t ns);
  static uint64_t ns_at_tick(const Segment& seg, uint64_t tick);
  static uint16_t count_at(const Channel& ch, uint64_t ns);
  static bool out_at(const Channel& ch, uint64_t ns);
  static bool periodic(const Channel& ch) { return ch.mode == 2 || ch.mode == 3; }
  uint8_t status_byte(const Channel& ch, uint64_t now) const;
  static void settle(Channel& ch, uint64_t now);
  std::optional<uint64_t> edge_after(uint64_t ns) const;
  void note_approximation(const Channel& ch);

  const Clock& clock_;
  IrqSink& irq_;
  std::array<Channel, 3> channels_;
  std::shared_ptr<IoDevice> port61_;
  bool speaker_ = false;  // port 0x61 bit 1, stored only
  bool refresh_ = false;  // port 0x61 bit 4
  bool logged_approximation_ = false;
};

}  // namespace tv::dev
