// Cascaded 8259A pair and ELCR. Command semantics follow the Intel 8259A
// datasheet (order no. 231468); the ELCR follows the Intel PIIX/PIIX3
// datasheet, section "ELCR1/ELCR2". Edge-triggered inputs latch a request
// on the rising edge and keep it until acknowledged, even if the line falls
// first: our devices (the PIT in particular) may raise and lower a line
// within one call, before any vCPU could take the INTA cycle.
#include "devices/pic8259.h"

#include <fmt/format.h>

#include "base/log.h"
#include "devices/byte_lanes.h"
#include "devices/range_view.h"

namespace tv::dev {

PicPair::PicPair() {
  // What a PC BIOS programs (vectors 0x08 and 0x70), but fully masked: with
  // no BIOS, nothing should interrupt a guest that never set up the PIC.
  master_.vector_base = 0x08;
  slave_.vector_base = 0x70;
  // PIIX datasheet, ELCR: IRQ0-2, IRQ8 and IRQ13 must stay edge-triggered.
  master_.elcr_mask = 0xF8;
  slave_.elcr_mask = 0xDE;
  master_ports_ =
      make_range_view(*this, "pic-master", &PicPair::read_master, &PicPair::write_master);
  slave_ports_ = make_range_view(*this, "pic-slave", &PicPair::read_slave, &PicPair::write_slave);
  elcr_ports_ = make_range_view(*this, "elcr", &PicPair::read_elcr, &PicPair::write_elcr);
}

// Rank of the highest-priority bit set in `bits`: 0 is the input holding
// the highest priority (priority_add, moved by the rotate commands), 8 none.
unsigned PicPair::Chip::rank(uint8_t bits) const {
  for (unsigned r = 0; r < 8; ++r)
    if (bits & (1u << ((r + priority_add) & 7))) return r;
  return 8;
}

// The unmasked request that would be acknowledged next, or -1. A request
// must outrank everything in service (fully nested mode); in special mask
// mode, masked inputs in service do not block (8259A datasheet, OCW3 SMM).
int PicPair::Chip::highest_request() const {
  if (!(irr & ~imr)) return -1;  // the common case: asked after every callout
  unsigned request = rank(irr & ~imr);
  if (request == 8) return -1;
  uint8_t in_service = special_mask ? uint8_t(isr & ~imr) : isr;
  if (request >= rank(in_service)) return -1;
  return int((request + priority_add) & 7);
}

void PicPair::Chip::set_input(unsigned pin, bool level) {
  uint8_t bit = uint8_t(1u << pin);
  if (level_mode(pin)) {
    irr = level ? (irr | bit) : (irr & ~bit);
  } else if (level && !(lines & bit)) {
    irr |= bit;
  }
  lines = level ? (lines | bit) : (lines & ~bit);
}

// 8259A datasheet, "Interrupt Sequence": INTA sets the ISR bit and resets
// the IRR bit. A level input keeps its IRR bit while the line stays high;
// the ISR bit then holds it off until EOI.
void PicPair::Chip::ack(unsigned pin) {
  uint8_t bit = uint8_t(1u << pin);
  if (!level_mode(pin)) irr &= ~bit;
  if (!auto_eoi) {
    isr |= bit;
  } else if (rotate_on_auto_eoi) {
    priority_add = uint8_t((pin + 1) & 7);
  }
}

// 8259A datasheet, OCW2: bits 7-5 are R, SL, EOI; bits 2-0 the level.
void PicPair::Chip::ocw2(uint8_t value) {
  unsigned level = value & 7;
  unsigned highest = (rank(isr) + priority_add) & 7;
  bool any = isr != 0;
  switch (value >> 5) {
    case 0: rotate_on_auto_eoi = false; break;
    case 1:  // non-specific EOI
      if (any) isr &= uint8_t(~(1u << highest));
      break;
    case 2: break;                                  // no operation
    case 3: isr &= uint8_t(~(1u << level)); break;  // specific EOI
    case 4: rotate_on_auto_eoi = true; break;
    case 5:  // rotate on non-specific EOI
      if (any) {
        isr &= uint8_t(~(1u << highest));
        priority_add = uint8_t((highest + 1) & 7);
      }
      break;
    case 6: priority_add = uint8_t((level + 1) & 7); break;  // set priority
    case 7:                                                  // rotate on specific EOI
      isr &= uint8_t(~(1u << level));
      priority_add = uint8_t((level + 1) & 7);
      break;
  }
}

// 8259A datasheet, OCW3: P (poll), RR/RIS (read IRR or ISR), ESMM/SMM.
void PicPair::Chip::ocw3(uint8_t value) {
  if (value & 0x04) poll = true;
  if (value & 0x02) read_isr = value & 0x01;
  if (value & 0x40) special_mask = value & 0x20;
}

// 8259A datasheet, "Initialization Command Words": ICW1 clears IMR and ISR,
// gives IR7 the lowest priority, selects IRR for reads, clears special mask
// mode and resets edge sense, so an edge input that is already high must
// fall and rise again before it requests.
void PicPair::Chip::icw1(uint8_t value) {
  need_icw4 = value & 0x01;
  single = value & 0x02;
  ltim = value & 0x08;
  imr = 0;
  isr = 0;
  irr = lines & level_pins();
  priority_add = 0;
  read_isr = false;
  poll = false;
  special_mask = false;
  auto_eoi = false;
  rotate_on_auto_eoi = false;
  init_step = 2;
}

// The odd port takes ICW2-4 during initialization, OCW1 (IMR) otherwise.
// ICW3 is not kept: the PC wires the slave to IR2 whatever it says.
void PicPair::Chip::write_data(uint8_t value) {
  switch (init_step) {
    case 2:
      vector_base = value & 0xF8;
      init_step = single ? (need_icw4 ? 4 : 0) : 3;
      break;
    case 3: init_step = need_icw4 ? 4 : 0; break;
    case 4:
      if (!(value & 0x01) && !logged_8080_mode) {
        logged_8080_mode = true;
        log::get("dev.pic")->info("unimplemented: MCS-80/85 mode (ICW4.uPM=0), using 8086 mode");
      }
      auto_eoi = value & 0x02;
      init_step = 0;
      break;
    default: imr = value; break;
  }
}

void PicPair::Chip::set_elcr(uint8_t value) {
  elcr = value & elcr_mask;
  uint8_t level = level_pins();
  irr = uint8_t((irr & ~level) | (lines & level));
}

// --- Ports ------------------------------------------------------------------

// Two consecutive byte ports of one chip. The ISA bus splits a wider access
// into byte cycles; bytes beyond the two ports read as all-ones.
uint64_t PicPair::read_ports(Chip& chip, uint64_t offset, unsigned size) {
  return read_lanes<1>(offset, size, [&](uint64_t port) -> uint8_t {
    return port < 2 ? read_chip(chip, unsigned(port)) : 0xFF;
  });
}

void PicPair::write_ports(Chip& chip, uint64_t offset, unsigned size, uint64_t value) {
  write_lanes<1>(offset, size, value, [&](uint64_t port, uint64_t bits, uint64_t) {
    if (port < 2) write_chip(chip, unsigned(port), uint8_t(bits));
  });
}

uint64_t PicPair::read_master(uint64_t offset, unsigned size) {
  return read_ports(master_, offset, size);
}

void PicPair::write_master(uint64_t offset, unsigned size, uint64_t value) {
  write_ports(master_, offset, size, value);
}

uint64_t PicPair::read_slave(uint64_t offset, unsigned size) {
  return read_ports(slave_, offset, size);
}

void PicPair::write_slave(uint64_t offset, unsigned size, uint64_t value) {
  write_ports(slave_, offset, size, value);
}

// PIIX datasheet, ELCR: 0x4D0 holds IRQ0-7, 0x4D1 IRQ8-15, one bit per
// input, 1 = level-triggered. Reserved bits are masked in Chip::set_elcr.
uint64_t PicPair::read_elcr(uint64_t offset, unsigned size) {
  return read_lanes<1>(offset, size, [this](uint64_t port) -> uint8_t {
    if (port >= 2) return 0xFF;
    return port == 0 ? master_.elcr : slave_.elcr;
  });
}

void PicPair::write_elcr(uint64_t offset, unsigned size, uint64_t value) {
  write_lanes<1>(offset, size, value, [this](uint64_t port, uint64_t bits, uint64_t) {
    if (port < 2) (port == 0 ? master_ : slave_).set_elcr(uint8_t(bits));
  });
  cascade();
}

uint8_t PicPair::read_chip(Chip& chip, unsigned offset) {
  // 8259A datasheet, "The Poll Command": the read after OCW3 P=1 acts as
  // INTA for this chip and returns 0x80 | level, or 0 with no request.
  if (chip.poll) {
    chip.poll = false;
    int pin = chip.highest_request();
    if (pin < 0) return 0;
    chip.ack(unsigned(pin));
    cascade();
    return uint8_t(0x80 | pin);
  }
  if (offset == 1) return chip.imr;
  return chip.read_isr ? chip.isr : chip.irr;
}

// Even port: bit 4 marks ICW1, bit 3 OCW3, neither OCW2.
void PicPair::write_chip(Chip& chip, unsigned offset, uint8_t value) {
  if (offset == 1) {
    chip.write_data(value);
  } else if (value & 0x10) {
    chip.icw1(value);
  } else if (value & 0x08) {
    chip.ocw3(value);
  } else {
    chip.ocw2(value);
  }
  cascade();
}

// The slave's INT output drives the master's IR2. It is sampled after every
// change and latches IR2 whenever high, so a slave request still waiting
// after an INTA (auto-EOI, or a second request) is not lost for want of a
// new edge. A request that is gone by INTA gives the spurious IRQ15.
void PicPair::cascade() {
  if (master_.single) return;
  bool slave_int = slave_.highest_request() >= 0;
  if (master_.level_mode(2)) {
    master_.set_input(2, slave_int);
    return;
  }
  if (slave_int) master_.irr |= 0x04;
  master_.lines = slave_int ? (master_.lines | 0x04) : (master_.lines & ~0x04);
}

void PicPair::set_irq(unsigned irq, bool level) {
  if (irq >= 16 || (irq == 2 && !master_.single)) {
    if (!logged_bad_irq_) {
      logged_bad_irq_ = true;
      log::get("dev.pic")->warn("device drove irq {}, which is not a free PIC input (logged once)",
                                irq);
    }
    return;
  }
  if (irq < 8) {
    master_.set_input(irq, level);
  } else {
    slave_.set_input(irq - 8, level);
  }
  cascade();
}

bool PicPair::interrupt_pending() const { return master_.highest_request() >= 0; }

// 8259A datasheet, "Interrupt Sequence": with no request left at INTA the
// chip answers IR7 without setting its ISR bit; a slave does the same after
// the master has already put IR2 in service.
uint8_t PicPair::acknowledge() {
  int pin = master_.highest_request();
  if (pin < 0) return uint8_t(master_.vector_base | 7);
  master_.ack(unsigned(pin));
  uint8_t vector = uint8_t(master_.vector_base | pin);
  if (pin == 2 && !master_.single) {
    int slave_pin = slave_.highest_request();
    if (slave_pin < 0) {
      vector = uint8_t(slave_.vector_base | 7);
    } else {
      slave_.ack(unsigned(slave_pin));
      vector = uint8_t(slave_.vector_base | slave_pin);
    }
  }
  cascade();
  return vector;
}

std::string PicPair::state_summary() const {
  return fmt::format(
      "master irr={:02x} isr={:02x} imr={:02x} slave irr={:02x} isr={:02x} imr={:02x}", master_.irr,
      master_.isr, master_.imr, slave_.irr, slave_.isr, slave_.imr);
}

}  // namespace tv::dev
