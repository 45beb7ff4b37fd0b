// Intel 82093AA I/O APIC (datasheet 290566-001, sections 3.1-3.2; SDM
// Vol. 3A 11.11 for the message format). "Datasheet" below is the 82093AA's.
//
// Pins are sampled as levels. An edge-triggered entry sends one message per
// rising assertion while unmasked; assertions on a masked edge pin are lost,
// as on the chip. A level-triggered entry sends whenever its pin is asserted,
// unmasked and Remote IRR is clear, and sets Remote IRR; the EOI of its
// vector clears Remote IRR and, if the pin is still asserted, sends again.
//
// Simplifications: delivery is synchronous (delivery status is always 0);
// the arbitration ID is not modelled beyond reading as the APIC ID.
#include "devices/ioapic.h"

#include "base/log.h"

namespace tv::dev {
namespace {

// Memory-mapped registers (datasheet 3.1, Table 1).
constexpr uint64_t kIoregsel = 0x00;
constexpr uint64_t kIowin = 0x10;

// Indirect registers (datasheet 3.2, Table 2).
constexpr uint8_t kRegId = 0x00;
constexpr uint8_t kRegVersion = 0x01;
constexpr uint8_t kRegArbitration = 0x02;
constexpr uint8_t kRegRedirBase = 0x10;

// IOAPICID: bits 24-27 hold the ID; the rest are reserved.
constexpr unsigned kIdShift = 24;
constexpr uint32_t kIdMask = 0x0F;

// Redirection table entry (datasheet 3.2.4).
constexpr uint64_t kVectorMask = 0xFF;
constexpr unsigned kModeShift = 8;
constexpr uint64_t kModeMask = 0x700;
constexpr uint64_t kDestLogical = 1ull << 11;
constexpr uint64_t kActiveLow = 1ull << 13;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kLevelTrigger = 1ull << 15;
constexpr uint64_t kMasked = 1ull << 16;
constexpr unsigned kDestShift = 56;
// Low-half bits software may write; delivery status (12) and Remote IRR
// (14) are read-only and bits 17-31 reserved.
constexpr uint64_t kLowWritable =
    kVectorMask | kModeMask | kDestLogical | kActiveLow | kLevelTrigger | kMasked;
// High half: only the destination field, bits 56-63.
constexpr uint64_t kHighWritable = 0xFFull << kDestShift;

bool reserved_mode(unsigned mode) { return mode == 3 || mode == 6; }

}  // namespace

IoApic::IoApic(ApicBus* bus) : bus_(bus) { reset(); }

void IoApic::reset() {
  regsel_ = 0;
  id_ = pc::kIoapicId & kIdMask;
  entries_.fill(kMasked);  // datasheet 3.2.4: the mask bit is set at reset
}

// --- MMIO window ------------------------------------------------------------

// Datasheet 3.1: IOREGSEL and IOWIN are 32-bit registers; other widths and
// offsets do not decode.
uint64_t IoApic::read(uint64_t offset, unsigned size) {
  if (size != 4 || (offset != kIoregsel && offset != kIowin)) {
    log_bad_access(offset, size);
    return 0;
  }
  if (offset == kIoregsel) return regsel_;
  return read_register(regsel_);
}

void IoApic::write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4 || (offset != kIoregsel && offset != kIowin)) {
    log_bad_access(offset, size);
    return;
  }
  if (offset == kIoregsel) {
    regsel_ = uint8_t(value);  // bits 8-31 are reserved
    return;
  }
  write_register(regsel_, uint32_t(value));
}

void IoApic::log_bad_access(uint64_t offset, unsigned size) {
  if (logged_bad_access_) return;
  logged_bad_access_ = true;
  log::get("dev.ioapic")
      ->warn(
          "guest made a {}-byte access at offset {:#x}, not a 32-bit IOREGSEL/IOWIN access; "
          "ignored (logged once)",
          size, offset);
}

// --- Indirect registers -----------------------------------------------------

uint32_t IoApic::read_register(uint8_t index) const {
  switch (index) {
    case kRegId:
    case kRegArbitration:  // the arbitration ID is loaded from the APIC ID
      return uint32_t(id_) << kIdShift;
    case kRegVersion: return kVersion;
    default: break;
  }
  if (index >= kRegRedirBase && index < kRegRedirBase + 2 * kPins) {
    uint64_t entry = entries_[(index - kRegRedirBase) / 2];
    return (index & 1) ? uint32_t(entry >> 32) : uint32_t(entry);
  }
  return 0;  // no register there: the window floats to 0 (QEMU does the same)
}

