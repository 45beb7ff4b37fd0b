#include "devices/hpet.h"

#include <gtest/gtest.h>

#include <vector>

#include "device_fakes.h"
#include "devices/clock.h"

namespace tv::dev {
namespace {

// I/O APIC inputs by GSI: levels and rising edges of all 24.
class FakeGsi : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override {
    if (level && !levels[irq]) ++rising[irq];
    levels[irq] = level;
  }
  bool levels[24] = {};
  unsigned rising[24] = {};
};

constexpr uint64_t kStart = 1'000'000;
constexpr uint64_t kConfig = 0x010, kStatus = 0x020, kCounter = 0x0F0;
constexpr uint64_t kLevel = 1 << 1, kIntEnable = 1 << 2, kPeriodic = 1 << 3, kValSet = 1 << 6;
constexpr uint64_t k32Bit = 1 << 8;
constexpr uint64_t route(unsigned gsi) { return uint64_t(gsi) << 9; }
constexpr uint64_t timer_config(unsigned n) { return 0x100 + 0x20 * n; }
constexpr uint64_t comparator(unsigned n) { return 0x108 + 0x20 * n; }

class HpetTest : public ::testing::Test {
 protected:
  HpetTest() {
    clock.set(kStart);
    hpet.reset();
  }
  uint64_t read64(uint64_t offset) { return hpet.read(offset, 8); }
  void write64(uint64_t offset, uint64_t value) { hpet.write(offset, 8, value); }
  void enable(uint64_t extra = 0) { write64(kConfig, 1 | extra); }
  // Moves time to `ns` after kStart and lets the machine advance the HPET.
  void run_to(uint64_t ns) {
    clock.set(kStart + ns);
    hpet.advance(kStart + ns);
  }

