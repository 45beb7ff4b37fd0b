#include "devices/ioapic.h"

#include <gtest/gtest.h>

#include <vector>

namespace tv::dev {
namespace {

class FakeApicBus : public ApicBus {
 public:
  void send(const ApicMessage& message) override { messages.push_back(message); }
  std::vector<ApicMessage> messages;
};

constexpr uint32_t kMask = 1u << 16, kLevel = 1u << 15, kRemoteIrr = 1u << 14;
constexpr uint32_t kActiveLow = 1u << 13, kLogical = 1u << 11;

class IoApicTest : public ::testing::Test {
 protected:
  uint32_t reg(uint8_t index) {
    ioapic.write(0x00, 4, index);
    return uint32_t(ioapic.read(0x10, 4));
  }
  void set_reg(uint8_t index, uint32_t value) {
    ioapic.write(0x00, 4, index);
    ioapic.write(0x10, 4, value);
  }
  void program(unsigned pin, uint32_t low, uint32_t high = 0) {
    set_reg(uint8_t(0x11 + 2 * pin), high);
    set_reg(uint8_t(0x10 + 2 * pin), low);
  }
  size_t sent() const { return bus.messages.size(); }

  FakeApicBus bus;
  IoApic ioapic{&bus};
};

TEST_F(IoApicTest, ResetStateAndIdentification) {
  EXPECT_EQ(reg(0x00), uint32_t(pc::kIoapicId) << 24);
  EXPECT_EQ(reg(0x01), 0x00170011u);  // 24 entries, version 0x11
  EXPECT_EQ(reg(0x02), uint32_t(pc::kIoapicId) << 24);
  for (unsigned pin = 0; pin < 24; ++pin) {
    EXPECT_EQ(reg(uint8_t(0x10 + 2 * pin)), kMask) << pin;
    EXPECT_EQ(reg(uint8_t(0x11 + 2 * pin)), 0u) << pin;
  }
}

TEST_F(IoApicTest, IdRegisterKeepsBits24To27Only) {
  set_reg(0x00, 0xFFFFFFFF);
  EXPECT_EQ(reg(0x00), 0x0F000000u);
  EXPECT_EQ(reg(0x02), 0x0F000000u);  // arbitration reads as the ID
  set_reg(0x01, 0);                   // version is read-only
  EXPECT_EQ(reg(0x01), 0x00170011u);
  ioapic.reset();
  EXPECT_EQ(reg(0x00), uint32_t(pc::kIoapicId) << 24);
}

TEST_F(IoApicTest, IoregselReadsBackAndInvalidIndexIsZero) {
  ioapic.write(0x00, 4, 0x1234);
  EXPECT_EQ(ioapic.read(0x00, 4), 0x34u);  // 8-bit register address
  EXPECT_EQ(reg(0x03), 0u);
  EXPECT_EQ(reg(0x40), 0u);  // one past entry 23's high half
  set_reg(0x40, 0xFFFFFFFF);
  EXPECT_EQ(reg(0x40), 0u);
  EXPECT_EQ(reg(0x3F), 0u);  // entry 23 untouched
}

TEST_F(IoApicTest, NonDwordAndOtherOffsetsAreIgnored) {
  ioapic.write(0x00, 4, 0x10);
  ioapic.write(0x10, 1, 0x00);  // byte write to IOWIN: ignored
  EXPECT_EQ(reg(0x10), kMask);
  EXPECT_EQ(ioapic.read(0x10, 2), 0u);
  EXPECT_EQ(ioapic.read(0x20, 4), 0u);
  ioapic.write(0x04, 4, 0x01);  // not IOREGSEL
  EXPECT_EQ(ioapic.read(0x00, 4), 0x10u);
}

TEST_F(IoApicTest, RedirectionHalvesReadBackWithReadOnlyAndReservedBits) {
  program(5, 0xFFFFFFFF, 0xFFFFFFFF);
  // Delivery status (12), Remote IRR (14) and bits 17-31 read 0; in the
  // high half only the destination (bits 24-31 of it) is kept.
  EXPECT_EQ(reg(0x10 + 10), 0x0001AFFFu);
  EXPECT_EQ(reg(0x11 + 10), 0xFF000000u);
  EXPECT_EQ(ioapic.redirection(5), 0xFF0000000001AFFFull);
  program(5, 0x000080A1, 0x03000000);
  EXPECT_EQ(reg(0x10 + 10), 0x000080A1u);
  EXPECT_EQ(reg(0x11 + 10), 0x03000000u);
}

TEST_F(IoApicTest, EdgeSendsOneMessagePerRisingAssertion) {
  program(2, 0x30, 0x01000000);  // vector 0x30, fixed, physical, dest 1, edge
  ioapic.set_irq(2, true);
  ioapic.set_irq(2, true);  // no new edge
  ASSERT_EQ(sent(), 1u);
  const ApicMessage& m = bus.messages[0];
  EXPECT_EQ(m.vector, 0x30);
  EXPECT_EQ(m.mode, DeliveryMode::kFixed);
  EXPECT_FALSE(m.logical);
  EXPECT_EQ(m.dest, 1u);
  EXPECT_FALSE(m.level);
  EXPECT_TRUE(m.assert);
  ioapic.set_irq(2, false);
  ioapic.set_irq(2, true);
  EXPECT_EQ(sent(), 2u);
  EXPECT_EQ(reg(0x14) & kRemoteIrr, 0u);  // edge entries never set Remote IRR
}

TEST_F(IoApicTest, EdgeWhileMaskedIsLost) {
  ioapic.set_irq(4, true);  // masked since reset
  program(4, 0x34);         // unmask while high: no new edge, nothing sent
  EXPECT_EQ(sent(), 0u);
  ioapic.set_irq(4, false);
  ioapic.set_irq(4, true);
  EXPECT_EQ(sent(), 1u);
}

TEST_F(IoApicTest, ActiveLowLevelPinAssertedByLowLevel) {
  program(19, kLevel | kActiveLow | 0x43);  // pin 19 is low (never driven): asserted
  ASSERT_EQ(sent(), 1u);
  EXPECT_EQ(bus.messages[0].vector, 0x43);
}

TEST_F(IoApicTest, LevelSetsRemoteIrrUntilEoi) {
  ioapic.set_irq(16, true);  // a PCI link idles high
  program(16, kLevel | kActiveLow | 0x41, 0xFF000000);
  EXPECT_EQ(sent(), 0u);  // active low: high is idle
  ioapic.set_irq(16, false);
  ASSERT_EQ(sent(), 1u);
  EXPECT_TRUE(bus.messages[0].level);
  EXPECT_EQ(bus.messages[0].dest, 0xFFu);
  EXPECT_EQ(reg(0x30) & kRemoteIrr, kRemoteIrr);
  ioapic.set_irq(16, false);  // still asserted, awaiting EOI: nothing
  EXPECT_EQ(sent(), 1u);

  ioapic.eoi(0x42);  // another vector: no effect
  EXPECT_EQ(reg(0x30) & kRemoteIrr, kRemoteIrr);
  ioapic.eoi(0x41);  // still asserted: sent again, Remote IRR set again
  EXPECT_EQ(sent(), 2u);
  EXPECT_EQ(reg(0x30) & kRemoteIrr, kRemoteIrr);

  ioapic.set_irq(16, true);  // deasserted
  ioapic.eoi(0x41);
  EXPECT_EQ(sent(), 2u);
  EXPECT_EQ(reg(0x30) & kRemoteIrr, 0u);
  ioapic.set_irq(16, false);
  EXPECT_EQ(sent(), 3u);
}

TEST_F(IoApicTest, EoiClearsEveryEntryWithTheVector) {
  program(17, kLevel | 0x50);
  program(18, kLevel | 0x50);
  ioapic.set_irq(17, true);
  ioapic.set_irq(18, true);
  ioapic.set_irq(17, false);
  ioapic.set_irq(18, false);
  EXPECT_EQ(sent(), 2u);
  ioapic.eoi(0x50);
  EXPECT_EQ(reg(0x32) & kRemoteIrr, 0u);
  EXPECT_EQ(reg(0x34) & kRemoteIrr, 0u);
  EXPECT_EQ(sent(), 2u);
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
  program(9, kMask | kLevel | 0x39);
  ioapic.set_irq(9, true);
  EXPECT_EQ(sent(), 0u);
  EXPECT_EQ(reg(0x22) & kRemoteIrr, 0u);  // masked: no side effects
  program(9, kLevel | 0x39);
  ASSERT_EQ(sent(), 1u);
  EXPECT_EQ(bus.messages[0].vector, 0x39);
  // Masking and unmasking again while awaiting EOI sends nothing more.
  program(9, kMask | kLevel | 0x39);
  program(9, kLevel | 0x39);
  EXPECT_EQ(sent(), 1u);
  // EOI while masked clears Remote IRR without sending; unmasking sends.
  program(9, kMask | kLevel | 0x39);
  ioapic.eoi(0x39);
  EXPECT_EQ(sent(), 1u);
  program(9, kLevel | 0x39);
  EXPECT_EQ(sent(), 2u);
}

TEST_F(IoApicTest, SwitchingToEdgeClearsRemoteIrr) {
  program(10, kLevel | 0x3A);
  ioapic.set_irq(10, true);
  EXPECT_EQ(reg(0x24) & kRemoteIrr, kRemoteIrr);
  program(10, kMask | 0x3A);  // Linux's EOI for version-0x11 parts
  EXPECT_EQ(reg(0x24) & kRemoteIrr, 0u);
  program(10, kLevel | 0x3A);  // back to level with the pin still high
  EXPECT_EQ(sent(), 2u);
}

TEST_F(IoApicTest, PolarityInvertsEdges) {
  program(3, kActiveLow | 0x33);  // a low pin under a new active-low edge entry: no edge
  EXPECT_EQ(sent(), 0u);
  ioapic.set_irq(3, true);
  EXPECT_EQ(sent(), 0u);
  ioapic.set_irq(3, false);  // falling level is the asserting edge
  EXPECT_EQ(sent(), 1u);
  ioapic.set_irq(3, true);
  EXPECT_EQ(sent(), 1u);
}

TEST_F(IoApicTest, LogicalDestinationAndOtherModes) {
  program(1, kLogical | (1u << 8) | 0x61, 0x0C000000);  // lowest priority
  ioapic.set_irq(1, true);
  ASSERT_EQ(sent(), 1u);
  EXPECT_TRUE(bus.messages[0].logical);
  EXPECT_EQ(bus.messages[0].dest, 0x0Cu);
  EXPECT_EQ(bus.messages[0].mode, DeliveryMode::kLowestPriority);

  // NMI is an edge message even when the entry says level.
  program(6, kLevel | (4u << 8));
  ioapic.set_irq(6, true);
  ASSERT_EQ(sent(), 2u);
  EXPECT_EQ(bus.messages[1].mode, DeliveryMode::kNmi);
  EXPECT_FALSE(bus.messages[1].level);
  EXPECT_EQ(reg(0x1C) & kRemoteIrr, 0u);

  program(0, 7u << 8);  // ExtINT
  ioapic.set_irq(0, true);
  ASSERT_EQ(sent(), 3u);
  EXPECT_EQ(bus.messages[2].mode, DeliveryMode::kExtInt);
}

TEST_F(IoApicTest, ReservedDeliveryModesAreNotSent) {
  program(7, 3u << 8 | 0x47);
  ioapic.set_irq(7, true);
  program(8, kLevel | 6u << 8 | 0x48);
  ioapic.set_irq(8, true);
  EXPECT_EQ(sent(), 0u);
  EXPECT_EQ(reg(0x20) & kRemoteIrr, 0u);
}

TEST_F(IoApicTest, LowVectorsAreSentAnyway) {
  program(11, 0x05);
  ioapic.set_irq(11, true);
  ASSERT_EQ(sent(), 1u);
  EXPECT_EQ(bus.messages[0].vector, 0x05);
}

TEST_F(IoApicTest, OutOfRangePinAndMissingBusAreHarmless) {
  ioapic.set_irq(24, true);
  ioapic.set_irq(1000, true);
  EXPECT_EQ(sent(), 0u);
  IoApic lonely;
  lonely.write(0x00, 4, 0x10);
  lonely.write(0x10, 4, 0x30);
  lonely.set_irq(0, true);  // dropped, logged
  lonely.set_bus(&bus);
  lonely.set_irq(0, false);
  lonely.set_irq(0, true);
  EXPECT_EQ(sent(), 1u);
}

TEST_F(IoApicTest, ResetMasksEntriesAndKeepsPinLevels) {
  program(12, kLevel | 0x4C);
  ioapic.set_irq(12, true);
  EXPECT_EQ(sent(), 1u);
  ioapic.reset();
  EXPECT_EQ(reg(0x28), kMask);
  program(12, kLevel | 0x4C);  // the pin is still high
  EXPECT_EQ(sent(), 2u);
}

}  // namespace
}  // namespace tv::dev
