// Local APIC core and register page: reset state, priorities (TPR, PPR),
// nested service and EOI, TMR and the EOI sink, spurious INTA, ESR
// latching and illegal vectors, ICR encoding, NMI/INIT/SIPI, LINT pins,
// the 8259A pass-through, IA32_APIC_BASE, malformed accesses.
#include "devices/lapic.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/clock.h"

namespace tv::dev {
namespace {

class RecordingBus : public ApicBus {
 public:
  void send(const ApicMessage& message) override { sent.push_back(message); }
  std::vector<ApicMessage> sent;
};

class RecordingEoi : public EoiSink {
 public:
  void eoi(uint8_t vector) override { vectors.push_back(vector); }
  std::vector<uint8_t> vectors;
};

// An 8259A stand-in: one request with a fixed vector; a vanished request
// acknowledges as the 8259A's spurious IRQ7.
class FakePic : public InterruptSource {
 public:
  bool interrupt_pending() const override { return pending; }
  uint8_t acknowledge() override {
    ++acks;
    if (!pending) return 0x0F;
    pending = false;
    return vector;
  }
  bool pending = false;
  uint8_t vector = 0x08;
  unsigned acks = 0;
};

ApicMessage fixed(uint8_t vector, bool level = false) {
  ApicMessage m;
  m.vector = vector;
  m.level = level;
  return m;
}

ApicMessage of_mode(DeliveryMode mode, uint8_t vector = 0) {
  ApicMessage m;
  m.mode = mode;
  m.vector = vector;
  return m;
}

class LapicTest : public ::testing::Test {
 protected:
  uint32_t reg(unsigned offset) { return uint32_t(apic.read(offset, 4)); }
  void set(unsigned offset, uint32_t value) { apic.write(offset, 4, value); }
  void enable(uint8_t spurious = 0xFF) { set(0xF0, 0x100 | spurious); }
  bool irr(uint8_t v) { return (reg(0x200 + (v / 32) * 0x10) >> (v % 32)) & 1; }
  bool isr(uint8_t v) { return (reg(0x100 + (v / 32) * 0x10) >> (v % 32)) & 1; }
  bool tmr(uint8_t v) { return (reg(0x180 + (v / 32) * 0x10) >> (v % 32)) & 1; }
  uint32_t esr() {
    set(0x280, 0);
    return reg(0x280);
  }

