// ACPI PM1a, PM timer, GPE0 and reset register (ACPI 6.x 4.8.3 "fixed
// hardware registers"; PIIX4 datasheet 290562, PMBASE registers and the
// reset control register). "ACPI" below is the ACPI 6.x specification.
//
// Accesses may be of any width: an access is split into its bytes and
// merged into the 16-bit registers they fall in (ACPI 4.8.3: status and
// enable registers are byte-accessible; the PM timer is read as 32 bits).
#include "devices/acpi_pm.h"

#include "base/log.h"
#include "devices/byte_lanes.h"
#include "devices/pc_platform.h"
#include "devices/range_view.h"

namespace tv::dev {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

// Offsets in the PM1a block (pc::kPm1aEvt etc. relative to pc::kPmBase).
constexpr uint64_t kStatus = pc::kPm1aEvt - pc::kPmBase;
constexpr uint64_t kEnable = kStatus + 2;
constexpr uint64_t kControl = pc::kPm1aCnt - pc::kPmBase;
constexpr uint64_t kTimer = pc::kPmTmr - pc::kPmBase;

// PM1 status and enable bits (ACPI 4.8.3.1, Tables 4.16 and 4.17).
constexpr uint16_t kTmr = 1u << 0, kGbl = 1u << 5, kPwrBtn = 1u << 8, kWak = 1u << 15;
constexpr uint16_t kStatusBits = kTmr | kGbl | kPwrBtn | kWak;
constexpr uint16_t kEnableBits = kTmr | kGbl | kPwrBtn;

// PM1 control bits (ACPI 4.8.3.2.1, Table 4.18).
constexpr uint16_t kSciEn = 1u << 0, kBmRls = 1u << 1;
constexpr unsigned kSlpTypShift = 10;
constexpr uint16_t kSlpTypMask = 7u << kSlpTypShift, kSlpEn = 1u << 13;

// TMR_STS is set whenever the timer's most significant bit toggles.
constexpr uint64_t kCarryTicks = 1ull << (AcpiPm::kTimerBits - 1);
constexpr uint64_t kTimerMask = (1ull << AcpiPm::kTimerBits) - 1;

uint16_t deposit(uint16_t old, uint16_t value, uint16_t mask) {
  return uint16_t((old & ~mask) | (value & mask));
}

}  // namespace

AcpiPm::AcpiPm(const Clock& clock, MachineControl& machine, IrqSink* sci)
    : clock_(clock),
      machine_(machine),
      sci_(sci),
      gpe0_(make_range_view(*this, "acpi_gpe0", &AcpiPm::read_gpe0, &AcpiPm::write_gpe0)) {
  timer_epoch_ns_ = clock.now_ns();
}

void AcpiPm::reset() {
  sync(clock_.now_ns());
  pm1_status_ = pm1_enable_ = pm1_control_ = 0;
  gpe0_status_ = gpe0_enable_ = 0;
  update_sci();
}

// --- PM timer (ACPI 4.8.3.3) ------------------------------------------------

uint64_t AcpiPm::timer_ticks(uint64_t now) const {
  if (now <= timer_epoch_ns_) return 0;
  return uint64_t((unsigned __int128)(now - timer_epoch_ns_) * kTimerHz / kNsPerSecond);
}

void AcpiPm::sync(uint64_t now) {
  uint64_t ticks = timer_ticks(now);
  if (ticks / kCarryTicks != timer_checked_ / kCarryTicks) pm1_status_ |= kTmr;
  timer_checked_ = ticks;
  update_sci();
}

void AcpiPm::advance(uint64_t now_ns) { sync(now_ns); }

std::optional<uint64_t> AcpiPm::next_deadline_ns() const {
  if (!(pm1_enable_ & kTmr) || (pm1_status_ & kTmr)) return std::nullopt;
  uint64_t carry = (timer_checked_ / kCarryTicks + 1) * kCarryTicks;
  // The first nanosecond at which timer_ticks() reaches `carry`.
  unsigned __int128 scaled = (unsigned __int128)carry * kNsPerSecond;
  return timer_epoch_ns_ + uint64_t((scaled + kTimerHz - 1) / kTimerHz);
}

// --- Registers --------------------------------------------------------------

uint64_t AcpiPm::read(uint64_t offset, unsigned size) {
  uint64_t now = clock_.now_ns();
  sync(now);
  return read_lanes<2>(offset, size, [&](uint64_t reg) { return read_word(reg, now); });
}