  ManualClock clock;
  FakeGsi gsi;
  FakeIrq pic;
  Hpet hpet{clock, &gsi, &pic};
};

TEST_F(HpetTest, CapabilitiesAsQemu) {
  EXPECT_EQ(read64(0x000), 0x009896808086A201ull);
  EXPECT_EQ(hpet.read(0x000, 4), 0x8086A201u);  // vendor 8086, legacy, 64-bit, 3 timers, rev 1
  EXPECT_EQ(hpet.read(0x004, 4), 10'000'000u);  // fs per tick: 100 MHz
  for (unsigned n = 0; n < 3; ++n) {
    // Routes to GSIs 20-23; 64-bit and periodic capable; nothing enabled.
    EXPECT_EQ(read64(timer_config(n)), 0x00F0000000000030ull) << n;
    EXPECT_EQ(read64(comparator(n)), ~0ull) << n;
  }
  EXPECT_EQ(read64(timer_config(3)), 0u);  // no fourth timer
  EXPECT_EQ(read64(kConfig), 0u);
  EXPECT_EQ(hpet.next_deadline_ns(), std::nullopt);
}

TEST_F(HpetTest, CounterRunsAt100MHzOnlyWhileEnabled) {
  clock.advance(5'000);
  EXPECT_EQ(read64(kCounter), 0u);  // halted at reset
  enable();
  clock.advance(1'000'000);  // 1 ms
  EXPECT_EQ(read64(kCounter), 100'000u);
  clock.advance(9);
  EXPECT_EQ(read64(kCounter), 100'000u);  // not yet a whole 10 ns tick
  clock.advance(1);
  EXPECT_EQ(read64(kCounter), 100'001u);
  write64(kConfig, 0);  // halt
  clock.advance(1'000'000);
  EXPECT_EQ(read64(kCounter), 100'001u);
  enable();
  clock.advance(100);
  EXPECT_EQ(read64(kCounter), 100'011u);
}

TEST_F(HpetTest, CounterWritableWhileHaltedInHalves) {
  hpet.write(kCounter + 4, 4, 0x1);
  hpet.write(kCounter, 4, 0xFFFFFFF0);
  EXPECT_EQ(read64(kCounter), 0x1FFFFFFF0ull);
  enable();
  clock.advance(200);  // 20 ticks: the low half carries into the high half
  EXPECT_EQ(hpet.read(kCounter, 4), 0x4u);
  EXPECT_EQ(hpet.read(kCounter + 4, 4), 0x2u);
  write64(kCounter, 0);  // ignored while running
  EXPECT_EQ(read64(kCounter), 0x200000004ull);
}

TEST_F(HpetTest, OneShotEdgeFiresOnceAtTheMatch) {
  write64(timer_config(2), kIntEnable | route(20));
  write64(comparator(2), 1000);
  EXPECT_EQ(hpet.next_deadline_ns(), std::nullopt);  // halted
  enable();
  EXPECT_EQ(hpet.next_deadline_ns(), kStart + 10'000);
  run_to(9'999);
  EXPECT_EQ(gsi.rising[20], 0u);
  run_to(10'000);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_FALSE(gsi.levels[20]);             // a pulse
  EXPECT_EQ(read64(kStatus), 0u);           // edge mode sets no status
  EXPECT_EQ(read64(comparator(2)), 1000u);  // one-shot: unchanged
  run_to(1'000'000'000);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_GT(*hpet.next_deadline_ns(), kStart + 1'000'000'000'000'000ull);  // after a 64-bit wrap
}

TEST_F(HpetTest, ComparatorInThePastWaitsForAWrap) {
  enable();
  write64(timer_config(0), kIntEnable | k32Bit | route(21));
  run_to(10'000);                     // counter 1000
  hpet.write(comparator(0), 4, 500);  // already passed
  run_to(20'000);
  EXPECT_EQ(gsi.rising[21], 0u);
  // The 32-bit comparator matches again when the low half comes round.
  EXPECT_EQ(hpet.next_deadline_ns(), kStart + 10'000 + ((1ull << 32) - 500) * 10);
}

TEST_F(HpetTest, PeriodicWithValSetAsLinuxProgramsIt) {
  // Linux sets 32-bit mode too: a 32-bit write to a 64-bit comparator
  // would leave its upper half all-ones from reset.
  write64(timer_config(0), kIntEnable | kPeriodic | kValSet | k32Bit | route(22));
  hpet.write(comparator(0), 4, 1000);                // the accumulator (and period)
  EXPECT_EQ(read64(timer_config(0)) & kValSet, 0u);  // cleared by the write
  hpet.write(comparator(0), 4, 1000);                // the period only
  enable();
  run_to(10'000);
  EXPECT_EQ(gsi.rising[22], 1u);
  EXPECT_EQ(read64(comparator(0)), 2000u);
  EXPECT_EQ(hpet.next_deadline_ns(), kStart + 20'000);
  run_to(20'000);
  EXPECT_EQ(gsi.rising[22], 2u);
  // Falling 8.5 periods behind makes one interrupt; the accumulator moves
  // past the counter.
  run_to(105'000);
  EXPECT_EQ(gsi.rising[22], 3u);
  EXPECT_EQ(read64(comparator(0)), 11'000u);
  EXPECT_EQ(hpet.next_deadline_ns(), kStart + 110'000);
}

TEST_F(HpetTest, PeriodicWriteWithoutValSetChangesThePeriodOnly) {
  write64(timer_config(1), kIntEnable | kPeriodic | kValSet | route(23));
  write64(comparator(1), 100);
  write64(comparator(1), 300);  // VAL_SET is clear now: period 300
  EXPECT_EQ(read64(comparator(1)), 100u);
  enable();
  run_to(1'000);
  EXPECT_EQ(gsi.rising[23], 1u);
  EXPECT_EQ(read64(comparator(1)), 400u);
}

TEST_F(HpetTest, SixtyFourBitComparatorInHalvesWithValSet) {
  // The datasheets' sequence for a 32-bit OS: VAL_SET before each half.
  write64(timer_config(0), kIntEnable | kPeriodic | kValSet | route(20));
  hpet.write(comparator(0), 4, 0x10);
  write64(timer_config(0), kIntEnable | kPeriodic | kValSet | route(20));
  hpet.write(comparator(0) + 4, 4, 0x1);
  EXPECT_EQ(read64(comparator(0)), 0x100000010ull);
  EXPECT_EQ(hpet.read(comparator(0) + 4, 4), 0x1u);
  hpet.write(kCounter + 4, 4, 0x1);
  enable();
  run_to(0x10 * 10);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_EQ(read64(comparator(0)), 0x200000020ull);  // the period is the same value
}

TEST_F(HpetTest, ThirtyTwoBitModeWraps) {
  hpet.write(kCounter, 4, 0xFFFFFF00);
  write64(timer_config(2), kIntEnable | k32Bit | route(20));
  write64(comparator(2), 0x5'0000'0100ull);  // the upper half is ignored
  EXPECT_EQ(read64(comparator(2)), 0x100u);
  enable();
  // The match is at counter 0x1'0000'0100: 0x200 ticks away.
  EXPECT_EQ(hpet.next_deadline_ns(), kStart + 0x200 * 10);
  run_to(0x200 * 10);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_EQ(read64(kCounter), 0x100000100ull);  // the main counter stays 64-bit
}

TEST_F(HpetTest, ThirtyTwoBitPeriodicAccumulatorWraps) {
  hpet.write(kCounter, 4, 0xFFFFFF00);
  write64(timer_config(0), kIntEnable | kPeriodic | kValSet | k32Bit | route(20));
  hpet.write(comparator(0), 4, 0xFFFFFF80);
  hpet.write(comparator(0), 4, 0x100);
  enable();
  run_to(0x80 * 10);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_EQ(read64(comparator(0)), 0x80u);  // 0xFFFFFF80 + 0x100, modulo 2^32
  run_to(0x180 * 10);
  EXPECT_EQ(gsi.rising[20], 2u);
}

TEST_F(HpetTest, LegacyReplacementRoutesTimers0And1) {
  std::vector<bool> legacy_changes;
  hpet.set_legacy_listener([&](bool on) { legacy_changes.push_back(on); });
  write64(timer_config(0), kIntEnable | kPeriodic | kValSet | route(20));
  write64(comparator(0), 100);
  write64(timer_config(1), kIntEnable | route(21));
  write64(comparator(1), 150);
  enable(2);  // ENABLE_CNF | LEG_RT_CNF
  EXPECT_EQ(legacy_changes, std::vector<bool>{true});
  run_to(1'000);
  EXPECT_EQ(gsi.rising[2], 1u);  // timer 0: I/O APIC pin 2 and IRQ0
  EXPECT_EQ(pic.rising[0], 1u);
  EXPECT_EQ(gsi.rising[20], 0u);
  run_to(1'500);
  EXPECT_EQ(gsi.rising[8], 1u);  // timer 1: pin 8 and IRQ8
  EXPECT_EQ(pic.rising[8], 1u);
  EXPECT_EQ(gsi.rising[21], 0u);
  enable();  // legacy off: timer 0 back on its own route
  EXPECT_EQ(legacy_changes, (std::vector<bool>{true, false}));
  run_to(2'000);
  EXPECT_EQ(gsi.rising[20], 1u);
  EXPECT_EQ(pic.rising[0], 1u);
}

TEST_F(HpetTest, LevelStatusHoldsTheLineUntilWrittenOne) {
  write64(timer_config(2), kLevel | kIntEnable | route(21));
  write64(comparator(2), 50);
  enable();
  run_to(500);
  EXPECT_TRUE(gsi.levels[21]);
  EXPECT_EQ(read64(kStatus), 0x4u);
  EXPECT_EQ(hpet.next_deadline_ns(), std::nullopt);  // already asserted
  write64(kStatus, 0x3);                             // other bits: no effect
  EXPECT_TRUE(gsi.levels[21]);
  hpet.write(kStatus, 4, 0x4);
  EXPECT_FALSE(gsi.levels[21]);
  EXPECT_EQ(read64(kStatus), 0u);
  EXPECT_EQ(gsi.rising[21], 1u);
}

TEST_F(HpetTest, LevelStatusWithoutIntEnableAndHaltLowersTheLine) {
  write64(timer_config(1), kLevel | route(22));  // INT_ENB clear
  write64(comparator(1), 10);
  enable();
  EXPECT_EQ(hpet.next_deadline_ns(), std::nullopt);  // nothing to raise
  clock.set(kStart + 100);
  EXPECT_EQ(read64(kStatus), 0x2u);  // found lazily at the read
  EXPECT_FALSE(gsi.levels[22]);
  write64(timer_config(1), kLevel | kIntEnable | route(22));
  EXPECT_TRUE(gsi.levels[22]);
  write64(kConfig, 0);  // halting disables timer interrupts
  EXPECT_FALSE(gsi.levels[22]);
  enable();
  EXPECT_TRUE(gsi.levels[22]);
  write64(timer_config(1), kIntEnable | route(22));  // to edge: status cleared
  EXPECT_FALSE(gsi.levels[22]);
  EXPECT_EQ(read64(kStatus), 0u);
}

TEST_F(HpetTest, UnsupportedRouteIsNotStored) {
  write64(timer_config(0), route(20));
  write64(timer_config(0), route(5));
  EXPECT_EQ((read64(timer_config(0)) >> 9) & 0x1F, 20u);
  // Reserved and read-only bits stay as they were.
  hpet.write(timer_config(0) + 4, 4, 0);
  hpet.write(timer_config(0), 4, 0xFFFF8031);
  EXPECT_EQ(read64(timer_config(0)), 0x00F0000000000030ull | route(20));
}

TEST_F(HpetTest, OddAccessesAreIgnored) {
  EXPECT_EQ(hpet.read(0x000, 2), 0u);
  EXPECT_EQ(hpet.read(0x002, 4), 0u);
  EXPECT_EQ(hpet.read(0x004, 8), 0u);
  hpet.write(kConfig, 1, 1);
  hpet.write(0x3FC, 8, ~0ull);  // runs past the window
  EXPECT_EQ(read64(kConfig), 0u);
  write64(0x000, 0);  // capabilities are read-only
  EXPECT_EQ(hpet.read(0x000, 4), 0x8086A201u);
}

}  // namespace
}  // namespace tv::dev
