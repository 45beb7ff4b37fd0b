#include "devices/pit8254.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "device_fakes.h"
#include "devices/clock.h"

namespace tv::dev {
namespace {

// The first nanosecond at which `ticks` input clocks have elapsed.
uint64_t ns_for(uint64_t ticks) { return (ticks * 1'000'000'000 + 1193181) / 1193182; }

constexpr uint64_t kStart = 5'000'000;

class PitTest : public ::testing::Test {
 protected:
  PitTest() { clock.set(kStart); }

  void program(unsigned channel, uint8_t control, uint16_t count) {
    pit.write(3, 1, control);
    pit.write(channel, 1, count & 0xff);
    pit.write(channel, 1, count >> 8);
  }
  uint16_t read_count(unsigned channel) {
    uint16_t low = uint16_t(pit.read(channel, 1));
    return uint16_t(low | pit.read(channel, 1) << 8);
  }

  ManualClock clock;
  FakeIrq irq;
  Pit8254 pit{clock, irq};
};

TEST_F(PitTest, IdleUntilProgrammed) {
  EXPECT_EQ(pit.next_deadline_ns(), std::nullopt);
  pit.advance(kStart + 1'000'000'000);
  EXPECT_EQ(irq.rising[0], 0u);
  EXPECT_EQ(pit.irq0_period_ns(), 0u);
}

TEST_F(PitTest, Mode2RaisesIrq0EachPeriod) {
  program(0, 0x34, 11932);  // channel 0, lobyte/hibyte, mode 2: Linux's 100 Hz
  ASSERT_EQ(ns_for(11932), 10'000'151u);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(11932));
  EXPECT_EQ(pit.irq0_period_ns(), 10'000'151u);

  pit.advance(kStart + ns_for(11932) - 1);
  EXPECT_EQ(irq.rising[0], 0u);
  pit.advance(kStart + ns_for(11932));
  EXPECT_EQ(irq.rising[0], 1u);
  EXPECT_FALSE(irq.levels[0]);  // raised then lowered: one edge per period
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(2 * 11932));

  pit.advance(kStart + ns_for(2 * 11932));
  EXPECT_EQ(irq.rising[0], 2u);
}

TEST_F(PitTest, Mode3SquareWaveEdgesAndOut) {
  program(0, 0x36, 1000);  // mode 3
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(1000));
  // OUT is high for the first half of the period, low for the second.
  clock.set(kStart + ns_for(499));
  pit.write(3, 1, 0xe2);  // read-back: status of channel 0
  EXPECT_EQ(pit.read(0, 1) & 0x80, 0x80u);
  clock.set(kStart + ns_for(500));
  pit.write(3, 1, 0xe2);
  EXPECT_EQ(pit.read(0, 1) & 0x80, 0u);

  pit.advance(kStart + ns_for(1000));
  EXPECT_EQ(irq.rising[0], 1u);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(2000));
}

TEST_F(PitTest, MissedPeriodsCoalesceIntoOneEdge) {
  program(0, 0x34, 1000);
  pit.advance(kStart + ns_for(10'500));  // ten and a half periods late
  EXPECT_EQ(irq.rising[0], 1u);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(11'000));
  pit.advance(kStart + ns_for(10'999));
  EXPECT_EQ(irq.rising[0], 1u);
  // A whole day of missed periods is still one edge and no loop.
  pit.advance(kStart + 86'400'000'000'000ull);
  EXPECT_EQ(irq.rising[0], 2u);
  EXPECT_GT(*pit.next_deadline_ns(), kStart + 86'400'000'000'000ull);
}

TEST_F(PitTest, Mode0OnChannel0FiresOnce) {
  program(0, 0x30, 2000);  // mode 0, as Linux's one-shot clockevent
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(2000));
  pit.advance(kStart + ns_for(5000));
  EXPECT_EQ(irq.rising[0], 1u);
  EXPECT_EQ(pit.next_deadline_ns(), std::nullopt);
  pit.advance(kStart + ns_for(200'000));
  EXPECT_EQ(irq.rising[0], 1u);
  // Writing a new count rearms it, counted from the write.
  clock.set(kStart + ns_for(200'000));
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(200'000) + ns_for(100));
}

TEST_F(PitTest, CountZeroMeans65536) {
  program(0, 0x34, 0);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(65536));
  EXPECT_EQ(pit.irq0_period_ns(), 54'925'401u);
}

TEST_F(PitTest, NewMode2CountTakesEffectAtPeriodEnd) {
  program(0, 0x34, 1000);
  clock.set(kStart + ns_for(300));
  pit.write(0, 1, 500 & 0xff);
  pit.write(0, 1, 500 >> 8);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(1000));
  pit.advance(kStart + ns_for(1000));
  EXPECT_EQ(irq.rising[0], 1u);
  EXPECT_EQ(pit.next_deadline_ns(), kStart + ns_for(1000) + ns_for(500));
}

// Linux's PIT TSC calibration (arch/x86/kernel/tsc.c, pit_calibrate_tsc).
TEST_F(PitTest, Channel2Mode0OutViaPort61) {
  auto port61 = pit.port61();
  port61->write(0, 1, (port61->read(0, 1) & ~0x02u) | 0x01);
  pit.write(3, 1, 0xb0);  // channel 2, lobyte/hibyte, mode 0
  pit.write(2, 1, 59659 & 0xff);
  pit.write(2, 1, 59659 >> 8);
  EXPECT_EQ(port61->read(0, 1) & 0x21, 0x01u);  // gate high, OUT2 low
  clock.set(kStart + ns_for(59659) - 1);
  EXPECT_EQ(port61->read(0, 1) & 0x20, 0u);
  clock.set(kStart + ns_for(59659));
  EXPECT_EQ(port61->read(0, 1) & 0x20, 0x20u);
  EXPECT_EQ(irq.rising[0], 0u);  // channel 2 has no interrupt
}

TEST_F(PitTest, Channel2GateLowPausesMode0) {
  auto port61 = pit.port61();
  program(2, 0xb0, 1000);  // gate low: loaded but not counting
  clock.set(kStart + ns_for(5000));
  EXPECT_EQ(read_count(2), 1000u);
  port61->write(0, 1, 0x01);
  clock.advance(ns_for(400));
  EXPECT_EQ(read_count(2), 600u);
  port61->write(0, 1, 0x00);
  clock.advance(ns_for(5000));
  EXPECT_EQ(read_count(2), 600u);
  EXPECT_EQ(port61->read(0, 1) & 0x20, 0u);
  port61->write(0, 1, 0x03);
  clock.advance(ns_for(600));
  EXPECT_EQ(port61->read(0, 1) & 0x23, 0x23u);  // OUT2, speaker, gate
}

TEST_F(PitTest, Port61RefreshBitTogglesOnReads) {
  auto port61 = pit.port61();
  uint64_t first = port61->read(0, 1) & 0x10;
  uint64_t second = port61->read(0, 1) & 0x10;
  EXPECT_NE(first, second);
  EXPECT_EQ(port61->read(0, 1) & 0xcc, 0u);  // unimplemented bits read 0
}

// The real host clock: polling OUT2 terminates after the programmed time.
TEST(PitHostClock, CalibrationLoopSeesRealTime) {
  HostClock clock;
  FakeIrq irq;
  Pit8254 pit(clock, irq);
  auto port61 = pit.port61();
  port61->write(0, 1, 0x01);
  pit.write(3, 1, 0xb0);
  pit.write(2, 1, 1193 & 0xff);  // about 1 ms
  uint64_t start = clock.now_ns();
  pit.write(2, 1, 1193 >> 8);  // counting starts here
  while (!(port61->read(0, 1) & 0x20)) {
    ASSERT_LT(clock.now_ns() - start, 1'000'000'000u) << "OUT2 never went high";
  }
  EXPECT_GE(clock.now_ns() - start, 999'000u);
}

TEST_F(PitTest, LatchFreezesTheReadValue) {
  program(0, 0x34, 1000);
  clock.set(kStart + ns_for(100));
  pit.write(3, 1, 0x00);  // counter latch, channel 0
  clock.set(kStart + ns_for(400));
  pit.write(3, 1, 0x00);  // ignored: the first latch has not been read
  EXPECT_EQ(read_count(0), 900u);
  EXPECT_EQ(read_count(0), 600u);  // the latch is released after both bytes
}

TEST_F(PitTest, ReadBackStatusAndCount) {
  pit.write(3, 1, 0x34);
  pit.write(3, 1, 0xe2);  // status only, channel 0
  // OUT high (mode 2), null count (no count yet), lobyte/hibyte, mode 2.
  EXPECT_EQ(pit.read(0, 1), 0xf4u);
  pit.write(0, 1, 0xe8);
  pit.write(0, 1, 0x03);  // 1000
  clock.set(kStart + ns_for(250));
  pit.write(3, 1, 0xc2);  // status and count, channel 0
  clock.set(kStart + ns_for(600));
  EXPECT_EQ(pit.read(0, 1), 0xb4u);  // the status comes first
  EXPECT_EQ(read_count(0), 750u);
  EXPECT_EQ(read_count(0), 400u);
}

TEST_F(PitTest, ReadBackStatusOfMode0BeforeAndAfterTerminalCount) {
  program(2, 0xb1, 10);  // mode 0, BCD flag stored
  pit.port61()->write(0, 1, 0x01);
  pit.write(3, 1, 0xe8);  // status of channel 2
  EXPECT_EQ(pit.read(2, 1), 0x31u);
  clock.advance(ns_for(10));
  pit.write(3, 1, 0xe8);
  EXPECT_EQ(pit.read(2, 1), 0xb1u);
}

TEST_F(PitTest, LowHighFlipFlops) {
  program(1, 0x74, 0x1234);  // channel 1, lobyte/hibyte, mode 2
  EXPECT_EQ(pit.read(1, 1), 0x34u);
  EXPECT_EQ(pit.read(1, 1), 0x12u);
  EXPECT_EQ(pit.read(1, 1), 0x34u);
  // A control word resets the write flip-flop to the low byte.
  pit.write(3, 1, 0x74);
  pit.write(1, 1, 0x78);
  pit.write(3, 1, 0x74);
  pit.write(1, 1, 0xcd);
  pit.write(1, 1, 0xab);
  EXPECT_EQ(read_count(1), 0xabcdu);
}

TEST_F(PitTest, LowOnlyAndHighOnlyAccess) {
  pit.write(3, 1, 0x50);  // channel 1, lobyte only, mode 0
  pit.write(1, 1, 0x56);
  EXPECT_EQ(pit.read(1, 1), 0x56u);
  EXPECT_EQ(pit.read(1, 1), 0x56u);
  pit.write(3, 1, 0x60);  // channel 1, hibyte only, mode 0
  pit.write(1, 1, 0x12);
  EXPECT_EQ(pit.read(1, 1), 0x12u);
  clock.advance(ns_for(0x100));
  EXPECT_EQ(pit.read(1, 1), 0x11u);
}

TEST_F(PitTest, Mode0FirstByteStopsCounting) {
  program(0, 0x30, 100);
  pit.write(0, 1, 0x50);  // first byte of a new count
  EXPECT_EQ(pit.next_deadline_ns(), std::nullopt);
  pit.write(3, 1, 0xe2);
  EXPECT_EQ(pit.read(0, 1) & 0xc0, 0x40u);  // OUT low, null count
}

}  // namespace
}  // namespace tv::dev
