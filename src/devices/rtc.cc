// MC146818 RTC and CMOS NVRAM (Motorola MC146818A datasheet; PC/AT CMOS map
// as SeaBIOS and QEMU's pc_cmos_init() use it). The clock reads in UTC.
//
// Simplifications: the divider bits of register A are stored but the time
// base always runs at 32.768 kHz; the day-of-week register follows the date
// (writes to it are dropped); the alarm is compared at the latest update
// only, so an alarm second skipped while the guest was not running is lost.
#include "devices/rtc.h"

#include <algorithm>

#include "base/log.h"

namespace tv::dev {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kTimeBaseHz = 32768;
constexpr unsigned kIrqRtc = 8;
constexpr uint64_t kUipWindowNs = 244'000;  // datasheet: UIP leads the update by 244 us

enum Reg : uint8_t {
  kSeconds = 0x00,
  kSecondsAlarm = 0x01,
  kMinutes = 0x02,
  kMinutesAlarm = 0x03,
  kHours = 0x04,
  kHoursAlarm = 0x05,
  kDayOfWeek = 0x06,
  kDayOfMonth = 0x07,
  kMonth = 0x08,
  kYear = 0x09,
  kRegA = 0x0a,
  kRegB = 0x0b,
  kRegC = 0x0c,
  kRegD = 0x0d,
  kCentury = 0x32,
};

// Register A.
constexpr uint8_t kAUip = 0x80;
constexpr uint8_t kARateMask = 0x0f;
// Register B.
constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10;
constexpr uint8_t kBBinary = 0x04, kB24Hour = 0x02;
// Register C.
constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
// Register D: valid RAM and time.
constexpr uint8_t kDVrt = 0x80;

bool is_time_register(uint8_t index) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury: return true;
    default: return false;
  }
}

}  // namespace

Rtc::Rtc(const Clock& clock, IrqSink& irq, uint64_t ram_bytes, std::function<time_t()> wall_clock)
    : clock_(clock), irq_(irq) {
  cmos_[kRegA] = 0x26;      // 32.768 kHz divider, 1024 Hz periodic rate
  cmos_[kRegB] = kB24Hour;  // BCD, 24-hour, no interrupts
  epoch_s_ = wall_clock();
  epoch_ns_ = clock.now_ns();
  last_update_ns_ = last_periodic_ns_ = epoch_ns_;
  set_nvram_memory_sizes(ram_bytes);
}

// The CMOS memory-size bytes the BIOS and old kernels read (QEMU
// pc_cmos_init()): base memory in KiB, memory above 1 MiB in KiB, memory
// above 16 MiB in 64 KiB units, each little-endian and capped at 0xFFFF.
void Rtc::set_nvram_memory_sizes(uint64_t ram_bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
  auto put16 = [this](uint8_t index, uint64_t value) {
    value = std::min<uint64_t>(value, 0xffff);
    cmos_[index] = uint8_t(value);
    cmos_[index + 1] = uint8_t(value >> 8);
  };
  put16(0x15, std::min<uint64_t>(ram_bytes / kKiB, 640));
  uint64_t extended = ram_bytes > kMiB ? (ram_bytes - kMiB) / kKiB : 0;
  put16(0x17, extended);
  put16(0x30, extended);
  put16(0x34, ram_bytes > 16 * kMiB ? (ram_bytes - 16 * kMiB) / (64 * kKiB) : 0);
}

// --- Port interface ---------------------------------------------------------

uint64_t Rtc::read(uint64_t offset, unsigned) {
  if (offset == 0) return 0xff;  // the index register is write-only
  return read_register(index_, clock_.now_ns());
}

void Rtc::write(uint64_t offset, unsigned, uint64_t value) {
  if (offset == 0) {
    // PC/AT: bit 7 of port 0x70 masks NMI; it is not part of the index.
    nmi_disabled_ = value & 0x80;
    index_ = value & 0x7f;
    return;
  }
  write_register(index_, uint8_t(value), clock_.now_ns());
}

uint8_t Rtc::read_register(uint8_t index, uint64_t now) {
  if (is_time_register(index)) return time_field(broken_down(now), index);
  switch (index) {
    case kRegA: {
      uint64_t phase = since_epoch(now) % kNsPerSecond;
      bool uip = !(cmos_[kRegB] & kBSet) && phase >= kNsPerSecond - kUipWindowNs;
      return cmos_[kRegA] | (uip ? kAUip : 0);
    }
    case kRegC: return read_reg_c(now);
    case kRegD: return kDVrt;
    default: return cmos_[index];  // alarms, register B, NVRAM
  }
}

