// Intel 8254 PIT. Each channel remembers when its count was loaded; the count
// and OUT at any instant are a function of (now - load time), so nothing runs
// per input clock. Channel 0's rising OUT edges become IRQ0 edges in
// advance(), coalesced when the guest falls behind.
//
// Simplifications, all invisible to PC guests we know of:
// - Mode 1 (retriggerable one-shot) counts like mode 0 and mode 5 (hardware
//   strobe) like mode 4: they start on the count write, not on a gate edge.
// - BCD is stored and reported in the status byte, but counting is binary.
// - A count is loaded into the counting element at the write, not on the
//   next input clock (one clock, 838 ns, early).
#include "devices/pit8254.h"

#include "base/log.h"
#include "devices/range_view.h"

namespace tv::dev {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr unsigned kIrqPit = 0;

}  // namespace

// PC/AT port 0x61 (System Control Port B): channel 2 gate and speaker enable
// in, OUT2 and the refresh-request toggle out.
uint64_t Pit8254::read_port61(uint64_t, unsigned) {
  uint64_t now = clock_.now_ns();
  // Bit 4 toggles every 15 us on real boards (DRAM refresh); toggling on
  // each read keeps BIOS-style "wait for N toggles" loops finite.
  refresh_ = !refresh_;
  const Channel& ch2 = channels_[2];
  return uint64_t(ch2.gate) | uint64_t(speaker_) << 1 | uint64_t(refresh_) << 4 |
         uint64_t(out_at(ch2, now)) << 5;
}

void Pit8254::write_port61(uint64_t, unsigned, uint64_t value) {
  speaker_ = value & 0x02;
  set_gate2(value & 0x01, clock_.now_ns());
}

Pit8254::Pit8254(const Clock& clock, IrqSink& irq)
    : clock_(clock),
      irq_(irq),
      port61_(make_range_view(*this, "port61", &Pit8254::read_port61, &Pit8254::write_port61)) {
  // Channel 2's gate is low until the guest sets port 0x61 bit 0.
  channels_[2].gate = false;
}

// --- Time arithmetic --------------------------------------------------------

const Pit8254::Segment& Pit8254::segment_at(const Channel& ch, uint64_t ns) {
  if (ch.next && ns >= ch.next->load_ns) return *ch.next;
  return ch.seg;
}

uint64_t Pit8254::ticks_at(const Channel& ch, uint64_t ns) {
  if (!ch.loaded) return 0;
  if (ch.frozen) return ch.frozen_ticks;
  const Segment& seg = segment_at(ch, ns);
  if (ns <= seg.load_ns) return seg.base_ticks;
  unsigned __int128 elapsed = ns - seg.load_ns;
  return seg.base_ticks + uint64_t(elapsed * kInputHz / kNsPerSecond);
}

// The first instant at which ticks_at() reaches `tick`.
uint64_t Pit8254::ns_at_tick(const Segment& seg, uint64_t tick) {
  if (tick <= seg.base_ticks) return seg.load_ns;
  unsigned __int128 scaled = (unsigned __int128)(tick - seg.base_ticks) * kNsPerSecond;
  return seg.load_ns + uint64_t((scaled + kInputHz - 1) / kInputHz);
}

// Promotes a pending modes-2/3 count once its period boundary has passed.
void Pit8254::settle(Channel& ch, uint64_t now) {
  if (ch.next && now >= ch.next->load_ns) {
    ch.seg = *ch.next;
    ch.next.reset();
  }
}

// 8254 datasheet, "Mode definitions": the counting element's value.
uint16_t Pit8254::count_at(const Channel& ch, uint64_t ns) {
  if (!ch.loaded) return uint16_t(ch.count_reg);
  uint64_t t = ticks_at(ch, ns);
  uint64_t n = segment_at(ch, ns).reload;
  switch (ch.mode) {
    case 2: return uint16_t(n - t % n);
    case 3: {
      // Decrements by two; an odd count spends (N+1)/2 clocks high and
      // (N-1)/2 low, the first clock of each half taking 1 (high) or 3 (low).
      uint64_t phase = t % n, high = (n + 1) / 2;
      uint64_t p = phase < high ? phase : phase - high;
      if (p == 0) return uint16_t(n);
      if (n % 2 == 0) return uint16_t(n - 2 * p);
      return uint16_t(phase < high ? n + 1 - 2 * p : n - 1 - 2 * p);
    }
    default:  // modes 0, 1, 4, 5 wrap through 0xFFFF after terminal count
      return uint16_t(n - t);
  }
}

