// Local APIC timer: one-shot, periodic, the divide encodings, current
// count read-back, masking, rate and mode changes, TSC-deadline.
#include <gtest/gtest.h>

#include "devices/clock.h"
#include "devices/lapic.h"

namespace tv::dev {
namespace {

class NullBus : public ApicBus {
 public:
  void send(const ApicMessage&) override {}
};

class NullEoi : public EoiSink {
 public:
  void eoi(uint8_t) override {}
};

constexpr uint64_t kStart = 7'000'000;
// 2 GHz guest TSC reading 1'000'000 at kStart: 2 TSC ticks per ns.
constexpr TscRate kTsc{2'000'000'000, 1'000'000, kStart};

constexpr uint32_t kOneShot = 0x00000;
constexpr uint32_t kPeriodic = 0x20000;
constexpr uint32_t kDeadline = 0x40000;
constexpr uint32_t kMasked = 0x10000;

class LapicTimerTest : public ::testing::Test {
 protected:
  LapicTimerTest() {
    clock.set(kStart);
    set(0xF0, 0x1FF);
  }
  uint32_t reg(unsigned offset) { return uint32_t(apic.read(offset, 4)); }
  void set(unsigned offset, uint32_t value) { apic.write(offset, 4, value); }
  void start(uint32_t lvt, uint32_t divide, uint32_t count) {
    set(0x320, lvt);
    set(0x3E0, divide);
    set(0x380, count);
  }
  // Advances to `ns` and reports whether the timer vector (0x30) was raised,
  // taking and retiring it.
  bool fired_at(uint64_t ns) {
    clock.set(ns);
    apic.advance(ns);
    if (!apic.interrupt_pending()) return false;
    EXPECT_EQ(apic.acknowledge(), 0x30);
    set(0xB0, 0);
    return true;
  }
  uint32_t esr() {
    set(0x280, 0);
    return reg(0x280);
  }

  ManualClock clock;
  NullBus bus;
  NullEoi eoi;
  LocalApic apic{0, clock, bus, eoi, nullptr, kTsc};
};

TEST_F(LapicTimerTest, IdleAtPowerOn) {
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 1'000'000'000));
}

TEST_F(LapicTimerTest, OneShotCountsDownOnce) {
  start(kOneShot | 0x30, 0xB, 1000);  // divide by 1: one count per ns
  EXPECT_EQ(reg(0x390), 1000u);
  clock.set(kStart + 400);
  EXPECT_EQ(reg(0x390), 600u);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 1000);
  EXPECT_FALSE(fired_at(kStart + 999));
  EXPECT_EQ(reg(0x390), 1u);
  EXPECT_TRUE(fired_at(kStart + 1000));
  EXPECT_EQ(reg(0x390), 0u);
  EXPECT_EQ(reg(0x380), 1000u);  // the initial count is kept
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 1'000'000));
  // Writing the initial count again restarts it.
  set(0x380, 50);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 1'000'000 + 50);
}

