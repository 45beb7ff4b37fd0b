#include "devices/rtc.h"

#include <gtest/gtest.h>

#include "device_fakes.h"
#include "devices/clock.h"

namespace tv::dev {
namespace {

constexpr uint64_t kStart = 7'000'000'000;
constexpr time_t kFriday = 1710510330;  // 2024-03-15 13:45:30 UTC
constexpr uint64_t kMiB = 1024 * 1024;

class RtcTest : public ::testing::Test {
 protected:
  uint8_t reg(uint8_t index) {
    rtc.write(0, 1, index);
    return uint8_t(rtc.read(1, 1));
  }
  void set_reg(uint8_t index, uint8_t value) {
    rtc.write(0, 1, index);
    rtc.write(1, 1, value);
  }
  uint16_t reg16(uint8_t index) { return uint16_t(reg(index) | reg(index + 1) << 8); }

  static ManualClock started() {
    ManualClock clock;
    clock.set(kStart);
    return clock;
  }

  ManualClock clock = started();
  FakeIrq irq;
  Rtc rtc{clock, irq, 256 * kMiB, [] { return kFriday; }};
};

TEST_F(RtcTest, BcdTimeFromTheWallClock) {
  EXPECT_EQ(reg(0x00), 0x30);
  EXPECT_EQ(reg(0x02), 0x45);
  EXPECT_EQ(reg(0x04), 0x13);
  EXPECT_EQ(reg(0x06), 0x06);  // Friday; 1 = Sunday
  EXPECT_EQ(reg(0x07), 0x15);
  EXPECT_EQ(reg(0x08), 0x03);
  EXPECT_EQ(reg(0x09), 0x24);
  EXPECT_EQ(reg(0x32), 0x20);
  EXPECT_EQ(reg(0x0b), 0x02);  // BCD, 24-hour
  EXPECT_EQ(reg(0x0d), 0x80);  // VRT
}

TEST_F(RtcTest, BinaryMode) {
  set_reg(0x0b, 0x06);
  EXPECT_EQ(reg(0x00), 30);
  EXPECT_EQ(reg(0x04), 13);
  EXPECT_EQ(reg(0x09), 24);
  EXPECT_EQ(reg(0x32), 20);
}

TEST_F(RtcTest, TwelveHourModeSetsPmBit) {
  set_reg(0x0b, 0x00);         // BCD, 12-hour
  EXPECT_EQ(reg(0x04), 0x81);  // 1 PM
  set_reg(0x0b, 0x04);         // binary, 12-hour
  EXPECT_EQ(reg(0x04), 0x81);
}

TEST(RtcClock, TwelveHourMidnightAndNoon) {
  ManualClock clock;
  FakeIrq irq;
  Rtc midnight(clock, irq, 0, [] { return time_t(1710461100); });  // 00:05
  midnight.write(0, 1, 0x0b);
  midnight.write(1, 1, 0x00);
  midnight.write(0, 1, 0x04);
  EXPECT_EQ(midnight.read(1, 1), 0x12u);  // 12 AM
  Rtc noon(clock, irq, 0, [] { return time_t(1710461100 + 12 * 3600); });
  noon.write(0, 1, 0x0b);
  noon.write(1, 1, 0x00);
  noon.write(0, 1, 0x04);
  EXPECT_EQ(noon.read(1, 1), 0x92u);  // 12 PM
}

TEST_F(RtcTest, TimeAdvancesWithTheMonotonicClock) {
  clock.advance(1'500'000'000);
  EXPECT_EQ(reg(0x00), 0x31);
  clock.advance(30'000'000'000);
  EXPECT_EQ(reg(0x00), 0x01);
  EXPECT_EQ(reg(0x02), 0x46);
}

TEST_F(RtcTest, UipInTheLast244MicrosecondsOfASecond) {
  clock.set(kStart + 1'000'000'000 - 244'001);
  EXPECT_EQ(reg(0x0a), 0x26);
  clock.set(kStart + 1'000'000'000 - 244'000);
  EXPECT_EQ(reg(0x0a), 0xa6);
  clock.set(kStart + 1'000'000'000);
  EXPECT_EQ(reg(0x0a), 0x26);
}

TEST_F(RtcTest, NoDeadlineWithoutEnabledInterrupts) {
  EXPECT_EQ(rtc.next_deadline_ns(), std::nullopt);
  rtc.advance(kStart + 100'000'000'000);
  EXPECT_EQ(irq.rising[8], 0u);
}

TEST_F(RtcTest, UpdateInterruptAndRegisterCReadClears) {
  set_reg(0x0b, 0x12);  // UIE, 24-hour
  EXPECT_EQ(rtc.next_deadline_ns(), kStart + 1'000'000'000);
  rtc.advance(kStart + 999'999'999);
  EXPECT_EQ(irq.rising[8], 0u);
  clock.set(kStart + 1'000'000'000);
  rtc.advance(clock.now_ns());
  EXPECT_EQ(irq.rising[8], 1u);
  EXPECT_TRUE(irq.levels[8]);
  EXPECT_EQ(rtc.next_deadline_ns(), std::nullopt);  // held until C is read
  EXPECT_EQ(reg(0x0c) & 0xb0, 0x90);                // IRQF | UF (PF too, at the default rate)
  EXPECT_FALSE(irq.levels[8]);
  EXPECT_EQ(reg(0x0c), 0x00);
  EXPECT_EQ(rtc.next_deadline_ns(), kStart + 2'000'000'000);
}

TEST_F(RtcTest, PeriodicInterruptAtTheConfiguredRate) {
  set_reg(0x0a, 0x2f);  // 2 Hz
  set_reg(0x0b, 0x42);  // PIE
  EXPECT_EQ(rtc.next_deadline_ns(), kStart + 500'000'000);
  set_reg(0x0a, 0x23);  // 8192 Hz: 122070.3125 ns
  EXPECT_EQ(rtc.next_deadline_ns(), kStart + 122'071);
  rtc.advance(kStart + 122'071);
  EXPECT_EQ(irq.rising[8], 1u);
  clock.set(kStart + 122'071);
  EXPECT_EQ(reg(0x0c), 0xc0);  // IRQF | PF
  EXPECT_EQ(rtc.next_deadline_ns(), kStart + 244'141);
  set_reg(0x0a, 0x20);  // rate 0: periodic off
  EXPECT_EQ(rtc.next_deadline_ns(), std::nullopt);
}

TEST_F(RtcTest, FlagsAreSetEvenWithInterruptsDisabled) {
  clock.set(kStart + 1'000'000'000);
  EXPECT_EQ(reg(0x0c), 0x50);  // PF (1024 Hz default rate) and UF, no IRQF
  EXPECT_EQ(irq.rising[8], 0u);
}

TEST_F(RtcTest, NvramMemorySizesFor256MiB) {
  EXPECT_EQ(reg16(0x15), 640);
  EXPECT_EQ(reg16(0x17), 0xffff);  // 255 MiB in KiB does not fit
  EXPECT_EQ(reg16(0x30), 0xffff);
  EXPECT_EQ(reg16(0x34), 0x0f00);  // 240 MiB in 64 KiB units
}

TEST(RtcNvram, MemorySizesFor32MiBAnd4GiB) {
  ManualClock clock;
  FakeIrq irq;
  Rtc small(clock, irq, 32 * kMiB, [] { return time_t(0); });
  auto reg16 = [](Rtc& rtc, uint8_t index) {
    rtc.write(0, 1, index);
    uint64_t low = rtc.read(1, 1);
    rtc.write(0, 1, index + 1);
    return low | rtc.read(1, 1) << 8;
  };
  EXPECT_EQ(reg16(small, 0x17), 31u * 1024);
  EXPECT_EQ(reg16(small, 0x30), 31u * 1024);
  EXPECT_EQ(reg16(small, 0x34), 0x100u);
  Rtc big(clock, irq, 4096 * kMiB, [] { return time_t(0); });
  EXPECT_EQ(reg16(big, 0x15), 640u);
  EXPECT_EQ(reg16(big, 0x17), 0xffffu);
  EXPECT_EQ(reg16(big, 0x30), 0xffffu);
  EXPECT_EQ(reg16(big, 0x34), 0xff00u);  // (4 GiB - 16 MiB) / 64 KiB
}

TEST_F(RtcTest, NvramStorageAndNmiBit) {
  set_reg(0x80 | 0x0f, 0x0a);  // shutdown status, with NMI disabled
  EXPECT_TRUE(rtc.nmi_disabled());
  EXPECT_EQ(reg(0x0f), 0x0a);
  EXPECT_FALSE(rtc.nmi_disabled());
  set_reg(0x7f, 0x5a);
  EXPECT_EQ(reg(0x7f), 0x5a);
  set_reg(0x01, 0x42);  // alarm seconds
  EXPECT_EQ(reg(0x01), 0x42);
}

TEST_F(RtcTest, SetModeWriteAdjustsTheTime) {
  set_reg(0x0b, 0x82);  // SET
  set_reg(0x09, 0x25);
  set_reg(0x08, 0x12);
  set_reg(0x07, 0x31);
  set_reg(0x04, 0x23);
  set_reg(0x02, 0x59);
  set_reg(0x00, 0x58);
  clock.advance(5'000'000'000);  // held while SET = 1
  EXPECT_EQ(reg(0x00), 0x58);
  EXPECT_EQ(reg(0x0a) & 0x80, 0);  // no update in progress while SET
  set_reg(0x0b, 0x02);
  clock.advance(2'000'000'000);
  EXPECT_EQ(reg(0x00), 0x00);
  EXPECT_EQ(reg(0x02), 0x00);
  EXPECT_EQ(reg(0x04), 0x00);
  EXPECT_EQ(reg(0x07), 0x01);
  EXPECT_EQ(reg(0x08), 0x01);
  EXPECT_EQ(reg(0x09), 0x26);
  EXPECT_EQ(reg(0x06), 0x05);  // 2026-01-01 is a Thursday
}

TEST_F(RtcTest, SettingSetClearsUie) {
  set_reg(0x0b, 0x12);
  set_reg(0x0b, 0x92);
  EXPECT_EQ(reg(0x0b), 0x82);
}

TEST_F(RtcTest, AlarmInterrupt) {
  set_reg(0x01, 0x33);  // 13:45:33
  set_reg(0x03, 0xc0);  // any minute
  set_reg(0x05, 0x13);
  set_reg(0x0b, 0x22);  // AIE
  rtc.advance(kStart + 2'000'000'000);
  EXPECT_EQ(irq.rising[8], 0u);
  rtc.advance(kStart + 3'000'000'000);
  EXPECT_EQ(irq.rising[8], 1u);
  clock.set(kStart + 3'000'000'000);
  EXPECT_EQ(reg(0x0c) & 0xa0, 0xa0);  // IRQF | AF
}

}  // namespace
}  // namespace tv::dev