bool Pit8254::out_at(const Channel& ch, uint64_t ns) {
  if (!ch.loaded) return ch.mode != 0 && ch.mode != 1;  // control word sets OUT
  if (!ch.gate && periodic(ch)) return true;            // gate low forces OUT high
  uint64_t t = ticks_at(ch, ns);
  uint64_t n = segment_at(ch, ns).reload;
  switch (ch.mode) {
    case 0:
    case 1: return t >= n;
    case 2: return t % n != n - 1;  // low for the one clock at count 1
    case 3: return t % n < (n + 1) / 2;
    default:  // 4, 5: a one-clock low strobe at terminal count
      return t != n;
  }
}

// --- Channel 0 as the timer interrupt ---------------------------------------

// The first channel-0 rising edge strictly after `ns`.
std::optional<uint64_t> Pit8254::edge_after(uint64_t ns) const {
  const Channel& ch = channels_[0];
  if (!ch.loaded || ch.frozen) return std::nullopt;
  const Segment& seg = segment_at(ch, ns);
  if (periodic(ch)) {
    // Modes 2 and 3 both rise when the count reloads, every N clocks.
    uint64_t k = (ticks_at(ch, ns) - seg.base_ticks) / seg.reload + 1;
    return ns_at_tick(seg, seg.base_ticks + k * seg.reload);
  }
  if (ch.oneshot_done) return std::nullopt;
  // Mode 0 rises at terminal count; mode 4's strobe rises a clock later.
  uint64_t tick = seg.reload + (ch.mode >= 4 ? 1 : 0);
  return ns_at_tick(seg, tick);
}

void Pit8254::advance(uint64_t now_ns) {
  Channel& ch = channels_[0];
  std::optional<uint64_t> edge = edge_after(ch.last_edge_ns);
  if (!edge || *edge > now_ns) return;
  // One edge however many periods passed: the 8259A latches a single
  // request anyway, and guests count time with a clocksource, not ticks.
  irq_.set_irq(kIrqPit, true);
  irq_.set_irq(kIrqPit, false);
  if (periodic(ch)) {
    const Segment& seg = segment_at(ch, now_ns);
    uint64_t k = (ticks_at(ch, now_ns) - seg.base_ticks) / seg.reload;
    ch.last_edge_ns = std::max(*edge, ns_at_tick(seg, seg.base_ticks + k * seg.reload));
    settle(ch, now_ns);
  } else {
    ch.oneshot_done = true;
  }
}

std::optional<uint64_t> Pit8254::next_deadline_ns() const {
  return edge_after(channels_[0].last_edge_ns);
}

uint64_t Pit8254::irq0_period_ns() const {
  const Channel& ch = channels_[0];
  if (!ch.loaded || !periodic(ch)) return 0;
  uint64_t n = segment_at(ch, clock_.now_ns()).reload;
  return (n * kNsPerSecond + kInputHz / 2) / kInputHz;
}

// --- Programming ------------------------------------------------------------

uint64_t Pit8254::read(uint64_t offset, unsigned) {
  if (offset == 3) return 0xff;  // the control word register is write-only
  return read_counter(channels_[offset], clock_.now_ns());
}

void Pit8254::write(uint64_t offset, unsigned, uint64_t value) {
  uint64_t now = clock_.now_ns();
  if (offset == 3)
    write_control(uint8_t(value), now);
  else
    write_count(channels_[offset], uint8_t(value), now);
}

// 8254 datasheet, "Control Word Format" and "Counter Latch Command".
void Pit8254::write_control(uint8_t value, uint64_t now) {
  unsigned sc = value >> 6;
  if (sc == 3) return read_back(value, now);
  Channel& ch = channels_[sc];
  auto access = Access((value >> 4) & 3);
  if (access == Access::kLatch) {
    if (!ch.latched_count) ch.latched_count = count_at(ch, now);  // first latch wins
    return;
  }
  uint8_t mode = (value >> 1) & 7;
  ch.mode = mode >= 6 ? mode - 4 : mode;  // 11x is a don't-care for modes 2/3
  ch.access = access;
  ch.bcd = value & 1;
  ch.loaded = false;  // counting stops until a new count is written
  ch.frozen = false;
  ch.next.reset();
  ch.write_high_next = false;
  ch.read_high_next = false;
  note_approximation(ch);
}

// 8254 datasheet, "Read-Back Command": bit 5 clear latches the count, bit 4
// clear latches the status, bits 1-3 select channels 0-2.
void Pit8254::read_back(uint8_t value, uint64_t now) {
  for (unsigned i = 0; i < 3; ++i) {
    if (!(value & (2u << i))) continue;
    Channel& ch = channels_[i];
    if (!(value & 0x20) && !ch.latched_count) ch.latched_count = count_at(ch, now);
    if (!(value & 0x10) && !ch.latched_status) ch.latched_status = status_byte(ch, now);
  }
}