void IoApic::write_register(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    id_ = (value >> kIdShift) & kIdMask;
    return;
  }
  if (index >= kRegRedirBase && index < kRegRedirBase + 2 * kPins) {
    unsigned pin = (index - kRegRedirBase) / 2;
    if (index & 1) {
      uint64_t high = (uint64_t(value) << 32) & kHighWritable;
      entries_[pin] = (entries_[pin] & ~kHighWritable) | high;
    } else {
      write_entry_low(pin, value);
    }
    return;
  }
  if (index == kRegVersion || index == kRegArbitration) return;  // read-only
  if (!logged_bad_register_) {
    logged_bad_register_ = true;
    log::get("dev.ioapic")
        ->warn(
            "guest wrote {:#x} to register index {:#x}, which does not exist; ignored "
            "(logged once)",
            value, index);
  }
}

void IoApic::write_entry_low(unsigned pin, uint32_t value) {
  uint64_t entry = (entries_[pin] & (kHighWritable | kRemoteIrr)) | (value & kLowWritable);
  // Remote IRR is undefined for edge entries; it reads clear once an entry is
  // edge, which is how Linux clears a stuck Remote IRR on version-0x11 parts
  // that have no EOI register (it flips the entry to edge and back).
  if (!(entry & kLevelTrigger)) entry &= ~kRemoteIrr;
  entries_[pin] = entry;
  // A level entry unmasked (or newly made level) over an asserted pin sends
  // now: the pin is still requesting.
  if (level_triggered(pin)) service(pin);
}

// --- Pins and delivery ------------------------------------------------------

// Datasheet 3.2.4, bit 13: an active-low pin is asserted by a low level.
bool IoApic::asserted(unsigned pin) const {
  return pin_level_[pin] != bool(entries_[pin] & kActiveLow);
}

// Only fixed and lowest-priority entries use the trigger mode: SMI, NMI,
// INIT and ExtINT are edge messages whatever it says (datasheet 3.2.4,
// delivery mode; SDM Vol. 3A 11.6.1).
bool IoApic::level_triggered(unsigned pin) const {
  uint64_t entry = entries_[pin];
  unsigned mode = unsigned((entry & kModeMask) >> kModeShift);
  return (entry & kLevelTrigger) && (mode == 0 || mode == 1);
}

void IoApic::set_irq(unsigned irq, bool level) {
  if (irq >= kPins) {
    if (!logged_bad_pin_) {
      logged_bad_pin_ = true;
      log::get("dev.ioapic")->warn("device drove pin {}, beyond the 24 pins (logged once)", irq);
    }
    return;
  }
  bool was_asserted = asserted(irq);
  pin_level_[irq] = level;
  if (!asserted(irq)) return;
  if (level_triggered(irq))
    service(irq);
  else if (!was_asserted && !(entries_[irq] & kMasked))
    deliver(irq);
}

// A level entry's request: while asserted, unmasked and not awaiting EOI.
void IoApic::service(unsigned pin) {
  uint64_t entry = entries_[pin];
  if ((entry & (kMasked | kRemoteIrr)) || !asserted(pin)) return;
  deliver(pin);
}

// SDM Vol. 3A 11.8.5 / 11.11: the EOI message of a level vector clears
// Remote IRR of every entry with that vector.
void IoApic::eoi(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t entry = entries_[pin];
    if (!(entry & kRemoteIrr) || (entry & kVectorMask) != vector) continue;
    entries_[pin] = entry & ~kRemoteIrr;
    service(pin);
  }
}

void IoApic::deliver(unsigned pin) {
  uint64_t entry = entries_[pin];
  unsigned mode = unsigned((entry & kModeMask) >> kModeShift);
  if (reserved_mode(mode)) {
    if (!logged_reserved_mode_) {
      logged_reserved_mode_ = true;
      log::get("dev.ioapic")
          ->warn("guest set reserved delivery mode {} on pin {}; interrupt dropped (logged once)",
                 mode, pin);
    }
    return;
  }
  if (!bus_) {
    if (!logged_no_bus_) {
      logged_no_bus_ = true;
      log::get("dev.ioapic")->error("no APIC bus connected; interrupt dropped (logged once)");
    }
    return;
  }
  ApicMessage message;
  message.vector = uint8_t(entry & kVectorMask);  // vectors < 0x10 go out; the LAPIC flags them
  message.mode = DeliveryMode(mode);
  message.logical = entry & kDestLogical;
  message.dest = uint32_t(entry >> kDestShift);
  message.level = level_triggered(pin);
  message.assert = true;
  // Remote IRR is set when the local APIC accepts the message; delivery is
  // synchronous, so set it before sending.
  if (message.level) entries_[pin] |= kRemoteIrr;
  bus_->send(message);
}

}  // namespace tv::dev
