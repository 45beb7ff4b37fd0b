// IA-PC HPET specification 1.0a ("spec" below). Register offsets are
// section 2.3.1, Table 2; bit layouts 2.3.4-2.3.9.
//
// Choices where the spec leaves room, following QEMU's hpet.c (what guests
// are tested on): all three timers are periodic-capable and 64-bit capable
// (Tn_PER_INT_CAP = Tn_SIZE_CAP = 1). A comparator write in periodic mode
// sets the period, and the accumulator too only while Tn_VAL_SET_CNF is set;
// the write clears Tn_VAL_SET_CNF, so Linux's "write with VAL_SET, then write
// the period" sequence works. A route outside Tn_INT_ROUTE_CAP is not stored
// (spec 2.3.8: the value read back then differs from the value written).
//
// Status bits (spec 2.3.6) are set for level-mode timers on every match,
// whether or not Tn_INT_ENB_CNF is set; edge-mode matches only pulse the line.
// A match is counter == comparator over the comparator's width, so a one-shot
// fires again each time the (32-bit, in 32-bit mode) counter comes round.
#include "devices/hpet.h"

#include <algorithm>

#include "base/log.h"

namespace tv::dev {
namespace {

constexpr uint64_t kNsPerTick = Hpet::kPeriodFs / 1'000'000;
static_assert(kNsPerTick * 1'000'000 == Hpet::kPeriodFs, "the tick must be whole nanoseconds");

// General registers.
constexpr uint64_t kRegCapabilities = 0x000;
constexpr uint64_t kRegConfig = 0x010;
constexpr uint64_t kRegStatus = 0x020;
constexpr uint64_t kRegCounter = 0x0F0;
constexpr uint64_t kTimerBase = 0x100, kTimerStride = 0x20;
constexpr uint64_t kTimerConfig = 0x00, kTimerComparator = 0x08;  // +0x10: FSB route

// General capabilities (spec 2.3.4): REV_ID 1, NUM_TIM_CAP = timers - 1,
// COUNT_SIZE_CAP (64-bit), LEG_RT_CAP, vendor 8086, then the period in fs.
constexpr uint64_t kCapabilities = Hpet::kPeriodFs << 32 | 0x8086ull << 16 | 1ull << 15 |
                                   1ull << 13 | uint64_t(Hpet::kTimers - 1) << 8 | 0x01;

// General configuration (spec 2.3.5).
constexpr uint64_t kEnable = 1ull << 0, kLegacy = 1ull << 1;

// Timer configuration and capabilities (spec 2.3.8).
constexpr uint64_t kLevel = 1ull << 1, kIntEnable = 1ull << 2, kPeriodic = 1ull << 3;
constexpr uint64_t kPeriodicCap = 1ull << 4, kSizeCap = 1ull << 5, kValSet = 1ull << 6;
constexpr uint64_t k32Bit = 1ull << 8;
constexpr unsigned kRouteShift = 9;
constexpr uint64_t kRouteMask = 0x1Full << kRouteShift;
constexpr uint64_t kTimerWritable = kLevel | kIntEnable | kPeriodic | kValSet | k32Bit | kRouteMask;
constexpr uint64_t kTimerCaps = uint64_t(Hpet::kRouteCap) << 32 | kPeriodicCap | kSizeCap;

constexpr uint64_t deposit(uint64_t old, uint64_t value, uint64_t mask) {
  return (old & ~mask) | (value & mask);
}

uint64_t width_mask(uint64_t config) { return (config & k32Bit) ? 0xFFFFFFFFull : ~0ull; }

}  // namespace

Hpet::Hpet(const Clock& clock, IrqSink* gsi, IrqSink* pic) : clock_(clock), gsi_(gsi), pic_(pic) {
  reset();
}

void Hpet::reset() {
  bool was_legacy = legacy_mode();
  for (Timer& t : timers_) {
    if (t.line_high) drive(t.driven, false);
    t = Timer{};
  }
  config_ = status_ = base_count_ = 0;
  base_ns_ = clock_.now_ns();
  if (was_legacy && legacy_listener_) legacy_listener_(false);
}

bool Hpet::enabled() const { return config_ & kEnable; }
bool Hpet::legacy_mode() const { return config_ & kLegacy; }

// --- The counter and its matches --------------------------------------------

// Spec 2.3.7: the main counter runs only while ENABLE_CNF is set.
uint64_t Hpet::counter_at(uint64_t now) const {
  if (!enabled() || now <= base_ns_) return base_count_;
  return base_count_ + (now - base_ns_) / kNsPerTick;
}

void Hpet::sync(uint64_t now) {
  uint64_t count = counter_at(now);
  for (unsigned n = 0; n < kTimers; ++n) check_timer(n, count);
}

void Hpet::advance(uint64_t now_ns) { sync(now_ns); }

// Ticks from `checked` to the next match, in [1, 2^width].
unsigned __int128 Hpet::ticks_to_match(const Timer& t) {
  uint64_t mask = width_mask(t.config);
  uint64_t distance = (t.comparator - t.checked) & mask;
  return distance != 0 ? distance : (unsigned __int128)mask + 1;
}

void Hpet::check_timer(unsigned n, uint64_t count) {
  Timer& t = timers_[n];
  uint64_t elapsed = count - t.checked;
  if (elapsed == 0) return;
  unsigned __int128 distance = ticks_to_match(t);
  t.checked = count;
  if (distance > elapsed) return;
  // Spec 2.3.9.2.2: each periodic match adds the period to the accumulator;
  // step past `count` at once, so missed periods make a single interrupt.
  if ((t.config & kPeriodic) && t.period != 0) {
    uint64_t late = uint64_t(elapsed - distance);
    unsigned __int128 steps = late / t.period + 1;
    t.comparator = uint64_t(t.comparator + steps * t.period) & width_mask(t.config);
  }
  fire(n);
}

void Hpet::fire(unsigned n) {
  Timer& t = timers_[n];
  if (t.config & kLevel) {
    status_ |= 1ull << n;
    update_line(n);
    return;
  }
  if (!(t.config & kIntEnable)) return;
  Output out = output_of(n);
  if (out == Output{}) log_once(logged_no_route_, "an enabled timer has no supported route");
  drive(out, true);
  drive(out, false);
}

// Only timers that would raise a line need a wake-up; everything else
// (status bits, periodic accumulators) is brought up to date lazily at the
// next register access.
std::optional<uint64_t> Hpet::next_deadline_ns() const {
  if (!enabled()) return std::nullopt;
  std::optional<uint64_t> earliest;
  for (unsigned n = 0; n < kTimers; ++n) {
    const Timer& t = timers_[n];
    if (!(t.config & kIntEnable)) continue;
    if ((t.config & kLevel) && (status_ & (1ull << n))) continue;  // already asserted
    unsigned __int128 ticks = (unsigned __int128)(t.checked - base_count_) + ticks_to_match(t);
    unsigned __int128 ns = base_ns_ + ticks * kNsPerTick;
    uint64_t deadline = ns > ~0ull ? ~0ull : uint64_t(ns);
    earliest = earliest ? std::min(*earliest, deadline) : deadline;
  }
  return earliest;
}

// --- Interrupt lines --------------------------------------------------------

// Spec 2.3.5, LEG_RT_CNF: timer 0 replaces the PIT (IRQ0, I/O APIC pin 2)
// and timer 1 the RTC (IRQ8, pin 8).
Hpet::Output Hpet::output_of(unsigned n) {
  if (legacy_mode() && n == 0) return Output{2, 0};
  if (legacy_mode() && n == 1) return Output{8, 8};
  unsigned route = unsigned((timers_[n].config & kRouteMask) >> kRouteShift);
  if (!(kRouteCap & (1u << route))) return Output{};
  return Output{int(route), -1};
}

bool Hpet::line_level(unsigned n) const {
  const Timer& t = timers_[n];
  return enabled() && (t.config & kLevel) && (t.config & kIntEnable) && (status_ & (1ull << n));
}

// Level mode: the line follows the status bit (spec 2.3.6); a route or
// legacy-mode change moves a held line.
void Hpet::update_line(unsigned n) {
  Timer& t = timers_[n];
  Output want = output_of(n);
  bool level = line_level(n);
  if (t.line_high && (!level || !(want == t.driven))) {
    drive(t.driven, false);
    t.line_high = false;
  }
  if (level && !t.line_high) {
    if (want == Output{}) log_once(logged_no_route_, "an enabled timer has no supported route");
    drive(want, true);
    t.driven = want;
    t.line_high = true;
  }
}

void Hpet::drive(const Output& out, bool level) {
  if (out.gsi >= 0 && gsi_) gsi_->set_irq(unsigned(out.gsi), level);
  if (out.pic >= 0 && pic_) pic_->set_irq(unsigned(out.pic), level);
}

// --- Registers --------------------------------------------------------------

// 32-bit accesses to either half of a register and 64-bit accesses to a
// whole one (spec 2.3.1); anything else does not decode.
uint64_t Hpet::read(uint64_t offset, unsigned size) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset + size > kMmioLength) {
    log_once(logged_bad_access_, "guest made an unaligned or non-32/64-bit access; ignored");
    return 0;
  }
  sync(clock_.now_ns());
  uint64_t value = read_register(offset & ~7ull);
  if (size == 8) return value;
  return (offset & 4) ? value >> 32 : value & 0xFFFFFFFF;
}

