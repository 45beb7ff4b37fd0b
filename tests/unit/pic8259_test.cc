// 8259A pair and ELCR: Linux's init sequence (arch/x86/kernel/i8259.c),
// masking, EOI forms, cascade, spurious vectors, edge vs level, auto-EOI.
#include "devices/pic8259.h"

#include <gtest/gtest.h>

namespace tv::dev {
namespace {

class PicPairTest : public ::testing::Test {
 protected:
  void master_out(unsigned offset, uint8_t v) { pic.master_ports()->write(offset, 1, v); }
  void slave_out(unsigned offset, uint8_t v) { pic.slave_ports()->write(offset, 1, v); }
  uint8_t master_in(unsigned offset) { return uint8_t(pic.master_ports()->read(offset, 1)); }
  uint8_t slave_in(unsigned offset) { return uint8_t(pic.slave_ports()->read(offset, 1)); }
  uint8_t master_isr() {
    master_out(0, 0x0B);
    uint8_t isr = master_in(0);
    master_out(0, 0x0A);
    return isr;
  }
  uint8_t slave_isr() {
    slave_out(0, 0x0B);
    uint8_t isr = slave_in(0);
    slave_out(0, 0x0A);
    return isr;
  }

  // init_8259A(): mask all, ICW1-4 on both chips, then the cached masks.
  void linux_init(uint8_t master_mask = 0x00, uint8_t slave_mask = 0x00, uint8_t icw4 = 0x01) {
    master_out(1, 0xFF);
    slave_out(1, 0xFF);
    master_out(0, 0x11);
    master_out(1, 0x20);
    master_out(1, 0x04);
    master_out(1, icw4);
    slave_out(0, 0x11);
    slave_out(1, 0x28);
    slave_out(1, 0x02);
    slave_out(1, icw4);
    master_out(1, master_mask);
    slave_out(1, slave_mask);
  }

  void pulse(unsigned irq) {
    pic.set_irq(irq, true);
    pic.set_irq(irq, false);
  }