void Rtc::write_register(uint8_t index, uint8_t value, uint64_t now) {
  if (is_time_register(index)) return write_time_field(index, value, now);
  switch (index) {
    case kRegA: return write_reg_a(value, now);
    case kRegB: return write_reg_b(value, now);
    case kRegC:
    case kRegD: return;             // read-only
    default: cmos_[index] = value;  // alarms, shutdown status (0x0F), NVRAM
  }
}

// --- Time and date ----------------------------------------------------------

// Time since the epoch instant; zero for a caller's stale `now`.
uint64_t Rtc::since_epoch(uint64_t now) const { return now > epoch_ns_ ? now - epoch_ns_ : 0; }

tm Rtc::broken_down(uint64_t now) const {
  if (cmos_[kRegB] & kBSet) return held_;
  time_t seconds = time_t(epoch_s_ + int64_t(since_epoch(now) / kNsPerSecond));
  tm t{};
  gmtime_r(&seconds, &t);
  return t;
}

uint8_t Rtc::time_field(const tm& t, uint8_t index) const {
  unsigned year = unsigned(t.tm_year + 1900);
  switch (index) {
    case kSeconds: return encode(unsigned(t.tm_sec));
    case kMinutes: return encode(unsigned(t.tm_min));
    case kHours: return encode_hour(unsigned(t.tm_hour));
    case kDayOfWeek: return encode(unsigned(t.tm_wday) + 1);  // 1 = Sunday
    case kDayOfMonth: return encode(unsigned(t.tm_mday));
    case kMonth: return encode(unsigned(t.tm_mon) + 1);
    case kYear: return encode(year % 100);
    default: return encode(year / 100);  // kCentury
  }
}

// Register B DM: 1 = binary, 0 = BCD.
uint8_t Rtc::encode(unsigned value) const {
  if (cmos_[kRegB] & kBBinary) return uint8_t(value);
  return uint8_t((value / 10 % 10) << 4 | value % 10);
}

unsigned Rtc::decode(uint8_t value) const {
  if (cmos_[kRegB] & kBBinary) return value;
  return (value >> 4) * 10u + (value & 0x0f);
}

// 12-hour mode: hours 1-12 with bit 7 set for PM (datasheet, Table 2).
uint8_t Rtc::encode_hour(unsigned hour24) const {
  if (cmos_[kRegB] & kB24Hour) return encode(hour24);
  unsigned hour12 = hour24 % 12 == 0 ? 12 : hour24 % 12;
  return encode(hour12) | (hour24 >= 12 ? 0x80 : 0);
}

unsigned Rtc::decode_hour(uint8_t value) const {
  if (cmos_[kRegB] & kB24Hour) return decode(value);
  return decode(value & 0x7f) % 12 + ((value & 0x80) ? 12 : 0);
}

// A write edits the held registers while SET = 1; otherwise it takes effect
// at once, keeping the divider phase.
void Rtc::write_time_field(uint8_t index, uint8_t value, uint64_t now) {
  tm t = broken_down(now);
  int century = (t.tm_year + 1900) / 100, year = (t.tm_year + 1900) % 100;
  switch (index) {
    case kSeconds: t.tm_sec = int(decode(value)); break;
    case kMinutes: t.tm_min = int(decode(value)); break;
    case kHours: t.tm_hour = int(decode_hour(value)); break;
    case kDayOfMonth: t.tm_mday = int(decode(value)); break;
    case kMonth: t.tm_mon = int(decode(value)) - 1; break;
    case kYear: t.tm_year = century * 100 + int(decode(value)) - 1900; break;
    case kCentury: t.tm_year = int(decode(value)) * 100 + year - 1900; break;
    default: return;  // kDayOfWeek follows the date
  }
  if (cmos_[kRegB] & kBSet) {
    held_ = t;
    return;
  }
  sync(now);
  epoch_s_ = int64_t(timegm(&t));
  epoch_ns_ = now - since_epoch(now) % kNsPerSecond;
}

// --- Control registers and interrupts --------------------------------------

void Rtc::write_reg_a(uint8_t value, uint64_t now) {
  sync(now);
  bool rate_changed = (value ^ cmos_[kRegA]) & kARateMask;
  cmos_[kRegA] = value & ~kAUip;
  if (rate_changed) last_periodic_ns_ = now;  // no tick owed at the new rate
}

void Rtc::write_reg_b(uint8_t value, uint64_t now) {
  sync(now);
  bool was_set = cmos_[kRegB] & kBSet;
  bool set = value & kBSet;
  if (set) value &= uint8_t(~kBUie);  // datasheet: setting SET clears UIE
  if (set && !was_set) held_ = broken_down(now);
  if (!set && was_set) {
    // The guest has set the clock: run from its time, one second to the
    // first update, as the divider chain restarts.
    tm t = held_;
    epoch_s_ = int64_t(timegm(&t));
    epoch_ns_ = last_update_ns_ = last_periodic_ns_ = now;
    log::get("dev.rtc")->debug("guest set the RTC to {}", epoch_s_);
  }
  cmos_[kRegB] = value;
  update_irq();
}