void Hpet::write(uint64_t offset, unsigned size, uint64_t value) {
  if ((size != 4 && size != 8) || offset % size != 0 || offset + size > kMmioLength) {
    log_once(logged_bad_access_, "guest made an unaligned or non-32/64-bit access; ignored");
    return;
  }
  uint64_t now = clock_.now_ns();
  sync(now);
  uint64_t mask = ~0ull;
  if (size == 4) {
    mask = (offset & 4) ? 0xFFFFFFFF00000000ull : 0xFFFFFFFFull;
    value = (offset & 4) ? value << 32 : value & 0xFFFFFFFF;
  }
  write_register(offset & ~7ull, value, mask, now);
}

uint64_t Hpet::read_register(uint64_t reg) const {
  switch (reg) {
    case kRegCapabilities: return kCapabilities;
    case kRegConfig: return config_;
    case kRegStatus: return status_;
    case kRegCounter: return counter_at(clock_.now_ns());
    default: break;
  }
  if (reg < kTimerBase || reg >= kTimerBase + kTimers * kTimerStride) return 0;
  const Timer& t = timers_[(reg - kTimerBase) / kTimerStride];
  switch ((reg - kTimerBase) % kTimerStride) {
    case kTimerConfig: return t.config | kTimerCaps;
    case kTimerComparator: return t.comparator;
    default: return 0;  // FSB interrupt route: FSB delivery is not offered
  }
}

