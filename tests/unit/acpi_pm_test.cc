#include "devices/acpi_pm.h"

#include <gtest/gtest.h>

#include "device_fakes.h"
#include "devices/clock.h"
#include "devices/pc_platform.h"

namespace tv::dev {
namespace {

// The first nanosecond at which `ticks` PM timer clocks have elapsed.
uint64_t ns_for(uint64_t ticks) { return (ticks * 1'000'000'000 + 3579544) / 3579545; }

constexpr uint64_t kStart = 7'000'000;
constexpr uint64_t kStatus = 0, kEnable = 2, kControl = 4, kTimer = 8;
constexpr uint16_t kTmr = 1 << 0, kGbl = 1 << 5, kPwrBtn = 1 << 8, kWak = 1 << 15;
constexpr uint16_t kSlpEn = 1 << 13;
constexpr uint16_t slp_typ(unsigned type) { return uint16_t(type << 10); }

class AcpiPmTest : public ::testing::Test {
 protected:
  uint32_t timer() { return uint32_t(pm.read(kTimer, 4)); }
  uint16_t status() { return uint16_t(pm.read(kStatus, 2)); }

  // Set before the PM timer starts counting, at construction.
  ManualClock clock = [] {
    ManualClock c;
    c.set(kStart);
    return c;
  }();
  FakeMachine machine;
  FakeIrq irq;
  AcpiPm pm{clock, machine, &irq};
};

TEST_F(AcpiPmTest, PowerOnState) {
  EXPECT_EQ(status(), 0u);
  EXPECT_EQ(pm.read(kEnable, 2), 0u);
  EXPECT_EQ(pm.read(kControl, 2), 1u);  // SCI_EN: ACPI mode from the start
  EXPECT_EQ(timer(), 0u);
  EXPECT_EQ(pm.read(0x0C, 4), 0u);
  EXPECT_EQ(pm.next_deadline_ns(), std::nullopt);
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
}

TEST_F(AcpiPmTest, TimerRunsAt3579545Hz) {
  clock.set(kStart + 1'000'000'000);
  EXPECT_EQ(timer(), 3'579'545u);
  clock.set(kStart + ns_for(1000) - 1);
  EXPECT_EQ(timer(), 999u);
  clock.set(kStart + ns_for(1000));
  EXPECT_EQ(timer(), 1000u);
  pm.write(kTimer, 4, 0);  // read-only
  EXPECT_EQ(timer(), 1000u);
  EXPECT_EQ(pm.read(kTimer + 2, 2), 0u);  // the upper half, by itself
}

TEST_F(AcpiPmTest, TimerWrapsAt24Bits) {
  clock.set(kStart + ns_for(0xFFFFFF));
  EXPECT_EQ(timer(), 0xFFFFFFu);
  clock.set(kStart + ns_for(0x1000000));
  EXPECT_EQ(timer(), 0u);  // bits 24-31 always read 0
  clock.set(kStart + ns_for(0x1000005));
  EXPECT_EQ(timer(), 5u);
}

TEST_F(AcpiPmTest, CarryOfBit23SetsTmrStsAndRaisesSci) {
  pm.write(kEnable, 2, kTmr);
  EXPECT_EQ(pm.next_deadline_ns(), kStart + ns_for(0x800000));
  pm.advance(kStart + ns_for(0x800000) - 1);
  EXPECT_EQ(status() & kTmr, 0u);
  clock.set(kStart + ns_for(0x800000));
  pm.advance(clock.now_ns());
  EXPECT_EQ(status() & kTmr, kTmr);
  EXPECT_TRUE(irq.levels[pc::kSciIrq]);
  EXPECT_EQ(pm.next_deadline_ns(), std::nullopt);  // already asserted
  pm.write(kStatus, 2, kTmr);                      // write 1 to clear
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
  // Bit 23 falling (the 24-bit wrap) is a toggle too.
  EXPECT_EQ(pm.next_deadline_ns(), kStart + ns_for(0x1000000));
  clock.set(kStart + ns_for(0x1000000));
  pm.advance(clock.now_ns());
  EXPECT_TRUE(irq.levels[pc::kSciIrq]);
  EXPECT_EQ(irq.rising[pc::kSciIrq], 2u);
}

TEST_F(AcpiPmTest, TmrStsWithoutTmrEnIsPolledWithoutSci) {
  clock.set(kStart + ns_for(0x800000));
  EXPECT_EQ(status(), kTmr);  // found at the read; no deadline was needed
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
  pm.write(kEnable, 1, kTmr);  // a byte write of the enable register
  EXPECT_TRUE(irq.levels[pc::kSciIrq]);
  pm.write(kStatus, 1, 0xFF);
  EXPECT_EQ(status(), 0u);
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
}

TEST_F(AcpiPmTest, EnableBitsAndStatusWriteOneToClear) {
  pm.write(kEnable, 2, 0xFFFF);
  EXPECT_EQ(pm.read(kEnable, 2), kTmr | kGbl | kPwrBtn);
  pm.press_power_button();
  EXPECT_EQ(status(), kPwrBtn);
  EXPECT_TRUE(irq.levels[pc::kSciIrq]);
  pm.write(kStatus, 2, 0);  // writing 0 changes nothing
  EXPECT_EQ(status(), kPwrBtn);
  pm.write(kStatus, 4, kPwrBtn);  // a dword write covering status and enable
  EXPECT_EQ(status(), 0u);
  EXPECT_EQ(pm.read(kEnable, 2), 0u);  // ... whose upper half cleared the enables
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
}

TEST_F(AcpiPmTest, PowerButtonWithoutEnableSetsStatusOnly) {
  pm.press_power_button();
  EXPECT_EQ(status(), kPwrBtn);
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
  pm.write(kEnable, 2, kPwrBtn);
  EXPECT_TRUE(irq.levels[pc::kSciIrq]);
}

TEST_F(AcpiPmTest, SlpEnWithS5PowersOff) {
  pm.write(kControl, 2, slp_typ(pc::kSleepTypeS5));  // SLP_TYP alone does nothing
  EXPECT_EQ(machine.power_offs, 0u);
  EXPECT_EQ(pm.read(kControl, 2), slp_typ(pc::kSleepTypeS5) | 1u);
  pm.write(kControl, 2, slp_typ(pc::kSleepTypeS5) | kSlpEn);
  EXPECT_EQ(machine.power_offs, 1u);
  EXPECT_EQ(pm.read(kControl, 2) & kSlpEn, 0u);  // write-only
  EXPECT_TRUE(machine.resets.empty());
}

TEST_F(AcpiPmTest, SlpEnByteWriteUsesTheStoredSleepType) {
  pm.write(kControl, 2, slp_typ(5));
  pm.write(kControl + 1, 1, (slp_typ(pc::kSleepTypeS5) | kSlpEn) >> 8);
  EXPECT_EQ(machine.power_offs, 1u);
}

TEST_F(AcpiPmTest, OtherSleepTypesWakeAtOnce) {
  unsigned other = pc::kSleepTypeS5 == 1 ? 2 : 1;
  pm.write(kControl, 2, slp_typ(other) | kSlpEn);
  EXPECT_EQ(machine.power_offs, 0u);
  EXPECT_EQ(status(), kWak);  // an S1 waiter sees the wake
  pm.write(kStatus, 2, kWak);
  EXPECT_EQ(status(), 0u);
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);  // WAK_STS has no enable
}

TEST_F(AcpiPmTest, Gpe0BlockHoldsEnablesAndRaisesNothing) {
  auto gpe = pm.gpe0();
  EXPECT_EQ(gpe->read(0, 4), 0u);
  gpe->write(2, 2, 0xBEEF);
  EXPECT_EQ(gpe->read(2, 2), 0xBEEFu);
  EXPECT_EQ(gpe->read(0, 4), 0xBEEF0000u);
  gpe->write(0, 2, 0xFFFF);  // status: write 1 to clear, nothing set
  EXPECT_EQ(gpe->read(0, 2), 0u);
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
}

TEST_F(AcpiPmTest, ResetClearsRegistersAndSci) {
  pm.write(kEnable, 2, kPwrBtn);
  pm.press_power_button();
  ASSERT_TRUE(irq.levels[pc::kSciIrq]);
  clock.set(kStart + ns_for(100));
  pm.reset();
  EXPECT_FALSE(irq.levels[pc::kSciIrq]);
  EXPECT_EQ(status(), 0u);
  EXPECT_EQ(pm.read(kEnable, 2), 0u);
  EXPECT_EQ(timer(), 100u);  // the timer keeps counting
}

TEST(ResetControlTest, Bit2ResetsAndBits1To3ReadBack) {
  FakeMachine machine;
  ResetControl rc{machine};
  EXPECT_EQ(rc.read(0, 1), 0u);
  rc.write(0, 1, 0x02);  // SRST alone: no reset
  EXPECT_TRUE(machine.resets.empty());
  EXPECT_EQ(rc.read(0, 1), 0x02u);
  rc.write(0, 1, pc::kResetValue);
  ASSERT_EQ(machine.resets.size(), 1u);
  EXPECT_EQ(machine.resets[0], "reset control register");
  EXPECT_EQ(rc.read(0, 1), 0x06u);
  rc.write(0, 1, 0xF1);  // bits 0 and 4-7 are not kept
  EXPECT_EQ(rc.read(0, 1), 0u);
  EXPECT_EQ(machine.resets.size(), 1u);
}

}  // namespace
}  // namespace tv::dev
