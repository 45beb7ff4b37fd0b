// ACPI fixed hardware of a PIIX4-style PM block (ACPI 6.x section 4.8,
// PIIX4 datasheet "Power Management Registers"): PM1a event and control
// registers and the PM timer at pc::kPmBase, the GPE0 block at
// pc::kGpe0Base, and the FADT reset register (the PIIX reset control
// register, port pc::kResetPort). The machine is in ACPI mode from power-on
// (the FADT has SMI_CMD = 0), so SCI_EN always reads 1 and there is no SMI.
// The SCI is a level on IRQ pc::kSciIrq, active high at the IrqSink.
//
// Only \_S5 (soft off) is implemented; other sleep states wake at once.
// The PM timer is 24 bits wide: the FADT must leave TMR_VAL_EXT clear.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "devices/device.h"

namespace tv::dev {

class AcpiPm final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kTimerHz = 3'579'545;
  static constexpr unsigned kTimerBits = 24;

  // `sci` may be null (not connected).
  AcpiPm(const Clock& clock, MachineControl& machine, IrqSink* sci);

  // Power-on state of the event, control and GPE registers; the PM timer
  // keeps counting.
  void reset();

  // The PM1a block: insert at pc::kPmBase, length pc::kPmLength.
  std::string_view name() const override { return "acpi_pm"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Sets TMR_STS when bit 23 of the PM timer has toggled since the last
  // check. Deadlines exist only while that would raise the SCI.
  void advance(uint64_t now_ns) override;
  std::optional<uint64_t> next_deadline_ns() const override;

  // The fixed power button (ACPI 4.8.2.2.1): sets PWRBTN_STS, which raises
  // the SCI if PWRBTN_EN is set. For the monitor.
  void press_power_button();

  // The GPE0 block: insert at pc::kGpe0Base, length pc::kGpe0Length. It
  // refers to this device and must not outlive it.
  std::shared_ptr<IoDevice> gpe0() const { return gpe0_; }

  bool sci_level() const { return sci_level_; }

 private:
  uint64_t timer_ticks(uint64_t now) const;
  void sync(uint64_t now);
  uint16_t read_word(uint64_t offset, uint64_t now) const;
  void write_word(uint64_t offset, uint16_t value, uint16_t mask);
  void write_control(uint16_t value, uint16_t mask);
  void update_sci();
  uint64_t read_gpe0(uint64_t offset, unsigned size);
  void write_gpe0(uint64_t offset, unsigned size, uint64_t value);

  const Clock& clock_;
  MachineControl& machine_;
  IrqSink* sci_;
  std::shared_ptr<IoDevice> gpe0_;

  uint16_t pm1_status_ = 0;
  uint16_t pm1_enable_ = 0;
  uint16_t pm1_control_ = 0;  // the stored bits: BM_RLS, SLP_TYP
  uint16_t gpe0_status_ = 0;
  uint16_t gpe0_enable_ = 0;
  uint64_t timer_epoch_ns_ = 0;
  uint64_t timer_checked_ = 0;  // ticks up to which carries were looked for
  bool sci_level_ = false;
  bool logged_sleep_ = false;
};

// The FADT reset register: the PIIX reset control register at port 0xCF9,
// one byte. A write with RCPU (bit 2) set resets the machine; bits 1-3
// (SRST, RCPU, FULL_RST) read back as last written.
class ResetControl final : public IoDevice {
 public:
  explicit ResetControl(MachineControl& machine) : machine_(machine) {}

  std::string_view name() const override { return "reset_control"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  MachineControl& machine_;
  uint8_t value_ = 0;
};

}  // namespace tv::dev
