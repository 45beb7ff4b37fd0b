// The PC's cascaded 8259A pair (master 0x20/0x21, slave 0xA0/0xA1 on the
// master's IR2) plus the PIIX edge/level control registers (ELCR, 0x4D0/0x4D1).
// Devices drive levels through set_irq(0..15); the CPU backends poll
// interrupt_pending() (the master's INT pin) and run acknowledge() as the
// INTA cycle. There is no BIOS, so power-on leaves the pair as a PC BIOS
// would (vectors 0x08/0x70, cascade, edge) but with every input masked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "devices/device.h"

namespace tv::dev {

class PicPair final : public IrqSink, public InterruptSource {
 public:
  PicPair();

  // Port facades for the buses. They refer back to this PicPair, so the
  // machine keeps it alive at least as long as the buses holding them.
  std::shared_ptr<IoDevice> master_ports() { return master_ports_; }  // 0x20, length 2
  std::shared_ptr<IoDevice> slave_ports() { return slave_ports_; }    // 0xA0, length 2
  std::shared_ptr<IoDevice> elcr_ports() { return elcr_ports_; }      // 0x4D0, length 2

  // IrqSink: irq 0..7 on the master, 8..15 on the slave.
  void set_irq(unsigned irq, bool level) override;

  // The master's INT output: an unmasked request outranks everything in service.
  bool interrupt_pending() const override;
  // The INTA cycle: returns the vector and moves the request from IRR to ISR.
  // A request that vanished yields the spurious IRQ7 (master) or IRQ15
  // (slave, with IRQ2 left in service on the master) vector.
  uint8_t acknowledge() override;

  // "master irr=.. isr=.. imr=.. slave irr=.. isr=.. imr=.." for debug logs.
  std::string state_summary() const;

 private:
  // One 8259A; offsets and pins are the chip's own (0..7).
  struct Chip {
    uint8_t irr = 0;
    uint8_t isr = 0;
    uint8_t imr = 0xFF;
    uint8_t lines = 0;  // current input levels, for edge detection
    uint8_t elcr = 0;   // per-input level mode (ELCR)
    uint8_t elcr_mask = 0;
    uint8_t vector_base = 0;
    uint8_t priority_add = 0;  // the input that currently has the highest priority
    uint8_t init_step = 0;     // the ICW expected next on the odd port; 0 = none
    bool ltim = false;         // ICW1 LTIM: every input level-triggered
    bool need_icw4 = false;
    bool single = false;
    bool auto_eoi = false;
    bool rotate_on_auto_eoi = false;
    bool read_isr = false;
    bool poll = false;
    bool special_mask = false;
    bool logged_8080_mode = false;

    bool level_mode(unsigned pin) const { return ltim || ((elcr >> pin) & 1); }
    uint8_t level_pins() const { return ltim ? 0xFF : elcr; }
    unsigned rank(uint8_t bits) const;
    int highest_request() const;
    void set_input(unsigned pin, bool level);
    void ack(unsigned pin);
    void ocw2(uint8_t value);
    void ocw3(uint8_t value);
    void icw1(uint8_t value);
    void write_data(uint8_t value);
    void set_elcr(uint8_t value);
  };

  uint64_t read_ports(Chip& chip, uint64_t offset, unsigned size);
  void write_ports(Chip& chip, uint64_t offset, unsigned size, uint64_t value);
  uint64_t read_master(uint64_t offset, unsigned size);
  void write_master(uint64_t offset, unsigned size, uint64_t value);
  uint64_t read_slave(uint64_t offset, unsigned size);
  void write_slave(uint64_t offset, unsigned size, uint64_t value);
  uint64_t read_elcr(uint64_t offset, unsigned size);
  void write_elcr(uint64_t offset, unsigned size, uint64_t value);
  uint8_t read_chip(Chip& chip, unsigned offset);
  void write_chip(Chip& chip, unsigned offset, uint8_t value);
  void cascade();

  Chip master_;
  Chip slave_;
  std::shared_ptr<IoDevice> master_ports_;
  std::shared_ptr<IoDevice> slave_ports_;
  std::shared_ptr<IoDevice> elcr_ports_;
  bool logged_bad_irq_ = false;
};

}  // namespace tv::dev
