// Intel 82093AA I/O APIC (datasheet 290566-001): 24 interrupt input pins,
// a redirection table that turns pin activity into APIC-bus messages, and
// the indirect IOREGSEL/IOWIN register window at pc::kIoapicBase. Devices
// drive pin levels through IrqSink (GSI n is pin n); local APICs report
// EOIs of level-triggered vectors through EoiSink. Delivery is synchronous,
// so the delivery-status bit always reads idle.
#pragma once

#include <array>
#include <cstdint>

#include "devices/apic_bus.h"
#include "devices/device.h"
#include "devices/pc_platform.h"

namespace tv::dev {

class IoApic final : public IoDevice, public IrqSink, public EoiSink {
 public:
  // The MMIO window: the MP specification places I/O APICs on 4 KiB
  // boundaries; only IOREGSEL (0x00) and IOWIN (0x10) decode.
  static constexpr uint64_t kMmioLength = 0x1000;
  static constexpr uint32_t kVersion = 0x00170011;  // 24 entries (max index 23), version 0x11

  // `bus` may be null until set_bus(): the local APICs are usually built
  // after the I/O APIC, since they need its EoiSink. Messages sent with no
  // bus are dropped (logged once).
  explicit IoApic(ApicBus* bus = nullptr);
  void set_bus(ApicBus* bus) { bus_ = bus; }

  // Power-on / RESET# state: every entry masked, ID pc::kIoapicId. Pin
  // levels are wires driven from outside and survive.
  void reset();

  std::string_view name() const override { return "ioapic"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // IrqSink: `irq` is the pin (GSI), `level` the electrical level.
  void set_irq(unsigned irq, bool level) override;

  // EoiSink: a local APIC's EOI of a level-triggered `vector`.
  void eoi(uint8_t vector) override;

  // The 64-bit redirection entry of `pin`, for tests and the monitor.
  uint64_t redirection(unsigned pin) const { return entries_[pin % kPins]; }

 private:
  static constexpr unsigned kPins = pc::kIoapicPins;

  uint32_t read_register(uint8_t index) const;
  void write_register(uint8_t index, uint32_t value);
  void write_entry_low(unsigned pin, uint32_t value);
  bool asserted(unsigned pin) const;
  bool level_triggered(unsigned pin) const;
  void service(unsigned pin);
  void deliver(unsigned pin);
  void log_bad_access(uint64_t offset, unsigned size);

  ApicBus* bus_;
  uint8_t regsel_ = 0;
  uint8_t id_ = 0;  // bits 24-27 of the ID register
  std::array<uint64_t, kPins> entries_{};
  std::array<bool, kPins> pin_level_{};  // electrical levels, before polarity
  bool logged_bad_access_ = false;
  bool logged_bad_register_ = false;
  bool logged_reserved_mode_ = false;
  bool logged_bad_pin_ = false;
  bool logged_no_bus_ = false;
};

}  // namespace tv::dev
