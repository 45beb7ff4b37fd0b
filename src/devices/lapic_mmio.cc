// The local APIC's register page (SDM Vol. 3A 11.4.1, Table 11-1). Only
// 32-bit accesses to a register's 16-byte-aligned offset reach a register
// (11.4.1: other widths are model specific); anything else reads 0 and
// drops writes, logged once. Reserved offsets set the ESR's illegal
// register address error; writes to read-only registers are ignored.
#include "base/log.h"
#include "devices/lapic.h"
#include "devices/lapic_registers.h"

namespace tv::dev {

using namespace lapic;

namespace {

// Writable bits of each LVT entry (SDM 11.5.1); delivery status (bit 12)
// reads 0 since delivery is immediate, remote IRR is read-only.
constexpr uint32_t kLvtWritable[] = {
    kLvtVector | kLvtMasked | kLvtTimerMode,                                 // timer
    kLvtVector | kLvtDeliveryMode | kLvtMasked,                              // thermal
    kLvtVector | kLvtDeliveryMode | kLvtMasked,                              // perf
    kLvtVector | kLvtDeliveryMode | kLvtActiveLow | kLvtLevel | kLvtMasked,  // LINT0
    kLvtVector | kLvtDeliveryMode | kLvtActiveLow | kLvtLevel | kLvtMasked,  // LINT1
    kLvtVector | kLvtMasked,                                                 // error
};

bool in_bank(unsigned offset, unsigned base) { return offset >= base && offset < base + 0x80; }

// The registers whose writes change the timer: its LVT entry, counts and
// divider (SVR too: a software disable masks the LVT).
bool touches_timer(unsigned offset) {
  return offset == kRegLvtTimer || offset == kRegInitialCount || offset == kRegDivide ||
         offset == kRegSvr;
}

}  // namespace

uint64_t LocalApic::read(uint64_t offset, unsigned size) {
  // A disabled APIC should be unmapped; if not, it reads as an empty bus.
  if (!hardware_enabled()) return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  if (size != 4 || (offset & 0xF) || offset >= kPageSize) {
    if (!logged_access_) {
      logged_access_ = true;
      log::get("dev.lapic")
          ->info("guest read {} bytes at page offset {:#x}: reads 0 (logged once)", size, offset);
    }
    return 0;
  }
  return read_register(unsigned(offset), offset == kRegCurrentCount ? clock_.now_ns() : 0);
}

void LocalApic::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!hardware_enabled()) return;
  if (size != 4 || (offset & 0xF) || offset >= kPageSize) {
    if (!logged_access_) {
      logged_access_ = true;
      log::get("dev.lapic")
          ->info("guest wrote {} bytes at page offset {:#x}: dropped (logged once)", size, offset);
    }
    return;
  }
  // Only the timer's registers need the time (and a timer expiry that is
  // due happens under the old settings); EOI and TPR, written on every
  // interrupt, do not read the clock.
  uint64_t now = 0;
  if (touches_timer(unsigned(offset))) {
    now = clock_.now_ns();
    advance(now);
  }
  write_register(unsigned(offset), uint32_t(value), now);
}

uint32_t LocalApic::read_register(unsigned offset, uint64_t now) {
  switch (offset) {
    case kRegId: return id_;
    case kRegVersion: return kVersion;
    case kRegTpr: return tpr_;
    case kRegApr: return 0;
    case kRegPpr: return ppr();
    case kRegEoi: return 0;  // write-only
    case kRegRrd: return 0;  // remote read: no three-wire bus
    case kRegLdr: return ldr_;
    case kRegDfr: return dfr_;
    case kRegSvr: return svr_;
    case kRegEsr: return esr_;
    case kRegIcrLow: return icr_low_;
    case kRegIcrHigh: return icr_high_;
    case kRegInitialCount: return timer_initial_;
    case kRegCurrentCount: return current_count(now);
    case kRegDivide: return timer_divide_;
    default: break;
  }
  if (in_bank(offset, kRegIsr)) return isr_[(offset - kRegIsr) >> 4];
  if (in_bank(offset, kRegTmr)) return tmr_[(offset - kRegTmr) >> 4];
  if (in_bank(offset, kRegIrr)) return irr_[(offset - kRegIrr) >> 4];
  if (offset >= kRegLvtTimer && offset <= kRegLvtError) return lvt_[(offset - kRegLvtTimer) >> 4];
  signal_error(kEsrIllegalRegister);
  return 0;
}

