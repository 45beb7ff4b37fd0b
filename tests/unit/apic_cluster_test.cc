// APIC bus routing through real LocalApics: ICR shorthands, physical and
// logical (flat and cluster) destinations, broadcast, lowest priority,
// INIT/SIPI/NMI IPIs, disabled APICs, and EOI forwarding to the I/O APIC.
#include "devices/apic_cluster.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/clock.h"

namespace tv::dev {
namespace {

class RecordingEoi : public EoiSink {
 public:
  void eoi(uint8_t vector) override { vectors.push_back(vector); }
  std::vector<uint8_t> vectors;
};

class ApicClusterTest : public ::testing::Test {
 protected:
  ApicClusterTest() {
    for (LocalApic* apic : {&a0, &a1, &a2}) {
      cluster.add_apic(apic);
      apic->write(0xF0, 4, 0x1FF);  // software-enable
    }
    cluster.set_eoi_sink(&ioapic);
  }

  static void set(LocalApic& apic, unsigned offset, uint32_t value) {
    apic.write(offset, 4, value);
  }
  static bool irr(LocalApic& apic, uint8_t v) {
    return (apic.read(0x200 + (v / 32) * 0x10, 4) >> (v % 32)) & 1;
  }
  // Sends an IPI from `from`: ICR high (destination) then ICR low.
  static void ipi(LocalApic& from, uint8_t dest, uint32_t low) {
    set(from, 0x310, uint32_t(dest) << 24);
    set(from, 0x300, low);
  }
  // Which of the three APICs have `v` requested, as a 3-bit mask.
  unsigned receivers(uint8_t v) {
    return unsigned(irr(a0, v)) | unsigned(irr(a1, v)) << 1 | unsigned(irr(a2, v)) << 2;
  }