void AcpiPm::write(uint64_t offset, unsigned size, uint64_t value) {
  sync(clock_.now_ns());
  write_lanes<2>(offset, size, value, [this](uint64_t reg, uint64_t bits, uint64_t mask) {
    write_word(reg, uint16_t(bits), uint16_t(mask));
  });
  update_sci();
}

uint16_t AcpiPm::read_word(uint64_t offset, uint64_t now) const {
  uint64_t timer = timer_ticks(now) & kTimerMask;  // bits 24-31 read 0
  switch (offset) {
    case kStatus: return pm1_status_;
    case kEnable: return pm1_enable_;
    case kControl: return pm1_control_ | kSciEn;  // SLP_EN is write-only
    case kTimer: return uint16_t(timer);
    case kTimer + 2: return uint16_t(timer >> 16);
    default: return 0;  // reserved; the PM timer is read-only
  }
}

void AcpiPm::write_word(uint64_t offset, uint16_t value, uint16_t mask) {
  switch (offset) {
    case kStatus:  // write 1 to clear (ACPI 4.8.3.1.1)
      pm1_status_ &= uint16_t(~(value & mask & kStatusBits));
      return;
    case kEnable: pm1_enable_ = deposit(pm1_enable_, value, mask & kEnableBits); return;
    case kControl: return write_control(value, mask);
    default: return;
  }
}

// ACPI 4.8.3.2.1 and 7.4.2: the OS writes SLP_TYP, then SLP_EN with it.
// GBL_RLS would raise an SMI for firmware that does not exist; ignored.
void AcpiPm::write_control(uint16_t value, uint16_t mask) {
  uint16_t merged = deposit(pm1_control_, value, mask);
  pm1_control_ = merged & (kBmRls | kSlpTypMask);
  if (!(value & mask & kSlpEn)) return;
  unsigned type = (merged & kSlpTypMask) >> kSlpTypShift;
  if (type == pc::kSleepTypeS5) {
    machine_.request_power_off();
    return;
  }
  // ACPI 7.4.2: an OS entering S1 waits for WAK_STS; waking at once keeps
  // it from spinning forever.
  pm1_status_ |= kWak;
  if (logged_sleep_) return;
  logged_sleep_ = true;
  log::get("dev.acpi")
      ->info(
          "unimplemented: sleep type {} requested; the machine stays on and reports a wake "
          "(logged once)",
          type);
}

// ACPI 4.8.4.1: GPE0_STS (write 1 to clear) then GPE0_EN, each half the
// block. No device raises a GPE yet; the bits are there for the OS to find.
uint64_t AcpiPm::read_gpe0(uint64_t offset, unsigned size) {
  return read_lanes<2>(offset, size, [this](uint64_t reg) -> uint16_t {
    if (reg == 0) return gpe0_status_;
    return reg == 2 ? gpe0_enable_ : 0;
  });
}

void AcpiPm::write_gpe0(uint64_t offset, unsigned size, uint64_t value) {
  write_lanes<2>(offset, size, value, [this](uint64_t reg, uint64_t bits, uint64_t mask) {
    if (reg == 0) gpe0_status_ &= uint16_t(~(bits & mask));
    if (reg == 2) gpe0_enable_ = deposit(gpe0_enable_, uint16_t(bits), uint16_t(mask));
  });
  update_sci();
}

void AcpiPm::press_power_button() {
  pm1_status_ |= kPwrBtn;
  update_sci();
}

// ACPI 4.8.2.1: the SCI is asserted while any enabled event's status is set.
void AcpiPm::update_sci() {
  bool level = (pm1_status_ & pm1_enable_ & kEnableBits) || (gpe0_status_ & gpe0_enable_);
  if (level == sci_level_) return;
  sci_level_ = level;
  if (sci_) sci_->set_irq(pc::kSciIrq, level);
}

// --- Reset control register (PIIX4 datasheet, RC, port 0xCF9) ---------------

uint64_t ResetControl::read(uint64_t, unsigned) { return value_; }

void ResetControl::write(uint64_t, unsigned, uint64_t value) {
  auto byte = uint8_t(value);
  value_ = byte & 0x0E;
  if (byte & 0x04) machine_.request_reset("reset control register");
}

}  // namespace tv::dev