void LocalApic::write_register(unsigned offset, uint32_t value, uint64_t now) {
  switch (offset) {
    case kRegId: id_ = value & kIdMask; return;
    case kRegTpr: tpr_ = value & 0xFF; return;
    case kRegEoi: eoi(); return;
    case kRegLdr: ldr_ = value & kIdMask; return;
    case kRegDfr: dfr_ = value | kDfrReservedOnes; return;
    case kRegSvr:
      svr_ = value & kSvrWritable;
      if (!software_enabled()) software_disable();
      return;
    case kRegEsr: write_esr(); return;
    case kRegIcrLow: write_icr_low(value); return;
    case kRegIcrHigh: icr_high_ = value & kIcrHighWritable; return;
    case kRegInitialCount: write_initial_count(value, now); return;
    case kRegDivide: write_divide(value, now); return;
    case kRegVersion:
    case kRegApr:
    case kRegPpr:
    case kRegRrd:
    case kRegCurrentCount: return;  // read-only
    default: break;
  }
  if (in_bank(offset, kRegIsr) || in_bank(offset, kRegTmr) || in_bank(offset, kRegIrr)) return;
  if (offset >= kRegLvtTimer && offset <= kRegLvtError)
    return write_lvt(Lvt((offset - kRegLvtTimer) >> 4), value, now);
  signal_error(kEsrIllegalRegister);
  log_once(logged_illegal_register_, "write to a reserved register offset ignored");
}

void LocalApic::write_lvt(Lvt entry, uint32_t value, uint64_t now) {
  value &= kLvtWritable[entry];
  if (!software_enabled()) value |= kLvtMasked;  // SDM 11.4.7.2: masks cannot be cleared
  if (entry == kLvtTimer) return write_lvt_timer(value, now);
  uint32_t old = lvt_[entry];
  if (entry != kLvtLint0 && entry != kLvtLint1) {
    lvt_[entry] = value;
    return;
  }
  // Remote IRR survives while the entry stays level-triggered fixed.
  bool level_fixed = (value & kLvtLevel) && lvt_mode(value) == kLvtFixed;
  lvt_[entry] = value | (level_fixed ? old & kLvtRemoteIrr : 0);
  // Unmasking onto an asserted level line interrupts; an edge needs a
  // transition, which flipping the polarity is.
  unsigned pin = entry - kLvtLint0;
  lint_changed(pin, lint_asserted(pin, old));
}

// SDM 11.6.1 and its table of valid ICR combinations for the Pentium 4
// and Xeon: the xAPIC sends every IPI
// edge-triggered and has no INIT level de-assert message.
void LocalApic::write_icr_low(uint32_t value) {
  icr_low_ = value & kIcrLowWritable;
  unsigned mode = (value >> 8) & 7;
  if (mode == 3 || mode == 7) {
    log_once(logged_reserved_mode_, "IPI with a reserved delivery mode dropped");
    return;
  }
  ApicMessage message;
  message.vector = uint8_t(value);
  message.mode = DeliveryMode(mode);
  if (message.mode == DeliveryMode::kInit && (value & kIcrLevel) && !(value & kIcrAssert))
    return;  // INIT level de-assert
  message.logical = value & kIcrLogical;
  message.dest = icr_high_ >> 24;
  message.shorthand = Shorthand((value >> 18) & 3);
  message.source_id = id();
  bool vectored =
      message.mode == DeliveryMode::kFixed || message.mode == DeliveryMode::kLowestPriority;
  // The message still goes out; each receiver refuses the vector itself.
  if (vectored && message.vector < 16) signal_error(kEsrSendIllegalVector);
  bus_.send(message);
}

// SDM 11.5.3: a write latches the errors seen since the previous write
// into the readable register and starts collecting afresh.
void LocalApic::write_esr() {
  esr_ = esr_pending_;
  esr_pending_ = 0;
}

}  // namespace tv::dev