void Hpet::write_register(uint64_t reg, uint64_t value, uint64_t mask, uint64_t now) {
  switch (reg) {
    case kRegConfig: return write_config(deposit(config_, value, mask), now);
    case kRegStatus:  // write 1 to clear (spec 2.3.6)
      status_ &= ~(value & mask);
      for (unsigned n = 0; n < kTimers; ++n) update_line(n);
      return;
    case kRegCounter: return write_counter(value, mask, now);
    default: break;
  }
  if (reg < kTimerBase || reg >= kTimerBase + kTimers * kTimerStride) return;  // read-only
  unsigned n = unsigned((reg - kTimerBase) / kTimerStride);
  switch ((reg - kTimerBase) % kTimerStride) {
    case kTimerConfig: return write_timer_config(n, value, mask);
    case kTimerComparator: return write_comparator(n, value, mask, now);
    default: return;
  }
}

void Hpet::write_config(uint64_t value, uint64_t now) {
  uint64_t old = config_;
  value &= kEnable | kLegacy;
  if ((old ^ value) & kEnable) {
    base_count_ = counter_at(now);  // sync() already ran at this instant
    base_ns_ = now;
    for (Timer& t : timers_) t.checked = base_count_;
  }
  config_ = value;
  for (unsigned n = 0; n < kTimers; ++n) update_line(n);
  if (((old ^ value) & kLegacy) && legacy_listener_) legacy_listener_(legacy_mode());
}

// Spec 2.3.7: software writes the counter only while it is halted.
void Hpet::write_counter(uint64_t value, uint64_t mask, uint64_t) {
  if (enabled()) {
    log_once(logged_counter_write_, "guest wrote the main counter while it runs; ignored");
    return;
  }
  base_count_ = deposit(base_count_, value, mask);
  for (Timer& t : timers_) t.checked = base_count_;
}

void Hpet::write_timer_config(unsigned n, uint64_t value, uint64_t mask) {
  Timer& t = timers_[n];
  uint64_t config = deposit(t.config, value, mask & kTimerWritable);
  unsigned route = unsigned((config & kRouteMask) >> kRouteShift);
  if (!(kRouteCap & (1u << route)) && ((config ^ t.config) & kRouteMask)) {
    log_once(logged_bad_route_, "guest chose an interrupt route outside INT_ROUTE_CAP; kept");
    config = (config & ~kRouteMask) | (t.config & kRouteMask);
  }
  if (!(config & kLevel)) status_ &= ~(1ull << n);  // edge mode has no status
  if (config & k32Bit) {
    t.comparator &= 0xFFFFFFFF;  // spec 2.3.8, Tn_32MODE_CNF
    t.period &= 0xFFFFFFFF;
  }
  t.config = config;
  update_line(n);
}

void Hpet::write_comparator(unsigned n, uint64_t value, uint64_t mask, uint64_t now) {
  Timer& t = timers_[n];
  mask &= width_mask(t.config);  // 32-bit mode: the upper half is ignored
  bool periodic = t.config & kPeriodic;
  if (!periodic || (t.config & kValSet)) t.comparator = deposit(t.comparator, value, mask);
  if (periodic) t.period = deposit(t.period, value, mask);
  t.config &= ~kValSet;
  // A comparator written at or below the counter matches only after a wrap.
  t.checked = counter_at(now);
}

void Hpet::log_once(bool& flag, std::string_view what) {
  if (flag) return;
  flag = true;
  log::get("dev.hpet")->warn("{} (logged once)", what);
}

}  // namespace tv::dev