  PicPair pic;
};

TEST_F(PicPairTest, PowerOnMasksEverything) {
  pic.set_irq(0, true);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(master_in(1), 0xFF);
  EXPECT_EQ(slave_in(1), 0xFF);
  EXPECT_EQ(master_in(0), 0x01);  // the request waits in IRR
  master_out(1, 0xFE);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x08);  // BIOS vector base
}

TEST_F(PicPairTest, LinuxInitThenDeliverIrq0) {
  linux_init(0xFA, 0xFF);  // IRQ0 and the cascade open, as early boot has it
  EXPECT_EQ(master_in(1), 0xFA);
  EXPECT_EQ(slave_in(1), 0xFF);
  EXPECT_FALSE(pic.interrupt_pending());
  pulse(0);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(master_in(0), 0x01);  // reads IRR by default after init
  EXPECT_EQ(pic.acknowledge(), 0x20);
  EXPECT_EQ(master_in(0), 0x00);
  EXPECT_EQ(master_isr(), 0x01);
  EXPECT_FALSE(pic.interrupt_pending());
  master_out(0, 0x20);  // non-specific EOI
  EXPECT_EQ(master_isr(), 0x00);
}

TEST_F(PicPairTest, Icw1ClearsMaskInServiceAndEdgeRequests) {
  linux_init();
  pulse(3);
  EXPECT_EQ(pic.acknowledge(), 0x23);
  pulse(4);
  master_out(0, 0x11);
  EXPECT_EQ(master_in(1), 0x00);  // IMR cleared by ICW1 (ICW2 not yet written)
  master_out(1, 0x20);
  master_out(1, 0x04);
  master_out(1, 0x01);
  EXPECT_EQ(master_in(0), 0x00);
  EXPECT_EQ(master_isr(), 0x00);
  EXPECT_FALSE(pic.interrupt_pending());
}

TEST_F(PicPairTest, EdgeInputAlreadyHighNeedsNewEdgeAfterInit) {
  pic.set_irq(1, true);
  linux_init();
  EXPECT_FALSE(pic.interrupt_pending());
  pic.set_irq(1, false);
  pic.set_irq(1, true);
  EXPECT_EQ(pic.acknowledge(), 0x21);
}

TEST_F(PicPairTest, MaskedRequestWaitsInIrr) {
  linux_init(0x08);
  pulse(3);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(master_in(0), 0x08);
  master_out(1, 0x00);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicPairTest, LowerNumberWinsAndInServiceBlocksLowerPriority) {
  linux_init();
  pulse(5);
  pulse(3);
  EXPECT_EQ(pic.acknowledge(), 0x23);
  EXPECT_FALSE(pic.interrupt_pending());  // 5 waits behind 3 in service
  pulse(1);
  EXPECT_TRUE(pic.interrupt_pending());  // 1 nests above 3
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(master_isr(), 0x0A);
  master_out(0, 0x20);  // non-specific EOI ends the highest: 1
  EXPECT_EQ(master_isr(), 0x08);
  EXPECT_FALSE(pic.interrupt_pending());
  master_out(0, 0x63);  // specific EOI for 3
  EXPECT_EQ(master_isr(), 0x00);
  EXPECT_EQ(pic.acknowledge(), 0x25);
}

TEST_F(PicPairTest, SpecificEoiClearsOnlyTheNamedLevel) {
  linux_init();
  pulse(6);
  EXPECT_EQ(pic.acknowledge(), 0x26);
  pulse(4);
  EXPECT_EQ(pic.acknowledge(), 0x24);
  master_out(0, 0x66);
  EXPECT_EQ(master_isr(), 0x10);
}

TEST_F(PicPairTest, CascadeAcknowledgesSlaveIrqs) {
  linux_init(0xFB, 0x00);
  for (unsigned irq = 8; irq < 16; ++irq) {
    pulse(irq);
    ASSERT_TRUE(pic.interrupt_pending()) << irq;
    EXPECT_EQ(pic.acknowledge(), 0x28 + (irq - 8)) << irq;
    EXPECT_EQ(master_isr(), 0x04);
    EXPECT_EQ(slave_isr(), 1u << (irq - 8));
    EXPECT_FALSE(pic.interrupt_pending());
    slave_out(0, uint8_t(0x60 | (irq - 8)));  // Linux: slave first, then master
    master_out(0, 0x62);
    EXPECT_EQ(slave_isr(), 0x00);
    EXPECT_EQ(master_isr(), 0x00);
  }
}

TEST_F(PicPairTest, SecondSlaveRequestFollowsAfterEoi) {
  linux_init();
  pulse(12);
  pulse(9);
  EXPECT_EQ(pic.acknowledge(), 0x29);
  EXPECT_FALSE(pic.interrupt_pending());
  slave_out(0, 0x20);
  master_out(0, 0x20);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x2C);
}

TEST_F(PicPairTest, MasterIrqOutranksCascadeByNumber) {
  linux_init();
  pulse(10);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);  // IR1 outranks the cascade on IR2
  EXPECT_FALSE(pic.interrupt_pending());
  master_out(0, 0x20);
  EXPECT_EQ(pic.acknowledge(), 0x2A);
}

TEST_F(PicPairTest, SpuriousIrq7WhenRequestVanished) {
  linux_init();
  pic.elcr_ports()->write(0, 1, 0x20);  // IRQ5 level-triggered
  pic.set_irq(5, true);
  EXPECT_TRUE(pic.interrupt_pending());
  pic.set_irq(5, false);
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(master_isr(), 0x00);  // a spurious IR7 sets no ISR bit
}

TEST_F(PicPairTest, SpuriousIrq7WhenMaskedBeforeAck) {
  linux_init();
  pulse(4);
  master_out(1, 0x10);
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(master_isr(), 0x00);
  master_out(1, 0x00);
  EXPECT_EQ(pic.acknowledge(), 0x24);  // the edge request was kept
}

TEST_F(PicPairTest, SpuriousIrq15LeavesCascadeInService) {
  linux_init();
  pic.elcr_ports()->write(1, 1, 0x04);  // IRQ10 level-triggered
  pic.set_irq(10, true);
  EXPECT_TRUE(pic.interrupt_pending());
  pic.set_irq(10, false);
  EXPECT_TRUE(pic.interrupt_pending());  // IR2 latched on the master
  EXPECT_EQ(pic.acknowledge(), 0x2F);
  EXPECT_EQ(master_isr(), 0x04);
  EXPECT_EQ(slave_isr(), 0x00);
}