TEST_F(LapicTimerTest, PeriodicReloadsAndCoalesces) {
  start(kPeriodic | 0x30, 0x0, 1000);  // divide by 2: a period of 2000 ns
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 2000);
  clock.set(kStart + 501);
  EXPECT_EQ(reg(0x390), 750u);
  EXPECT_TRUE(fired_at(kStart + 2000));
  EXPECT_EQ(reg(0x390), 1000u);  // reloaded
  clock.set(kStart + 2002);
  EXPECT_EQ(reg(0x390), 999u);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 4000);
  // Ten and a half periods late: one interrupt, the next on the grid.
  EXPECT_TRUE(fired_at(kStart + 21'000));
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 22'000);
  EXPECT_FALSE(fired_at(kStart + 21'999));
  EXPECT_TRUE(fired_at(kStart + 22'000));
}

TEST_F(LapicTimerTest, DivideEncodings) {
  // Bits 3,1,0 (bit 2 reserved): 000 = 2 ... 110 = 128, 111 = 1.
  const struct {
    uint32_t value;
    uint64_t divisor;
  } cases[] = {{0x0, 2},  {0x1, 4},   {0x2, 8}, {0x3, 16}, {0x8, 32},
               {0x9, 64}, {0xA, 128}, {0xB, 1}, {0x7, 16}, {0xFFFFFFFF, 1}};
  for (const auto& c : cases) {
    uint64_t now = clock.now_ns();
    start(kOneShot | 0x30, c.value, 1000);
    EXPECT_EQ(reg(0x3E0), c.value & 0xB);
    EXPECT_EQ(apic.next_deadline_ns(), now + 1000 * c.divisor) << c.value;
    clock.set(now + 10 * c.divisor);
    EXPECT_EQ(reg(0x390), 990u) << c.value;
    clock.set(now + 10 * c.divisor - 1);
    EXPECT_EQ(reg(0x390), 991u) << c.value;  // a partial tick does not count
    clock.set(now + 5000 * c.divisor);
    apic.advance(clock.now_ns());
    set(0x380, 0);
  }
}

TEST_F(LapicTimerTest, MaskedTimerStillCounts) {
  start(kMasked | kOneShot | 0x30, 0xB, 1000);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);  // nobody to wake
  EXPECT_FALSE(fired_at(kStart + 1500));
  EXPECT_EQ(reg(0x390), 0u);
  set(0x320, kOneShot | 0x30);  // unmasking does not replay the expiry
  EXPECT_FALSE(fired_at(kStart + 3000));
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
}

TEST_F(LapicTimerTest, UnmaskedPeriodicResumesOnItsGrid) {
  start(kMasked | kPeriodic | 0x30, 0xB, 1000);
  clock.set(kStart + 3500);
  set(0x320, kPeriodic | 0x30);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 4000);
  EXPECT_TRUE(fired_at(kStart + 4000));
}

TEST_F(LapicTimerTest, InitialCountZeroStops) {
  start(kPeriodic | 0x30, 0xB, 1000);
  clock.set(kStart + 100);
  set(0x380, 0);
  EXPECT_EQ(reg(0x390), 0u);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 100'000));
}

TEST_F(LapicTimerTest, DivideChangeAppliesToTheRest) {
  start(kOneShot | 0x30, 0xB, 1000);
  clock.set(kStart + 400);
  set(0x3E0, 0x0);  // now divide by 2
  EXPECT_EQ(reg(0x390), 600u);
  clock.set(kStart + 600);
  EXPECT_EQ(reg(0x390), 500u);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 400 + 1200);
}

TEST_F(LapicTimerTest, OneShotToPeriodicKeepsCounting) {
  start(kOneShot | 0x30, 0xB, 1000);
  clock.set(kStart + 300);
  set(0x320, kPeriodic | 0x30);
  EXPECT_EQ(reg(0x390), 700u);
  EXPECT_TRUE(fired_at(kStart + 1000));
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 2000);  // reloads the initial count
  // An expired one-shot stays stopped when made periodic.
  start(kOneShot | 0x30, 0xB, 100);
  EXPECT_TRUE(fired_at(kStart + 1100));
  set(0x320, kPeriodic | 0x30);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_EQ(reg(0x390), 0u);
}

TEST_F(LapicTimerTest, ReservedModeCountsAsOneShot) {
  start(0x60000 | 0x30, 0xB, 100);
  EXPECT_EQ(reg(0x320), 0x60030u);
  EXPECT_TRUE(fired_at(kStart + 100));
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
}

TEST_F(LapicTimerTest, IllegalTimerVector) {
  start(kOneShot | 0x0E, 0xB, 10);
  set(0x280, 0);
  EXPECT_FALSE(fired_at(kStart + 10));
  EXPECT_EQ(esr(), 0x40u);
  EXPECT_EQ(reg(0x200), 0u);
}

TEST_F(LapicTimerTest, SoftwareDisableMasksTheTimer) {
  start(kPeriodic | 0x30, 0xB, 1000);
  set(0xF0, 0xFF);
  EXPECT_EQ(reg(0x320), kMasked | kPeriodic | 0x30);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  clock.set(kStart + 1500);
  EXPECT_EQ(reg(0x390), 500u);  // still counting
}

TEST_F(LapicTimerTest, TscDeadlineFiresOnceAndClears) {
  set(0x320, kDeadline | 0x30);
  set(0x380, 1000);  // ignored in TSC-deadline mode
  EXPECT_EQ(reg(0x380), 0u);
  EXPECT_EQ(reg(0x390), 0u);
  apic.set_tsc_deadline(1'000'000 + 2'000'000);  // 1 ms after kStart
  EXPECT_EQ(apic.tsc_deadline(), 3'000'000u);
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 1'000'000);
  EXPECT_FALSE(fired_at(kStart + 999'999));
  EXPECT_TRUE(fired_at(kStart + 1'000'000));
  EXPECT_EQ(apic.tsc_deadline(), 0u);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 5'000'000));
}

