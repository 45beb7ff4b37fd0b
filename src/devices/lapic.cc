// Local APIC core: reset states, interrupt acceptance into IRR/TMR,
// priorities (TPR, PPR), the INTA cycle, EOI, errors, the LINT pins and
// IA32_APIC_BASE. The register page is in lapic_mmio.cc and the timer in
// lapic_timer.cc.
//
// Simplifications:
// - The ESR raises the LVT error interrupt only for an error bit that is
//   new since the last ESR write (so an error LVT with an illegal vector
//   cannot recurse); hardware signals each occurrence.
// - APR reads 0 and lowest-priority arbitration uses PPR (the bus decides).
// - An ExtINT message (an I/O APIC pin in ExtINT mode) is one request for
//   an INTA cycle at the 8259A, consumed by the next acknowledge().
#include "devices/lapic.h"

#include <bit>
#include <utility>

#include "base/log.h"
#include "devices/lapic_registers.h"
#include "devices/pc_platform.h"

namespace tv::dev {

using namespace lapic;

namespace {

int highest_bit(const std::array<uint32_t, 8>& bits) {
  for (int i = 7; i >= 0; --i)
    if (bits[i]) return i * 32 + 31 - std::countl_zero(bits[i]);
  return -1;
}

bool test_bit(const std::array<uint32_t, 8>& bits, unsigned v) {
  return (bits[v / 32] >> (v % 32)) & 1;
}

void set_bit(std::array<uint32_t, 8>& bits, unsigned v, bool on) {
  uint32_t mask = 1u << (v % 32);
  bits[v / 32] = on ? bits[v / 32] | mask : bits[v / 32] & ~mask;
}

}  // namespace

LocalApic::LocalApic(uint8_t apic_id, const Clock& clock, ApicBus& bus, EoiSink& eoi,
                     InterruptSource* pic, TscRate tsc)
    : clock_(clock), bus_(bus), eoi_sink_(eoi), pic_(pic), tsc_rate_(tsc), hardware_id_(apic_id) {
  reset();
}

void LocalApic::reset() {
  // SDM 11.4.4: base 0xFEE00000, enabled; the BSP flag marks the
  // processor the platform starts, APIC ID 0 on a PC.
  apic_base_ = pc::kLapicBase | kBaseEnable | (hardware_id_ == 0 ? kBaseBsp : 0);
  id_ = uint32_t(hardware_id_) << 24;
  reset_registers();
  nmi_pending_ = false;
  init_pending_ = false;
  sipi_vector_.reset();
}

// SDM 11.4.7.1, shared by RESET, INIT (11.4.7.3: the ID survives) and a
// global disable: IRR, ISR, TMR, ICR, LDR, TPR, divide and counts zero,
// LVTs masked, SVR 0xFF (software-disabled), DFR all ones.
void LocalApic::reset_registers() {
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xFFFFFFFF;
  svr_ = 0xFF;
  isr_ = {};
  tmr_ = {};
  irr_ = {};
  esr_pending_ = 0;
  esr_ = 0;
  icr_low_ = 0;
  icr_high_ = 0;
  lvt_.fill(kLvtMasked);
  timer_initial_ = 0;
  timer_divide_ = 0;
  timer_shift_ = 1;  // divide configuration 0: by 2
  disarm_timer();
  tsc_deadline_ = 0;
  extint_message_ = false;
}

DestinationModel LocalApic::destination_model() const {
  // SDM 11.6.2.2: 0000b is the cluster model; 1111b (and, here, the
  // undefined values) the flat model.
  return dfr_ >> 28 == 0 ? DestinationModel::kCluster : DestinationModel::kFlat;
}

// SDM 11.8.3.1: PPR is TPR unless the highest in-service vector's class
// is higher, in which case it is that class with sub-class 0.
uint8_t LocalApic::ppr() const {
  int isrv = highest_bit(isr_);
  uint8_t tpr = uint8_t(tpr_);
  uint8_t isr_class = isrv < 0 ? 0 : uint8_t(isrv & 0xF0);
  return (tpr & 0xF0) >= isr_class ? tpr : isr_class;
}

// --- Acceptance ---------------------------------------------------------------

// SDM 11.8.4: into IRR, TMR set for level and cleared for edge. Vectors
// 0-15 are illegal (11.5.3) and are not accepted.
bool LocalApic::set_irr(uint8_t vector, bool level) {
  if (vector < 16) {
    signal_error(kEsrReceiveIllegalVector);
    return false;
  }
  set_bit(irr_, vector, true);
  set_bit(tmr_, vector, level);
  return true;
}

// Locally generated edge interrupts: the timer and the error LVT.
void LocalApic::deliver_lvt(Lvt entry) {
  uint32_t lvt = lvt_[entry];
  if (!(lvt & kLvtMasked)) set_irr(uint8_t(lvt & kLvtVector), false);
}

void LocalApic::accept(const ApicMessage& message) {
  if (!hardware_enabled()) return;  // SDM 11.4.3: as a processor without an APIC
  switch (message.mode) {
    case DeliveryMode::kFixed:
    case DeliveryMode::kLowestPriority:
      if (message.level && !message.assert) return;  // level de-assert: nothing to accept
      // SDM 11.4.7.2: a software-disabled APIC takes only NMI, INIT, SMI, SIPI.
      if (software_enabled()) set_irr(message.vector, message.level);
      return;
    case DeliveryMode::kNmi: nmi_pending_ = true; return;
    case DeliveryMode::kInit:
      if (message.level && !message.assert) return;  // INIT de-assert: ignored by the xAPIC
      init_from_message();
      return;
    case DeliveryMode::kStartup: sipi_vector_ = message.vector; return;
    case DeliveryMode::kExtInt: extint_message_ = true; return;
    case DeliveryMode::kSmi: log_once(logged_smi_, "unimplemented: SMI delivery (dropped)"); return;
  }
  log_once(logged_reserved_mode_, "message with a reserved delivery mode dropped");
}

// SDM 11.4.7.3: INIT resets the APIC but for its ID; the base MSR stays.
void LocalApic::init_from_message() {
  reset_registers();
  init_pending_ = true;
}

bool LocalApic::take_nmi() { return std::exchange(nmi_pending_, false); }
bool LocalApic::take_init() { return std::exchange(init_pending_, false); }
std::optional<uint8_t> LocalApic::take_sipi() { return std::exchange(sipi_vector_, std::nullopt); }

// --- The CPU's side: pending, INTA, EOI ----------------------------------------

// SDM 11.8.3: the highest IRR vector is dispatched only if its priority
// class is above the processor-priority class.
int LocalApic::deliverable_vector() const {
  int v = highest_bit(irr_);
  if (v < 0 || (v & 0xF0) <= (ppr() & 0xF0)) return -1;
  return v;
}

// LINT0 in ExtINT mode (virtual wire, MP spec 3.6.2.2) or an ExtINT
// message: the 8259A's INTR reaches the CPU, outside IRR and PPR.
bool LocalApic::extint_pending() const {
  if (!pic_) return false;
  uint32_t lint0 = lvt_[kLvtLint0];
  bool wired = !(lint0 & kLvtMasked) && lvt_mode(lint0) == kLvtExtInt;
  return (wired || extint_message_) && pic_->interrupt_pending();
}

bool LocalApic::interrupt_pending() const {
  // Disabled (the power-on state): the 8259A's INTR passes straight through.
  if (transparent()) return pic_ && pic_->interrupt_pending();
  return deliverable_vector() >= 0 || extint_pending();
}

uint8_t LocalApic::acknowledge() {
  if (transparent()) return pic_ ? pic_->acknowledge() : uint8_t(svr_);
  // The APIC's own request first, as QEMU's cpu_get_pic_interrupt does.
  if (int v = deliverable_vector(); v >= 0) {
    set_bit(irr_, unsigned(v), false);
    set_bit(isr_, unsigned(v), true);
    return uint8_t(v);
  }
  if (extint_pending()) {
    extint_message_ = false;
    return pic_->acknowledge();
  }
  // SDM 11.9: the request vanished (TPR raised, say); the spurious vector
  // goes to the CPU and nothing enters ISR.
  return uint8_t(svr_);
}

// SDM 11.8.5: EOI retires the highest in-service vector; a level-triggered
// one (TMR set) also sends the EOI message to the I/O APICs and clears the
// remote IRR of a level LINT0 entry with that vector.
void LocalApic::eoi() {
  int v = highest_bit(isr_);
  if (v < 0) return;  // nothing in service: the write is ignored
  set_bit(isr_, unsigned(v), false);
  if (!test_bit(tmr_, unsigned(v))) return;
  uint32_t& lint0 = lvt_[kLvtLint0];
  if ((lint0 & kLvtRemoteIrr) && (lint0 & kLvtVector) == unsigned(v)) {
    lint0 &= ~kLvtRemoteIrr;
    lint_changed(0, false);  // a line still asserted interrupts again
  }
  eoi_sink_.eoi(uint8_t(v));
}

// SDM 11.5.3: errors accumulate until the next ESR write latches them.
void LocalApic::signal_error(uint32_t bit) {
  if (esr_pending_ & bit) return;
  esr_pending_ |= bit;
  deliver_lvt(kLvtError);
}

// SDM 11.4.7.2: every LVT mask bit is set (and stays set until enabled).
void LocalApic::software_disable() {
  for (uint32_t& lvt : lvt_) lvt |= kLvtMasked;
}

// --- LINT pins ------------------------------------------------------------------

bool LocalApic::lint_asserted(unsigned pin, uint32_t lvt) const {
  return lint_line_[pin] != bool(lvt & kLvtActiveLow);
}

void LocalApic::set_lint(unsigned pin, bool level) {
  if (pin > 1) {
    log_once(logged_bad_pin_, "set_lint: no such pin (VMM wiring bug)");
    return;
  }
  bool was_line = lint_line_[pin];
  bool was_asserted = lint_asserted(pin);
  lint_line_[pin] = level;
  if (transparent()) {
    // SDM 11.4.3 / MP spec virtual wire: LINT0 is INTR (the 8259A, polled
    // through pic_), LINT1 is NMI, active high.
    if (pin == 1 && level && !was_line) nmi_pending_ = true;
    return;
  }
  lint_changed(pin, was_asserted);
}

// SDM 11.5.1: NMI, SMI and INIT are edge-triggered, ExtINT level; fixed
// follows the trigger bit, except that LINT1 has no level mode.
void LocalApic::lint_changed(unsigned pin, bool was_asserted) {
  uint32_t& lvt = lvt_[kLvtLint0 + pin];
  if (lvt & kLvtMasked) return;
  bool asserted = lint_asserted(pin);
  bool rising = asserted && !was_asserted;
  switch (lvt_mode(lvt)) {
    case kLvtFixed:
      if (pin == 0 && (lvt & kLvtLevel)) {
        // Remote IRR holds a level interrupt until its EOI.
        if (asserted && !(lvt & kLvtRemoteIrr) && set_irr(uint8_t(lvt & kLvtVector), true))
          lvt |= kLvtRemoteIrr;
      } else if (rising) {
        set_irr(uint8_t(lvt & kLvtVector), false);
      }
      return;
    case kLvtNmi:
      if (rising) nmi_pending_ = true;
      return;
    case kLvtInit:
      if (rising) init_from_message();
      return;
    case kLvtSmi:
      if (rising) log_once(logged_smi_, "unimplemented: SMI delivery (dropped)");
      return;
    default:  // ExtINT is polled through pic_; reserved modes deliver nothing
      return;
  }
}

// --- IA32_APIC_BASE ---------------------------------------------------------------

bool LocalApic::set_apic_base(uint64_t value) {
  // Bits 0-7 and 9 are reserved, bit 10 (x2APIC enable) too without x2APIC.
  constexpr uint64_t kWritable = kBaseAddressMask | kBaseBsp | kBaseEnable;
  if (value & ~kWritable) return false;
  bool was_enabled = hardware_enabled();
  apic_base_ = value;
  if (was_enabled && !hardware_enabled()) {
    // SDM 11.4.3: "the APIC may return to the state ... after power-up".
    reset_registers();
    id_ = uint32_t(hardware_id_) << 24;
  }
  return true;
}

void LocalApic::log_once(bool& flag, const char* what) {
  if (flag) return;
  flag = true;
  log::get("dev.lapic")->info("apic {}: {} (logged once)", hardware_id_, what);
}

}  // namespace tv::dev