// Reading C returns and clears the flags and releases IRQ8 (datasheet,
// Register C); until then no further interrupt is signalled.
uint8_t Rtc::read_reg_c(uint64_t now) {
  sync(now);
  uint8_t flags = cmos_[kRegC];
  cmos_[kRegC] = 0;
  update_irq();
  return flags;
}

// Periodic rate from register A RS3-0 at the 32.768 kHz time base
// (datasheet, Table 3): 1 and 2 give 256 and 128 Hz, 3-15 give 8192..2 Hz.
uint64_t Rtc::period_units() const {
  unsigned rate = cmos_[kRegA] & kARateMask;
  if (rate == 0) return 0;
  if (rate <= 2) return 64u << rate;
  return 1u << (rate - 1);
}

// Periodic ticks fall on multiples of the period from epoch_ns_, which is a
// second boundary, so they stay aligned with updates as on the real chip.
// Tick k is at the first nanosecond at or after k periods.
uint64_t Rtc::periodic_index(uint64_t ns) const {
  unsigned __int128 elapsed = ns - epoch_ns_;
  return uint64_t(elapsed * kTimeBaseHz / (period_units() * kNsPerSecond));
}

uint64_t Rtc::periodic_time(uint64_t index) const {
  unsigned __int128 scaled = (unsigned __int128)index * period_units() * kNsPerSecond;
  return epoch_ns_ + uint64_t((scaled + kTimeBaseHz - 1) / kTimeBaseHz);
}

std::optional<uint64_t> Rtc::next_periodic_after(uint64_t ns) const {
  if (period_units() == 0) return std::nullopt;
  if (ns < epoch_ns_) return epoch_ns_;
  return periodic_time(periodic_index(ns) + 1);
}

uint64_t Rtc::next_update_after(uint64_t ns) const {
  if (ns < epoch_ns_) return epoch_ns_;
  return epoch_ns_ + ((ns - epoch_ns_) / kNsPerSecond + 1) * kNsPerSecond;
}

// Sets the flags for update cycles and periodic ticks up to `now`; flags are
// set whether or not their interrupt is enabled (datasheet, Register C).
void Rtc::sync(uint64_t now) {
  if (!(cmos_[kRegB] & kBSet) && next_update_after(last_update_ns_) <= now) {
    cmos_[kRegC] |= kCUf;
    last_update_ns_ = now - (now - epoch_ns_) % kNsPerSecond;
    tm t = broken_down(now);
    bool alarm = true;
    for (uint8_t reg : {kSeconds, kMinutes, kHours}) {
      uint8_t want = cmos_[reg + 1];  // the alarm follows its time register
      if ((want & 0xc0) != 0xc0 && want != time_field(t, reg)) alarm = false;
    }
    if (alarm) cmos_[kRegC] |= kCAf;
  }
  std::optional<uint64_t> tick = next_periodic_after(last_periodic_ns_);
  if (tick && *tick <= now) {
    cmos_[kRegC] |= kCPf;
    last_periodic_ns_ = periodic_time(periodic_index(now));
  }
  update_irq();
}

// IRQF = PF·PIE + AF·AIE + UF·UIE; IRQ8 follows it.
void Rtc::update_irq() {
  uint8_t b = cmos_[kRegB], c = cmos_[kRegC];
  bool irqf = (c & kCPf && b & kBPie) || (c & kCAf && b & kBAie) || (c & kCUf && b & kBUie);
  cmos_[kRegC] = irqf ? c | kCIrqf : c & uint8_t(~kCIrqf);
  if (irqf != irq_level_) {
    irq_level_ = irqf;
    irq_.set_irq(kIrqRtc, irqf);
  }
}

void Rtc::advance(uint64_t now_ns) { sync(now_ns); }

std::optional<uint64_t> Rtc::next_deadline_ns() const {
  if (irq_level_) return std::nullopt;  // nothing more until register C is read
  uint8_t b = cmos_[kRegB];
  std::optional<uint64_t> deadline;
  if (b & kBPie) deadline = next_periodic_after(last_periodic_ns_);
  if (b & (kBUie | kBAie) && !(b & kBSet)) {
    uint64_t update = next_update_after(last_update_ns_);
    deadline = deadline ? std::min(*deadline, update) : update;
  }
  return deadline;
}

}  // namespace tv::dev
