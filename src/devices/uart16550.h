// 16550A UART (PC COM1: ports 0x3F8-0x3FF, IRQ4), modelled to the level the
// Linux 8250 driver probes and uses. Transmission is instant: a byte written
// to THR goes to the host at once, so THRE/TEMT are always set and the THRE
// interrupt re-arms right after every THR write. Host input enters a 16-byte
// RX FIFO (1 byte when the FIFOs are off); the machine feeds it only as far
// as rx_space() allows, so overrun happens only if a guest-visible overflow
// is forced. Interrupts drive the IrqSink line through MCR.OUT2, which is how
// the PC wires the UART's INTRPT pin to the 8259A.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "devices/device.h"

namespace tv::dev {

class Uart16550 final : public IoDevice {
 public:
  // Whether MCR.OUT2 gates the interrupt output. On a PC board OUT2
  // enables the IRQ driver (8250 datasheet, MCR bit 3), but QEMU ignores
  // it, and kernels tested only under QEMU never set it: the machine's
  // COM1 raises its interrupt either way (kAlways), as QEMU's does.
  enum class IrqGate { kAlways, kOut2 };

  Uart16550(IrqSink& irq, unsigned irq_line, std::function<void(uint8_t)> transmit,
            IrqGate gate = IrqGate::kAlways);

  std::string_view name() const override { return "uart16550"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Host input arriving on SIN. Dropped in loopback mode (SIN is
  // disconnected); sets LSR.OE and drops the byte when the FIFO is full.
  void receive(uint8_t byte);
  // Free RX FIFO slots; 0 in loopback mode so the machine holds input back.
  size_t rx_space() const;

 private:
  static constexpr size_t kFifoSize = 16;

  uint8_t read_reg(unsigned reg);
  void write_reg(unsigned reg, uint8_t value);
  uint8_t read_rbr();
  uint8_t read_iir();
  uint8_t read_lsr();
  uint8_t read_msr();
  void write_thr(uint8_t value);
  void write_ier(uint8_t value);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);

  bool loopback() const;
  bool dlab() const { return (lcr_ & 0x80) != 0; }
  size_t rx_capacity() const;
  void rx_push(uint8_t byte);
  void rx_clear() { rx_head_ = rx_count_ = 0; }
  uint8_t modem_inputs() const;
  void update_msr();
  uint8_t interrupt_id() const;
  void update_irq();

  IrqSink& irq_;
  unsigned irq_line_;
  IrqGate gate_;
  std::function<void(uint8_t)> transmit_;

  std::array<uint8_t, kFifoSize> rx_{};
  size_t rx_head_ = 0;
  size_t rx_count_ = 0;

  uint8_t dll_ = 0x0C;  // 9600 baud, what a BIOS would leave
  uint8_t dlm_ = 0;
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // only FIFO enable and RX trigger bits are kept
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_errors_ = 0;  // OE; the other error bits never occur here
  uint8_t msr_ = 0;
  uint8_t scr_ = 0;
  bool thr_pending_ = false;  // the THRE interrupt, until IIR read or THR write
  bool irq_level_ = false;    // last level driven on the IrqSink
  bool logged_wide_access_ = false;
  bool logged_overrun_ = false;
};

}  // namespace tv::dev