  ManualClock clock;
  RecordingBus bus;
  RecordingEoi eoi;
  FakePic pic;
  LocalApic apic{0, clock, bus, eoi, &pic};
};

TEST_F(LapicTest, PowerOnState) {
  EXPECT_EQ(reg(0x20), 0u);
  EXPECT_EQ(reg(0x30), 0x00050014u);
  EXPECT_EQ(reg(0x80), 0u);
  EXPECT_EQ(reg(0xD0), 0u);
  EXPECT_EQ(reg(0xE0), 0xFFFFFFFFu);
  EXPECT_EQ(reg(0xF0), 0xFFu);
  for (unsigned off = 0x320; off <= 0x370; off += 0x10) EXPECT_EQ(reg(off), 0x10000u) << off;
  EXPECT_EQ(reg(0x380), 0u);
  EXPECT_EQ(reg(0x390), 0u);
  EXPECT_EQ(reg(0x3E0), 0u);
  EXPECT_EQ(apic.apic_base(), 0xFEE00900u);  // enabled, BSP
  EXPECT_TRUE(apic.hardware_enabled());
  EXPECT_FALSE(apic.software_enabled());
  EXPECT_EQ(apic.mmio_base(), 0xFEE00000u);
  EXPECT_EQ(apic.destination_model(), DestinationModel::kFlat);
  EXPECT_FALSE(apic.cpu_event_pending());
}

TEST_F(LapicTest, ApplicationProcessorHasNoBspFlag) {
  LocalApic ap(1, clock, bus, eoi, nullptr);
  EXPECT_EQ(ap.apic_base(), 0xFEE00800u);
  EXPECT_EQ(ap.read(0x20, 4), 0x01000000u);
}

TEST_F(LapicTest, PowerOnIsTransparentToThePic) {
  pic.pending = true;
  pic.vector = 0x20;
  EXPECT_TRUE(apic.interrupt_pending());
  EXPECT_EQ(apic.acknowledge(), 0x20);
  EXPECT_FALSE(apic.interrupt_pending());
  // Fixed interrupts are refused while software-disabled (SDM 11.4.7.2).
  apic.accept(fixed(0x40));
  EXPECT_FALSE(irr(0x40));
  EXPECT_FALSE(apic.interrupt_pending());
}

TEST_F(LapicTest, EnabledApicCutsThePicUntilLint0IsExtInt) {
  enable();
  pic.pending = true;
  EXPECT_FALSE(apic.interrupt_pending());  // LINT0 still masked
  set(0x350, 0x700);                       // ExtINT, unmasked (Linux's virtual wire)
  EXPECT_TRUE(apic.interrupt_pending());
  EXPECT_EQ(apic.acknowledge(), 0x08);
  EXPECT_FALSE(apic.interrupt_pending());
  pic.pending = true;
  set(0x350, 0x10700);  // masked again
  EXPECT_FALSE(apic.interrupt_pending());
}

TEST_F(LapicTest, GlobalDisablePassesThePicThrough) {
  enable();
  set(0x80, 0x20);
  pic.pending = true;
  EXPECT_FALSE(apic.interrupt_pending());
  ASSERT_TRUE(apic.set_apic_base(0xFEE00100));  // enable bit clear
  EXPECT_FALSE(apic.hardware_enabled());
  EXPECT_TRUE(apic.interrupt_pending());
  EXPECT_EQ(apic.acknowledge(), 0x08);
  // The page reads as an empty bus and ignores writes; messages are lost.
  EXPECT_EQ(apic.read(0x30, 4), 0xFFFFFFFFu);
  apic.write(0xF0, 4, 0x1FF);
  apic.accept(fixed(0x50));
  apic.accept(of_mode(DeliveryMode::kNmi));
  EXPECT_FALSE(apic.take_nmi());
  // Re-enabling finds the power-on state (SDM 11.4.3).
  ASSERT_TRUE(apic.set_apic_base(0xFEE00900));
  EXPECT_EQ(reg(0x80), 0u);
  EXPECT_EQ(reg(0xF0), 0xFFu);
  EXPECT_FALSE(irr(0x50));
}

TEST_F(LapicTest, NoPicMeansNothingPending) {
  LocalApic lone(0, clock, bus, eoi, nullptr);
  EXPECT_FALSE(lone.interrupt_pending());
  EXPECT_EQ(lone.acknowledge(), 0xFF);
}

TEST_F(LapicTest, ApicVectorGoesBeforeExtInt) {
  enable();
  set(0x350, 0x700);
  pic.pending = true;
  apic.accept(fixed(0x41));
  EXPECT_EQ(apic.acknowledge(), 0x41);
  EXPECT_EQ(apic.acknowledge(), 0x08);
  EXPECT_EQ(pic.acks, 1u);
}

TEST_F(LapicTest, TprBlocksItsOwnPriorityClass) {
  enable();
  set(0x80, 0x50);
  apic.accept(fixed(0x5F));
  EXPECT_TRUE(irr(0x5F));
  EXPECT_FALSE(apic.interrupt_pending());  // same class as TPR
  apic.accept(fixed(0x60));
  EXPECT_TRUE(apic.interrupt_pending());
  EXPECT_EQ(apic.acknowledge(), 0x60);
  EXPECT_EQ(reg(0xA0), 0x60u);  // PPR: the in-service class
  set(0x80, 0x40);
  set(0xB0, 0);
  EXPECT_EQ(reg(0xA0), 0x40u);
  EXPECT_EQ(apic.acknowledge(), 0x5F);
}

TEST_F(LapicTest, PprIsTprOrTheInServiceClass) {
  enable();
  apic.accept(fixed(0x65));
  ASSERT_EQ(apic.acknowledge(), 0x65);
  set(0x80, 0x30);
  EXPECT_EQ(apic.ppr(), 0x60);  // ISR class, sub-class 0
  set(0x80, 0x6A);
  EXPECT_EQ(apic.ppr(), 0x6A);  // same class: TPR wins
  set(0x80, 0x7F);
  EXPECT_EQ(reg(0xA0), 0x7Fu);
  EXPECT_EQ(reg(0x90), 0u);  // APR
  set(0x80, 0xFFFFFF12);
  EXPECT_EQ(reg(0x80), 0x12u);
}

TEST_F(LapicTest, NestedServiceAndEoiOrder) {
  enable();
  apic.accept(fixed(0x40));
  ASSERT_EQ(apic.acknowledge(), 0x40);
  apic.accept(fixed(0x45));
  EXPECT_FALSE(apic.interrupt_pending());  // same class as the one in service
  apic.accept(fixed(0x80));
  ASSERT_EQ(apic.acknowledge(), 0x80);  // a higher class nests
  apic.accept(fixed(0x50));
  EXPECT_FALSE(apic.interrupt_pending());
  EXPECT_TRUE(isr(0x40));
  EXPECT_TRUE(isr(0x80));
  set(0xB0, 0);  // retires 0x80, the highest in service
  EXPECT_FALSE(isr(0x80));
  EXPECT_TRUE(isr(0x40));
  EXPECT_EQ(apic.acknowledge(), 0x50);
  set(0xB0, 0);
  set(0xB0, 0);
  EXPECT_FALSE(isr(0x40));
  EXPECT_EQ(apic.acknowledge(), 0x45);
  set(0xB0, 0);
  set(0xB0, 0);  // nothing in service: ignored
  for (unsigned off = 0x100; off < 0x180; off += 0x10) EXPECT_EQ(reg(off), 0u);
  EXPECT_TRUE(eoi.vectors.empty());
}

TEST_F(LapicTest, OnlyLevelVectorsReachTheEoiSink) {
  enable();
  apic.accept(fixed(0x61, true));
  apic.accept(fixed(0x52, false));
  EXPECT_TRUE(tmr(0x61));
  EXPECT_FALSE(tmr(0x52));
  ASSERT_EQ(apic.acknowledge(), 0x61);
  set(0xB0, 0);
  EXPECT_EQ(eoi.vectors, std::vector<uint8_t>{0x61});
  ASSERT_EQ(apic.acknowledge(), 0x52);
  set(0xB0, 0);
  EXPECT_EQ(eoi.vectors.size(), 1u);
  // A level de-assert message accepts nothing.
  ApicMessage deassert = fixed(0x70, true);
  deassert.assert = false;
  apic.accept(deassert);
  EXPECT_FALSE(irr(0x70));
}

TEST_F(LapicTest, VanishedRequestGivesTheSpuriousVector) {
  enable(0xEF);
  apic.accept(fixed(0x45));
  ASSERT_TRUE(apic.interrupt_pending());
  set(0x80, 0x50);  // the request is masked between INTR and INTA
  EXPECT_EQ(apic.acknowledge(), 0xEF);
  EXPECT_FALSE(isr(0x45));
  EXPECT_TRUE(irr(0x45));
}

TEST_F(LapicTest, SvrVectorIsFullyWritableOnTheXapic) {
  set(0xF0, 0x1A0);
  EXPECT_EQ(reg(0xF0), 0x1A0u);  // bits 0-3 are not forced to 1 (P6 only)
  set(0xF0, 0xFFFFFFFF);
  EXPECT_EQ(reg(0xF0), 0x1FFu);  // focus and EOI suppression are reserved
}

TEST_F(LapicTest, EsrLatchesOnWrite) {
  enable();
  apic.accept(fixed(0x05));
  EXPECT_FALSE(irr(0x05));
  EXPECT_EQ(reg(0x280), 0u);  // not latched yet
  set(0x280, 0);
  EXPECT_EQ(reg(0x280), 0x40u);  // receive illegal vector
  EXPECT_EQ(reg(0x280), 0x40u);  // reads do not clear
  set(0x280, 0);
  EXPECT_EQ(reg(0x280), 0u);
}

TEST_F(LapicTest, ReservedOffsetsSetIllegalRegister) {
  EXPECT_EQ(reg(0x40), 0u);
  EXPECT_EQ(esr(), 0x80u);
  set(0x2F0, 0x20);  // LVT CMCI: not implemented (max LVT 5)
  EXPECT_EQ(esr(), 0x80u);
  set(0xFF0, 1);
  EXPECT_EQ(esr(), 0x80u);
  EXPECT_EQ(esr(), 0u);
}

TEST_F(LapicTest, ErrorLvtRaisesItsVector) {
  enable();
  set(0x370, 0x33);
  apic.accept(fixed(0x07));
  EXPECT_TRUE(irr(0x33));
  // An illegal error vector records the error and does not recurse.
  set(0x280, 0);
  set(0x370, 0x03);
  apic.accept(fixed(0x07));
  EXPECT_EQ(esr(), 0x40u);
  EXPECT_EQ(reg(0x200), 0u);
}

TEST_F(LapicTest, ReadOnlyRegistersAndMalformedAccesses) {
  enable();
  apic.accept(fixed(0x41));
  set(0x30, 0);          // version
  set(0xA0, 0xFF);       // PPR
  set(0x200 + 0x20, 0);  // IRR bits 64-95
  set(0x390, 1234);      // current count
  EXPECT_EQ(reg(0x30), 0x00050014u);
  EXPECT_EQ(reg(0xA0), 0u);
  EXPECT_TRUE(irr(0x41));
  EXPECT_EQ(reg(0x390), 0u);
  EXPECT_EQ(esr(), 0u);  // read-only registers are not illegal addresses
  apic.write(0x80, 1, 0xFF);
  apic.write(0x84, 4, 0xFF);
  apic.write(0x80, 8, 0xFF);
  EXPECT_EQ(reg(0x80), 0u);
  EXPECT_EQ(apic.read(0x30, 1), 0u);
  EXPECT_EQ(apic.read(0x34, 4), 0u);
  EXPECT_EQ(apic.read(0x1000, 4), 0u);
}

TEST_F(LapicTest, IdLdrDfrReadBack) {
  set(0x20, 0xAB00FFFF);
  EXPECT_EQ(reg(0x20), 0xAB000000u);
  EXPECT_EQ(apic.id(), 0xAB);
  set(0xD0, 0x12345678);
  EXPECT_EQ(reg(0xD0), 0x12000000u);
  EXPECT_EQ(apic.logical_id(), 0x12);
  set(0xE0, 0);
  EXPECT_EQ(reg(0xE0), 0x0FFFFFFFu);
  EXPECT_EQ(apic.destination_model(), DestinationModel::kCluster);
  set(0xE0, 0xF0000000);
  EXPECT_EQ(apic.destination_model(), DestinationModel::kFlat);
}

TEST_F(LapicTest, IcrWriteSendsOneMessage) {
  enable();
  set(0x310, 0x03FFFFFF);
  EXPECT_EQ(reg(0x310), 0x03000000u);
  EXPECT_TRUE(bus.sent.empty());   // the high half does not send
  set(0x300, 0xFFF3DFFD);          // mode 7 among a flood of reserved bits
  ASSERT_EQ(bus.sent.size(), 0u);  // mode 7 is reserved in the ICR
  set(0x300, 0x000C08FD);          // fixed, logical, all excluding self
  ASSERT_EQ(bus.sent.size(), 1u);
  ApicMessage m = bus.sent[0];
  EXPECT_EQ(m.vector, 0xFD);
  EXPECT_EQ(m.mode, DeliveryMode::kFixed);
  EXPECT_TRUE(m.logical);
  EXPECT_EQ(m.dest, 3u);
  EXPECT_EQ(m.shorthand, Shorthand::kAllExcludingSelf);
  EXPECT_EQ(m.source_id, 0u);
  EXPECT_FALSE(m.level);
  EXPECT_EQ(reg(0x300), 0x000C08FDu);  // delivery status reads idle
  set(0x300, 0x0000C1A0);              // lowest priority, level assert: sent as edge
  ASSERT_EQ(bus.sent.size(), 2u);
  EXPECT_EQ(bus.sent[1].mode, DeliveryMode::kLowestPriority);
  EXPECT_FALSE(bus.sent[1].level);
  EXPECT_FALSE(bus.sent[1].logical);
}

TEST_F(LapicTest, IcrInitDeassertIsIgnored) {
  set(0x310, 0x01000000);
  set(0x300, 0x0000C500);  // INIT, level, assert
  set(0x300, 0x00008500);  // INIT, level, de-assert
  set(0x300, 0x00000699);  // SIPI, vector 0x99
  set(0x300, 0x00000300);  // reserved mode 3
  ASSERT_EQ(bus.sent.size(), 2u);
  EXPECT_EQ(bus.sent[0].mode, DeliveryMode::kInit);
  EXPECT_EQ(bus.sent[1].mode, DeliveryMode::kStartup);
  EXPECT_EQ(bus.sent[1].vector, 0x99);
  EXPECT_EQ(bus.sent[1].dest, 1u);
}

TEST_F(LapicTest, IcrIllegalVectorSetsSendError) {
  enable();
  set(0x300, 0x0000000A);
  EXPECT_EQ(esr(), 0x20u);
  set(0x300, 0x0000040A);  // NMI: the vector is ignored
  EXPECT_EQ(esr(), 0u);
  EXPECT_EQ(bus.sent.size(), 2u);
}

TEST_F(LapicTest, NmiInitSipiArePendingUntilTaken) {
  set(0x20, 0x05000000);
  enable();
  set(0x80, 0x40);
  apic.accept(of_mode(DeliveryMode::kNmi));
  EXPECT_TRUE(apic.cpu_event_pending());
  EXPECT_TRUE(apic.take_nmi());
  EXPECT_FALSE(apic.take_nmi());
  apic.accept(of_mode(DeliveryMode::kInit));
  EXPECT_TRUE(apic.take_init());
  EXPECT_FALSE(apic.take_init());
  EXPECT_EQ(reg(0x20), 0x05000000u);  // INIT keeps the ID ...
  EXPECT_EQ(reg(0x80), 0u);           // ... and resets the rest
  EXPECT_FALSE(apic.software_enabled());
  apic.accept(of_mode(DeliveryMode::kStartup, 0x9A));  // taken while disabled
  EXPECT_EQ(apic.take_sipi(), std::optional<uint8_t>(0x9A));
  EXPECT_EQ(apic.take_sipi(), std::nullopt);
  EXPECT_FALSE(apic.cpu_event_pending());
}

TEST_F(LapicTest, SoftwareDisableMasksEveryLvt) {
  enable();
  set(0x350, 0x700);
  set(0x370, 0x33);
  set(0xF0, 0xFF);
  EXPECT_EQ(reg(0x350), 0x10700u);
  EXPECT_EQ(reg(0x370), 0x10033u);
  set(0x350, 0x700);
  EXPECT_EQ(reg(0x350), 0x10700u);  // cannot be unmasked while disabled
  set(0x360, 0xFFFFFFFF);
  EXPECT_EQ(reg(0x360), 0x1A7FFu);  // writable bits only; remote IRR stays 0
}

TEST_F(LapicTest, Lint1NmiOnRisingEdges) {
  apic.set_lint(1, true);  // power-on: LINT1 is the NMI pin
  EXPECT_TRUE(apic.take_nmi());
  apic.set_lint(1, false);
  enable();
  set(0x360, 0x400);
  apic.set_lint(1, true);
  apic.set_lint(1, true);  // held high: one edge
  EXPECT_TRUE(apic.take_nmi());
  EXPECT_FALSE(apic.take_nmi());
  apic.set_lint(1, false);
  set(0x360, 0x10400);
  apic.set_lint(1, true);
  EXPECT_FALSE(apic.take_nmi());
}

TEST_F(LapicTest, Lint0EdgeAndPolarity) {
  enable();
  set(0x350, 0x31);
  apic.set_lint(0, true);
  apic.set_lint(0, false);
  EXPECT_TRUE(irr(0x31));
  EXPECT_FALSE(tmr(0x31));
  ASSERT_EQ(apic.acknowledge(), 0x31);
  set(0xB0, 0);
  set(0x350, 0x2031);  // active low: the low line is now asserted, an edge
  EXPECT_TRUE(irr(0x31));
}

TEST_F(LapicTest, Lint0LevelHoldsRemoteIrrUntilEoi) {
  enable();
  set(0x350, 0x8031);  // fixed, level
  apic.set_lint(0, true);
  EXPECT_TRUE(irr(0x31));
  EXPECT_TRUE(tmr(0x31));
  EXPECT_EQ(reg(0x350), 0xC031u);  // remote IRR
  ASSERT_EQ(apic.acknowledge(), 0x31);
  apic.set_lint(0, true);
  EXPECT_FALSE(irr(0x31));  // held off by remote IRR
  set(0xB0, 0);
  EXPECT_EQ(eoi.vectors, std::vector<uint8_t>{0x31});
  EXPECT_TRUE(irr(0x31));  // still asserted: again
  ASSERT_EQ(apic.acknowledge(), 0x31);
  apic.set_lint(0, false);
  set(0xB0, 0);
  EXPECT_FALSE(irr(0x31));
  EXPECT_EQ(reg(0x350), 0x8031u);
}

TEST_F(LapicTest, ExtIntMessageAsksThePicOnce) {
  enable();
  pic.pending = true;
  EXPECT_FALSE(apic.interrupt_pending());
  apic.accept(of_mode(DeliveryMode::kExtInt));
  EXPECT_TRUE(apic.interrupt_pending());
  EXPECT_EQ(apic.acknowledge(), 0x08);
  pic.pending = true;
  EXPECT_FALSE(apic.interrupt_pending());
}

TEST_F(LapicTest, ApicBaseMsrReservedBits) {
  EXPECT_FALSE(apic.set_apic_base(0xFEE00901));       // bit 0
  EXPECT_FALSE(apic.set_apic_base(0xFEE00B00));       // bit 9
  EXPECT_FALSE(apic.set_apic_base(0xFEE00D00));       // bit 10: no x2APIC
  EXPECT_FALSE(apic.set_apic_base(0x10FEE00900ull));  // bit 36
  EXPECT_EQ(apic.apic_base(), 0xFEE00900u);           // refused writes change nothing
  ASSERT_TRUE(apic.set_apic_base(0x8FED00800ull));    // bit 35, moved, BSP cleared
  EXPECT_EQ(apic.mmio_base(), 0x8FED00000ull);
  EXPECT_EQ(apic.apic_base(), 0x8FED00800ull);
  EXPECT_TRUE(apic.hardware_enabled());
  apic.reset();
  EXPECT_EQ(apic.apic_base(), 0xFEE00900u);
}

}  // namespace
}  // namespace tv::dev