  ManualClock clock;
  ApicCluster cluster;
  RecordingEoi ioapic;
  LocalApic a0{0, clock, cluster, cluster, nullptr};
  LocalApic a1{1, clock, cluster, cluster, nullptr};
  LocalApic a2{2, clock, cluster, cluster, nullptr};
};

TEST_F(ApicClusterTest, Shorthands) {
  ipi(a1, 0, 0x40000 | 0x41);  // self
  EXPECT_EQ(receivers(0x41), 0b010u);
  ipi(a1, 0, 0x80000 | 0x42);  // all including self
  EXPECT_EQ(receivers(0x42), 0b111u);
  ipi(a1, 0, 0xC0000 | 0x43);  // all excluding self
  EXPECT_EQ(receivers(0x43), 0b101u);
  // Shorthands ignore the destination field.
  ipi(a0, 2, 0x40000 | 0x44);
  EXPECT_EQ(receivers(0x44), 0b001u);
}

TEST_F(ApicClusterTest, PhysicalDestinations) {
  ipi(a0, 2, 0x51);
  EXPECT_EQ(receivers(0x51), 0b100u);
  ipi(a0, 0, 0x52);  // to itself by ID
  EXPECT_EQ(receivers(0x52), 0b001u);
  ipi(a0, 0xFF, 0x53);  // broadcast
  EXPECT_EQ(receivers(0x53), 0b111u);
  ipi(a0, 7, 0x54);  // nobody
  EXPECT_EQ(receivers(0x54), 0u);
  set(a2, 0x20, 0x07000000);  // IDs are read live
  ipi(a0, 7, 0x55);
  EXPECT_EQ(receivers(0x55), 0b100u);
}

TEST_F(ApicClusterTest, LogicalFlat) {
  set(a0, 0xD0, 0x01000000);
  set(a1, 0xD0, 0x02000000);
  set(a2, 0xD0, 0x04000000);
  ipi(a0, 0x06, 0x800 | 0x61);
  EXPECT_EQ(receivers(0x61), 0b110u);
  ipi(a0, 0x08, 0x800 | 0x62);
  EXPECT_EQ(receivers(0x62), 0u);
  ipi(a0, 0xFF, 0x800 | 0x63);
  EXPECT_EQ(receivers(0x63), 0b111u);
}

TEST_F(ApicClusterTest, LogicalCluster) {
  for (LocalApic* apic : {&a0, &a1, &a2}) set(*apic, 0xE0, 0x0FFFFFFF);
  set(a0, 0xD0, 0x11000000);  // cluster 1, member bit 0
  set(a1, 0xD0, 0x12000000);  // cluster 1, member bit 1
  set(a2, 0xD0, 0x21000000);  // cluster 2, member bit 0
  ipi(a0, 0x13, 0x800 | 0x71);
  EXPECT_EQ(receivers(0x71), 0b011u);
  ipi(a0, 0x21, 0x800 | 0x72);
  EXPECT_EQ(receivers(0x72), 0b100u);
  ipi(a0, 0x22, 0x800 | 0x73);
  EXPECT_EQ(receivers(0x73), 0u);
  ipi(a0, 0xF1, 0x800 | 0x74);  // member 0 of every cluster
  EXPECT_EQ(receivers(0x74), 0b101u);
  ipi(a0, 0x11, 0x800 | 0x75);  // a flat reading would hit a2 as well
  EXPECT_EQ(receivers(0x75), 0b001u);
}

TEST_F(ApicClusterTest, LowestPriorityPicksTheLowestPpr) {
  set(a0, 0x80, 0x50);
  set(a1, 0x80, 0x20);
  set(a2, 0x80, 0x30);
  ipi(a0, 0xFF, 0x100 | 0x81);
  EXPECT_EQ(receivers(0x81), 0b010u);
  // An interrupt in service raises a1's PPR above a2's TPR.
  ASSERT_EQ(a1.acknowledge(), 0x81);
  EXPECT_EQ(a1.ppr(), 0x80);
  ipi(a0, 0xFF, 0x100 | 0x82);
  EXPECT_EQ(receivers(0x82), 0b100u);
}

TEST_F(ApicClusterTest, LowestPriorityTiesAndDisabledApics) {
  ipi(a2, 0xFF, 0x100 | 0x91);  // all at PPR 0: the first added
  EXPECT_EQ(receivers(0x91), 0b001u);
  set(a0, 0xF0, 0xFF);  // a0 software-disabled: not a candidate
  ipi(a2, 0xFF, 0x100 | 0x92);
  EXPECT_EQ(receivers(0x92), 0b010u);
  ApicMessage to_a0;  // only a0 addressed: it gets it and drops it
  to_a0.vector = 0x93;
  to_a0.mode = DeliveryMode::kLowestPriority;
  cluster.send(to_a0);
  EXPECT_EQ(receivers(0x93), 0u);
}

TEST_F(ApicClusterTest, GloballyDisabledApicIsOffTheBus) {
  ASSERT_TRUE(a2.set_apic_base(0xFEE00000));
  ipi(a0, 0xFF, 0x400);  // NMI broadcast
  EXPECT_TRUE(a0.take_nmi());
  EXPECT_TRUE(a1.take_nmi());
  EXPECT_FALSE(a2.take_nmi());
  // Lowest priority skips it even though its PPR (0) is the lowest.
  set(a0, 0x80, 0x90);
  set(a1, 0x80, 0x80);
  ipi(a0, 0xFF, 0x100 | 0xA1);
  EXPECT_EQ(receivers(0xA1) & 0b011u, 0b010u);  // a2's page reads all-ones now
}

TEST_F(ApicClusterTest, InitSipiNmiIpis) {
  set(a1, 0x80, 0x40);
  ipi(a0, 1, 0xC500);  // INIT level assert
  EXPECT_TRUE(a1.take_init());
  EXPECT_EQ(a1.read(0x80, 4), 0u);  // a1 was reset
  ipi(a0, 1, 0x8500);               // de-assert: ignored
  EXPECT_FALSE(a1.take_init());
  ipi(a0, 1, 0x0698);  // SIPI
  EXPECT_EQ(a1.take_sipi(), std::optional<uint8_t>(0x98));
  ipi(a0, 0, 0xC0400);  // NMI to all but self
  EXPECT_FALSE(a0.take_nmi());
  EXPECT_TRUE(a1.take_nmi());
  EXPECT_TRUE(a2.take_nmi());
  EXPECT_FALSE(a2.take_init());
}

TEST_F(ApicClusterTest, IllegalVectorIsRefusedAtEachEnd) {
  ipi(a0, 1, 0x0C);
  set(a0, 0x280, 0);
  set(a1, 0x280, 0);
  EXPECT_EQ(a0.read(0x280, 4), 0x20u);  // send illegal vector
  EXPECT_EQ(a1.read(0x280, 4), 0x40u);  // receive illegal vector
}

TEST_F(ApicClusterTest, LevelEoiReachesTheIoApic) {
  ApicMessage from_ioapic;
  from_ioapic.vector = 0x61;
  from_ioapic.level = true;
  from_ioapic.dest = 2;
  cluster.send(from_ioapic);
  ASSERT_EQ(a2.acknowledge(), 0x61);
  set(a2, 0xB0, 0);
  EXPECT_EQ(ioapic.vectors, std::vector<uint8_t>{0x61});
  cluster.set_eoi_sink(nullptr);  // no I/O APIC: dropped
  cluster.send(from_ioapic);
  ASSERT_EQ(a2.acknowledge(), 0x61);
  set(a2, 0xB0, 0);
  EXPECT_EQ(ioapic.vectors.size(), 1u);
}

}  // namespace
}  // namespace tv::dev