TEST_F(PicPairTest, EdgeInputRequestsOncePerRisingEdge) {
  linux_init();
  pic.set_irq(3, true);
  EXPECT_EQ(pic.acknowledge(), 0x23);
  master_out(0, 0x20);
  pic.set_irq(3, true);  // still high: no new request
  EXPECT_FALSE(pic.interrupt_pending());
  pic.set_irq(3, false);
  EXPECT_FALSE(pic.interrupt_pending());
  pic.set_irq(3, true);
  EXPECT_TRUE(pic.interrupt_pending());
}

TEST_F(PicPairTest, ElcrLevelInputFollowsTheLine) {
  linux_init();
  pic.elcr_ports()->write(1, 1, 0x08);  // IRQ11
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), 0x2B);
  slave_out(0, 0x20);
  master_out(0, 0x20);
  EXPECT_TRUE(pic.interrupt_pending());  // line still high: requests again
  EXPECT_EQ(pic.acknowledge(), 0x2B);
  pic.set_irq(11, false);
  slave_out(0, 0x20);
  master_out(0, 0x20);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(slave_in(0), 0x00);
}

TEST_F(PicPairTest, ElcrReservedBitsReadZero) {
  auto elcr = pic.elcr_ports();
  elcr->write(0, 1, 0xFF);
  elcr->write(1, 1, 0xFF);
  EXPECT_EQ(elcr->read(0, 1), 0xF8u);
  EXPECT_EQ(elcr->read(1, 1), 0xDEu);
  elcr->write(0, 2, 0x0000);
  EXPECT_EQ(elcr->read(0, 2), 0x0000u);
}

TEST_F(PicPairTest, LtimMakesEveryInputLevelTriggered) {
  master_out(0, 0x19);  // ICW1 with LTIM
  master_out(1, 0x20);
  master_out(1, 0x04);
  master_out(1, 0x01);
  pic.set_irq(1, true);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  master_out(0, 0x20);
  EXPECT_TRUE(pic.interrupt_pending());
  pic.set_irq(1, false);
  EXPECT_FALSE(pic.interrupt_pending());
}

TEST_F(PicPairTest, AutoEoiLeavesNothingInService) {
  linux_init(0x00, 0x00, 0x03);  // ICW4: 8086 mode, AEOI
  pulse(3);
  pulse(5);
  EXPECT_EQ(pic.acknowledge(), 0x23);
  EXPECT_EQ(master_isr(), 0x00);
  EXPECT_TRUE(pic.interrupt_pending());  // 5 is not held off
  EXPECT_EQ(pic.acknowledge(), 0x25);
  pulse(9);
  pulse(13);
  EXPECT_EQ(pic.acknowledge(), 0x29);
  EXPECT_EQ(pic.acknowledge(), 0x2D);  // the slave's second request was not lost
  EXPECT_FALSE(pic.interrupt_pending());
}

TEST_F(PicPairTest, RotateOnSpecificEoiMakesLevelLowest) {
  linux_init();
  pulse(0);
  EXPECT_EQ(pic.acknowledge(), 0x20);
  master_out(0, 0xE0);  // rotate on specific EOI: IR0 now lowest
  pulse(0);
  pulse(6);
  EXPECT_EQ(pic.acknowledge(), 0x26);
}

TEST_F(PicPairTest, PollCommandActsAsAcknowledge) {
  linux_init();
  master_out(0, 0x0C);
  EXPECT_EQ(master_in(0), 0x00);  // nothing pending
  pulse(6);
  master_out(0, 0x0C);
  EXPECT_EQ(master_in(0), 0x86);
  EXPECT_EQ(master_isr(), 0x40);
}

TEST_F(PicPairTest, StateSummaryNamesAllRegisters) {
  linux_init(0xFB, 0xEE);
  pulse(12);
  EXPECT_EQ(pic.state_summary(), "master irr=04 isr=00 imr=fb slave irr=10 isr=00 imr=ee");
}

}  // namespace
}  // namespace tv::dev
