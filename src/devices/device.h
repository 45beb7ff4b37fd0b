// The interfaces a device model sees: an access by offset into its own bus
// range, an interrupt line to raise, a clock, and the machine-level requests
// (reset, exit) a device may make. Devices run on the vCPU thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tv::dev {

// A device on the port-I/O or MMIO bus. `offset` is relative to the start
// of the range the device was inserted at; `size` is 1, 2, 4 or 8 bytes.
class IoDevice {
 public:
  virtual ~IoDevice() = default;
  virtual std::string_view name() const = 0;
  virtual uint64_t read(uint64_t offset, unsigned size) = 0;
  virtual void write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

// An interrupt controller input. Devices drive levels; the controller turns
// a rising edge into a request for edge-triggered inputs (8259A default).
class IrqSink {
 public:
  virtual ~IrqSink() = default;
  virtual void set_irq(unsigned irq, bool level) = 0;
};

// What a CPU takes interrupts from: the 8259A pair's INT pin, or a local
// APIC (which passes the 8259A's ExtINT requests on through LINT0).
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  // True if a maskable interrupt is waiting for the CPU (EFLAGS.IF aside).
  virtual bool interrupt_pending() const = 0;
  // The INTA cycle: the vector, with the request moved into service.
  virtual uint8_t acknowledge() = 0;
};

// Monotonic time in nanoseconds. Tests substitute a manual clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const = 0;
};

// A device with time-driven behaviour (PIT, RTC periodic interrupt). The
// machine calls advance() after every vCPU exit and arms a host timer for
// the earliest deadline, so an idle guest sleeps instead of polling.
class TimedDevice {
 public:
  virtual ~TimedDevice() = default;
  virtual void advance(uint64_t now_ns) = 0;
  virtual std::optional<uint64_t> next_deadline_ns() const = 0;
};

// Requests a device can make of the whole machine.
class MachineControl {
 public:
  virtual ~MachineControl() = default;
  virtual void request_reset(std::string_view reason) = 0;
  virtual void request_exit(int status) = 0;
  // ACPI S5 (soft off): the run ends with status 0 and "guest powered off".
  virtual void request_power_off() = 0;
};

}  // namespace tv::dev
