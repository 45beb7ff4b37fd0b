// The local APIC timer (SDM Vol. 3A 11.5.4): one-shot and periodic count
// down from the initial count at kBusHz / divisor; TSC-deadline fires when
// the guest TSC reaches IA32_TSC_DEADLINE. Nothing is stepped: the count
// is computed from the time counting started, as pit8254.cc does, and
// advance() raises at most one interrupt however many periods passed
// (missed periods coalesce; guests keep time with a clocksource).
//
// Choices where the SDM leaves room, following KVM:
// - Switching between one-shot and periodic keeps counting from the current
//   count under the new mode; switching to or from TSC-deadline disarms the
//   timer and zeroes the initial count and the deadline (SDM 11.5.4.1).
// - Timer mode 11b (reserved) counts as one-shot but reads back as written.
// - A new divide value applies to the rest of the current count.
// - A TSC deadline beyond 2^64 ns, or with no TscRate, never fires.
#include <limits>

#include "devices/lapic.h"
#include "devices/lapic_registers.h"

namespace tv::dev {

using namespace lapic;

namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
static_assert(LocalApic::kBusHz == kNsPerSecond, "the timer arithmetic counts one tick per ns");

}  // namespace

LocalApic::TimerMode LocalApic::timer_mode_of(uint32_t lvt) {
  switch ((lvt & kLvtTimerMode) >> 17) {
    case 1: return TimerMode::kPeriodic;
    case 2: return TimerMode::kTscDeadline;
    default: return TimerMode::kOneShot;
  }
}

LocalApic::TimerMode LocalApic::timer_mode() const { return timer_mode_of(lvt_[kLvtTimer]); }

uint32_t LocalApic::current_count(uint64_t now) const {
  if (!timer_armed_ || timer_mode() == TimerMode::kTscDeadline) return 0;
  uint64_t ticks = (now > timer_start_ns_ ? now - timer_start_ns_ : 0) >> timer_shift_;
  if (ticks < timer_first_) return uint32_t(timer_first_ - ticks);
  if (timer_mode() != TimerMode::kPeriodic) return 0;  // one-shot: stays at 0
  return timer_initial_ - uint32_t((ticks - timer_first_) % timer_initial_);
}

// The next expiry not yet handled by advance(), masked or not.
std::optional<uint64_t> LocalApic::timer_expiry() const {
  if (timer_mode() == TimerMode::kTscDeadline) {
    if (tsc_deadline_ == 0 || tsc_deadline_ns_ == kNever) return std::nullopt;
    return tsc_deadline_ns_;
  }
  if (!timer_armed_) return std::nullopt;
  if (timer_mode() != TimerMode::kPeriodic && timer_fires_ > 0) return std::nullopt;
  // Count reaches 0 after `first` ticks, then every `initial` ticks.
  uint64_t ticks = timer_first_ + timer_fires_ * timer_initial_;
  return timer_start_ns_ + (ticks << timer_shift_);
}

std::optional<uint64_t> LocalApic::next_deadline_ns() const {
  // A masked timer interrupts nobody; advance() still consumes its expiries.
  if (lvt_[kLvtTimer] & kLvtMasked) return std::nullopt;
  return timer_expiry();
}

void LocalApic::advance(uint64_t now_ns) {
  std::optional<uint64_t> expiry = timer_expiry();
  if (!expiry || *expiry > now_ns) return;
  deliver_lvt(kLvtTimer);  // nothing when masked
  switch (timer_mode()) {
    case TimerMode::kTscDeadline:
      tsc_deadline_ = 0;  // SDM 11.5.4.1: the timer disarms itself
      return;
    case TimerMode::kPeriodic: {
      uint64_t ticks = (now_ns - timer_start_ns_) >> timer_shift_;
      timer_fires_ = (ticks - timer_first_) / timer_initial_ + 1;
      return;
    }
    case TimerMode::kOneShot: timer_fires_ = 1; return;
  }
}

void LocalApic::disarm_timer() {
  timer_armed_ = false;
  timer_first_ = 0;
  timer_fires_ = 0;
}

// Restarts the count from its current value at `now` (before a change of
// rate or mode); an expired one-shot count stays stopped at 0.
void LocalApic::rebase_timer(uint64_t now) {
  if (!timer_armed_) return;
  uint32_t count = current_count(now);
  if (count == 0) return disarm_timer();
  timer_start_ns_ = now;
  timer_first_ = count;
  timer_fires_ = 0;
}

void LocalApic::write_lvt_timer(uint32_t value, uint64_t now) {
  TimerMode old_mode = timer_mode();
  TimerMode new_mode = timer_mode_of(value);
  if ((old_mode == TimerMode::kTscDeadline) != (new_mode == TimerMode::kTscDeadline)) {
    disarm_timer();
    timer_initial_ = 0;
    tsc_deadline_ = 0;
  } else if (old_mode != new_mode) {
    rebase_timer(now);
  }
  lvt_[kLvtTimer] = value;
}

// SDM 11.5.4: a write starts counting from the new value; 0 stops the
// timer. TSC-deadline mode ignores the register.
void LocalApic::write_initial_count(uint32_t value, uint64_t now) {
  if (timer_mode() == TimerMode::kTscDeadline) return;
  timer_initial_ = value;
  if (value == 0) return disarm_timer();
  timer_armed_ = true;
  timer_start_ns_ = now;
  timer_first_ = value;
  timer_fires_ = 0;
}

// SDM 11.5.4, divide configuration: bits 3,1,0 = 000 divide by 2, 001 by 4,
// ... 110 by 128, 111 by 1.
void LocalApic::write_divide(uint32_t value, uint64_t now) {
  rebase_timer(now);  // the count so far was at the old rate
  timer_divide_ = value & kDivideWritable;
  unsigned code = (timer_divide_ & 3) | ((timer_divide_ >> 1) & 4);
  timer_shift_ = (code + 1) & 7;
}

uint64_t LocalApic::tsc_deadline() const {
  if (timer_mode() != TimerMode::kTscDeadline) return 0;
  // Reads 0 from the instant the deadline passes, before advance() runs.
  if (tsc_deadline_ != 0 && tsc_deadline_ns_ != kNever && clock_.now_ns() >= tsc_deadline_ns_)
    return 0;
  return tsc_deadline_;
}

void LocalApic::set_tsc_deadline(uint64_t tsc) {
  if (timer_mode() != TimerMode::kTscDeadline) return;  // ignored in other modes
  advance(clock_.now_ns());                             // an old deadline already due still fires
  tsc_deadline_ = tsc;
  tsc_deadline_ns_ = tsc == 0 ? 0 : tsc_to_ns(tsc);
}

// The first clock instant at which the guest TSC reads at least `tsc`.
uint64_t LocalApic::tsc_to_ns(uint64_t tsc) {
  const TscRate& rate = tsc_rate_;
  if (rate.hz == 0) {
    log_once(logged_no_tsc_rate_, "TSC deadline armed but the TSC rate is unknown: never fires");
    return kNever;
  }
  if (tsc >= rate.tsc) {
    unsigned __int128 ns = (unsigned __int128)(tsc - rate.tsc) * kNsPerSecond;
    ns = (ns + rate.hz - 1) / rate.hz + rate.ns;
    return ns >= kNever ? kNever : uint64_t(ns);
  }
  unsigned __int128 back = (unsigned __int128)(rate.tsc - tsc) * kNsPerSecond / rate.hz;
  return back >= rate.ns ? 0 : rate.ns - uint64_t(back);
}

}  // namespace tv::dev