// Status byte: OUT, NULL COUNT, RW1-0, M2-0, BCD.
uint8_t Pit8254::status_byte(const Channel& ch, uint64_t now) const {
  // NULL COUNT: a count was written but has not reached the counting element.
  bool null_count = !ch.loaded || (ch.next && now < ch.next->load_ns);
  return uint8_t(out_at(ch, now)) << 7 | uint8_t(null_count) << 6 | uint8_t(ch.access) << 4 |
         ch.mode << 1 | uint8_t(ch.bcd);
}

void Pit8254::write_count(Channel& ch, uint8_t value, uint64_t now) {
  uint32_t count;
  switch (ch.access) {
    case Access::kLow: count = value; break;
    case Access::kHigh: count = uint32_t(value) << 8; break;
    default:
      if (!ch.write_high_next) {
        ch.write_low = value;
        ch.write_high_next = true;
        // Mode 0: the first byte stops counting and drives OUT low.
        if (ch.mode == 0) ch.loaded = false;
        return;
      }
      ch.write_high_next = false;
      count = ch.write_low | uint32_t(value) << 8;
  }
  load_count(ch, count == 0 ? 0x10000 : count, now);
}

void Pit8254::load_count(Channel& ch, uint32_t count, uint64_t now) {
  ch.count_reg = count;
  if (periodic(ch) && ch.loaded && !ch.frozen) {
    // Modes 2/3: a new count takes effect when the current period ends.
    settle(ch, now);
    if (ch.next) {
      ch.next->reload = count;
    } else {
      uint64_t k = (ticks_at(ch, now) - ch.seg.base_ticks) / ch.seg.reload + 1;
      uint64_t boundary = ns_at_tick(ch.seg, ch.seg.base_ticks + k * ch.seg.reload);
      ch.next = Segment{count, boundary, 0};
    }
    return;
  }
  ch.loaded = true;
  ch.next.reset();
  ch.seg = Segment{count, now, 0};
  ch.frozen = !ch.gate;
  ch.frozen_ticks = 0;
  if (&ch == &channels_[0]) {
    ch.last_edge_ns = now;
    ch.oneshot_done = false;
  }
}

uint8_t Pit8254::read_counter(Channel& ch, uint64_t now) {
  if (ch.latched_status) {  // a latched status is read before a latched count
    uint8_t status = *ch.latched_status;
    ch.latched_status.reset();
    return status;
  }
  uint16_t value = ch.latched_count ? *ch.latched_count : count_at(ch, now);
  bool high;
  bool last_byte = true;
  switch (ch.access) {
    case Access::kHigh: high = true; break;
    case Access::kLowHigh:
      high = ch.read_high_next;
      last_byte = high;
      ch.read_high_next = !high;
      break;
    default: high = false;
  }
  // A latch holds until it has been read completely, then follows the count.
  if (last_byte) ch.latched_count.reset();
  return high ? value >> 8 : value & 0xff;
}

// Channel 2's gate from port 0x61 bit 0. 8254 datasheet, "Gate": low
// suspends counting in modes 0/4; in modes 2/3 it forces OUT high and the
// rising edge restarts the count from the count register.
void Pit8254::set_gate2(bool gate, uint64_t now) {
  Channel& ch = channels_[2];
  if (gate == ch.gate) return;
  if (!ch.loaded) {
    ch.gate = gate;
    return;
  }
  settle(ch, now);
  if (!gate) {
    ch.frozen_ticks = ticks_at(ch, now);
    ch.frozen = true;
    ch.next.reset();  // modes 2/3 restart from the count register anyway
  } else if (periodic(ch)) {
    ch.seg = Segment{ch.count_reg, now, 0};
    ch.next.reset();
    ch.frozen = false;
  } else {
    ch.seg = Segment{ch.seg.reload, now, ch.frozen_ticks};
    ch.frozen = false;
  }
  ch.gate = gate;
}

void Pit8254::note_approximation(const Channel& ch) {
  if (logged_approximation_ || (ch.mode != 1 && ch.mode != 5 && !ch.bcd)) return;
  logged_approximation_ = true;
  log::get("dev.pit")->info(
      "guest uses PIT mode {}{}: approximated (gate-less modes 0/4, binary counting; "
      "logged once)",
      ch.mode, ch.bcd ? " with BCD" : "");
}

}  // namespace tv::dev