TEST_F(LapicTimerTest, TscDeadlineRoundsUpAndReadsZeroOncePassed) {
  set(0x320, kDeadline | 0x30);
  apic.set_tsc_deadline(1'000'003);  // 1.5 ns after kStart
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 2);
  clock.set(kStart + 2);
  EXPECT_EQ(apic.tsc_deadline(), 0u);  // before advance() has run
  EXPECT_TRUE(fired_at(kStart + 2));
}

TEST_F(LapicTimerTest, TscDeadlineZeroDisarmsAndPastFiresAtOnce) {
  set(0x320, kDeadline | 0x30);
  apic.set_tsc_deadline(5'000'000);
  apic.set_tsc_deadline(0);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 10'000'000));
  apic.set_tsc_deadline(500'000);  // before the reference TSC reading
  EXPECT_EQ(apic.next_deadline_ns(), kStart - 250'000);
  EXPECT_TRUE(fired_at(clock.now_ns()));
  apic.set_tsc_deadline(1);  // TSC 1 was read 499'999.5 ns before kStart
  EXPECT_EQ(apic.next_deadline_ns(), kStart - 499'999);
  EXPECT_TRUE(fired_at(clock.now_ns()));
}

TEST_F(LapicTimerTest, TscDeadlineIgnoredInOtherModes) {
  set(0x320, kOneShot | 0x30);
  apic.set_tsc_deadline(2'000'000);
  EXPECT_EQ(apic.tsc_deadline(), 0u);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
}

TEST_F(LapicTimerTest, LeavingOrEnteringTscDeadlineDisarms) {
  start(kOneShot | 0x30, 0xB, 1000);
  set(0x320, kDeadline | 0x30);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_EQ(reg(0x380), 0u);
  apic.set_tsc_deadline(3'000'000);
  set(0x320, kOneShot | 0x30);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  set(0x320, kDeadline | 0x30);
  EXPECT_EQ(apic.tsc_deadline(), 0u);
  EXPECT_FALSE(fired_at(kStart + 10'000'000));
}

TEST_F(LapicTimerTest, MaskedTscDeadlineStillDisarms) {
  set(0x320, kMasked | kDeadline | 0x30);
  apic.set_tsc_deadline(1'000'000 + 200);
  EXPECT_EQ(apic.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(fired_at(kStart + 50));
  EXPECT_EQ(apic.tsc_deadline(), 1'000'200u);
  EXPECT_FALSE(fired_at(kStart + 100'000));
  EXPECT_EQ(apic.tsc_deadline(), 0u);
  set(0x320, kDeadline | 0x30);
  EXPECT_FALSE(fired_at(kStart + 200'000));
}

TEST_F(LapicTimerTest, NoTscRateNeverFires) {
  LocalApic plain(0, clock, bus, eoi, nullptr);
  plain.write(0xF0, 4, 0x1FF);
  plain.write(0x320, 4, kDeadline | 0x30);
  plain.set_tsc_deadline(12345);
  EXPECT_EQ(plain.tsc_deadline(), 12345u);
  EXPECT_EQ(plain.next_deadline_ns(), std::nullopt);
  plain.advance(~0ull);
  EXPECT_FALSE(plain.interrupt_pending());
}

TEST_F(LapicTimerTest, HugeCountsDoNotOverflow) {
  start(kPeriodic | 0x30, 0xA, 0xFFFFFFFF);  // divide by 128: ~550 s per period
  uint64_t period = 0xFFFFFFFFull * 128;
  EXPECT_EQ(apic.next_deadline_ns(), kStart + period);
  EXPECT_TRUE(fired_at(kStart + 3 * period + 5));
  EXPECT_EQ(apic.next_deadline_ns(), kStart + 4 * period);
}

}  // namespace
}  // namespace tv::dev
