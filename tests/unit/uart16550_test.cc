// Register behaviour of the 16550A model, including the probe and startup
// sequences of Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c).
#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace tv::dev {
namespace {

constexpr unsigned kThr = 0, kIer = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                   kScr = 7;

class IrqRecorder : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override { calls.emplace_back(irq, level); }
  bool level() const { return !calls.empty() && calls.back().second; }
  std::vector<std::pair<unsigned, bool>> calls;
};

class Uart16550Test : public ::testing::Test {
 protected:
  uint8_t in(unsigned reg) { return uint8_t(uart.read(reg, 1)); }
  void out(unsigned reg, uint8_t value) { uart.write(reg, 1, value); }

  IrqRecorder irq;
  std::vector<uint8_t> sent;
  Uart16550 uart{irq, 4, [this](uint8_t b) { sent.push_back(b); }, Uart16550::IrqGate::kOut2};
};

// The PC's COM1 as QEMU models it: the interrupt is raised without OUT2.
TEST(Uart16550Ungated, RaisesIrqWithoutOut2) {
  IrqRecorder irq;
  Uart16550 uart{irq, 4, [](uint8_t) {}};
  uart.write(1, 1, 0x02);  // IER: THR empty
  EXPECT_TRUE(irq.level());
  uart.write(1, 1, 0x00);
  EXPECT_FALSE(irq.level());
  uart.write(4, 1, 0x10);  // loopback disconnects the output
  uart.write(1, 1, 0x02);
  EXPECT_FALSE(irq.level());
}

TEST_F(Uart16550Test, ResetState) {
  EXPECT_EQ(in(kIer), 0x00);
  EXPECT_EQ(in(kIir), 0x01);
  EXPECT_EQ(in(kLcr), 0x00);
  EXPECT_EQ(in(kMcr), 0x00);
  EXPECT_EQ(in(kLsr), 0x60);       // THRE | TEMT, no data
  EXPECT_EQ(in(kMsr), 0xB0);       // CTS, DSR, DCD asserted, no deltas
  EXPECT_EQ(uart.rx_space(), 1u);  // 16450 mode until FCR enables the FIFO
  EXPECT_TRUE(irq.calls.empty());
}

TEST_F(Uart16550Test, DivisorLatchSharesOffsetsZeroAndOne) {
  out(kIer, 0x05);
  out(kLcr, 0x83);  // DLAB, 8N1
  out(kThr, 0x01);
  out(kIer, 0x02);
  EXPECT_EQ(in(kThr), 0x01);
  EXPECT_EQ(in(kIer), 0x02);
  EXPECT_TRUE(sent.empty());  // DLL write is not a transmission
  out(kLcr, 0x03);
  EXPECT_EQ(in(kIer), 0x05);
  out(kThr, 'A');
  EXPECT_EQ(sent, std::vector<uint8_t>{'A'});
  out(kLcr, 0x83);
  EXPECT_EQ(in(kThr), 0x01);  // latch unchanged by the THR write
}

TEST_F(Uart16550Test, IerUpperBitsReadZeroAsAutoconfigExpects) {
  out(kIer, 0xFF);
  EXPECT_EQ(in(kIer), 0x0F);  // also rules out the XScale UUE bit (bit 6)
  out(kIer, 0x00);
  EXPECT_EQ(in(kIer), 0x00);
}

TEST_F(Uart16550Test, FcrEnableShowsFifoBitsInIir) {
  out(kFcr, 0x01);
  EXPECT_EQ(in(kIir), 0xC1);  // autoconfig: IIR >> 6 == 3 means 16550A
  EXPECT_EQ(uart.rx_space(), 16u);
  out(kFcr, 0x00);
  EXPECT_EQ(in(kIir), 0x01);
  EXPECT_EQ(uart.rx_space(), 1u);
}

TEST_F(Uart16550Test, ScratchRegisterHoldsValue) {
  out(kScr, 0xA5);
  EXPECT_EQ(in(kScr), 0xA5);
  out(kScr, 0x5A);
  EXPECT_EQ(in(kScr), 0x5A);
}

// serial8250_do_startup: the UART_BUG_TXEN and UART_BUG_THRE probes.
TEST_F(Uart16550Test, ThreInterruptLinuxStartupSequence) {
  out(kFcr, 0x07);
  out(kMcr, 0x0B);  // DTR | RTS | OUT2
  out(kIer, 0x02);  // THRI while THR is empty: THRE at once
  EXPECT_EQ(in(kLsr)&0x40, 0x40);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir), 0xC2);  // iir1 shows THRE...
  EXPECT_FALSE(irq.level());  // ...and reading it cleared the interrupt
  EXPECT_EQ(in(kIir), 0xC1);
  out(kIer, 0x00);
  out(kIer, 0x02);  // a working UART re-asserts THRE
  EXPECT_EQ(in(kIir), 0xC2);
  out(kIer, 0x00);
  EXPECT_EQ(in(kIir), 0xC1);
  EXPECT_FALSE(irq.level());
}

TEST_F(Uart16550Test, ThrWriteClearsAndReraisesThre) {
  out(kMcr, 0x08);
  out(kIer, 0x02);
  EXPECT_EQ(in(kIir), 0x02);  // handler reads IIR: cleared
  irq.calls.clear();
  out(kThr, 'x');
  EXPECT_EQ(sent, std::vector<uint8_t>{'x'});
  EXPECT_EQ(in(kLsr)&0x60, 0x60);  // transmitted instantly
  // The line was idle, so the write raises it; the IIR read above lowered it.
  ASSERT_EQ(irq.calls.size(), 1u);
  EXPECT_EQ(irq.calls[0], std::make_pair(4u, true));
  // A second write while THRE is pending pulses the line: a fresh edge.
  irq.calls.clear();
  out(kThr, 'y');
  ASSERT_EQ(irq.calls.size(), 2u);
  EXPECT_EQ(irq.calls[0], std::make_pair(4u, false));
  EXPECT_EQ(irq.calls[1], std::make_pair(4u, true));
  EXPECT_EQ(in(kIir), 0x02);
}

TEST_F(Uart16550Test, ThrWriteWithoutEtbeiRaisesNothing) {
  out(kMcr, 0x08);
  out(kThr, 'z');
  EXPECT_EQ(in(kIir), 0x01);
  EXPECT_TRUE(irq.calls.empty());
}

TEST_F(Uart16550Test, Out2GatesTheIrqLine) {
  out(kIer, 0x02);
  EXPECT_EQ(in(kIir)&0x0F, 0x02);  // pending inside the chip...
  EXPECT_TRUE(irq.calls.empty());  // ...but not driven without OUT2
  out(kIer, 0x00);
  out(kIer, 0x02);
  out(kMcr, 0x08);
  EXPECT_TRUE(irq.level());
  out(kMcr, 0x00);
  EXPECT_FALSE(irq.level());
}

TEST_F(Uart16550Test, ReceiveRaisesDataReadyAndRxInterrupt) {
  out(kFcr, 0x01);
  out(kMcr, 0x08);
  out(kIer, 0x01);
  uart.receive('h');
  uart.receive('i');
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kLsr)&0x01, 0x01);
  EXPECT_EQ(in(kIir), 0xC4);
  EXPECT_EQ(uart.rx_space(), 14u);
  EXPECT_EQ(in(kThr), 'h');
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kThr), 'i');
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(in(kLsr)&0x01, 0x00);
  EXPECT_EQ(in(kIir), 0xC1);
}

TEST_F(Uart16550Test, FifoOverrunSetsOeAndKeepsFifo) {
  out(kFcr, 0x01);
  out(kMcr, 0x08);
  out(kIer, 0x04);  // ELSI only
  for (int i = 0; i < 16; ++i) uart.receive(uint8_t(i));
  EXPECT_EQ(uart.rx_space(), 0u);
  EXPECT_EQ(in(kLsr)&0x02, 0x00);
  EXPECT_FALSE(irq.level());
  uart.receive(0xEE);  // lost
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir), 0xC6);
  EXPECT_EQ(in(kLsr), 0x63);  // OE | DR | THRE | TEMT
  EXPECT_FALSE(irq.level());  // reading LSR cleared OE
  EXPECT_EQ(in(kLsr), 0x61);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(kThr), i);
  EXPECT_EQ(in(kLsr), 0x60);
}

TEST_F(Uart16550Test, FifoDisabledHoldsOneCharacter) {
  uart.receive('a');
  EXPECT_EQ(uart.rx_space(), 0u);
  uart.receive('b');
  EXPECT_EQ(in(kLsr), 0x63);
  EXPECT_EQ(in(kThr), 'a');
  EXPECT_EQ(in(kThr), 0);  // empty RBR
}

TEST_F(Uart16550Test, FcrClearsRxFifo) {
  out(kFcr, 0x01);
  uart.receive('a');
  uart.receive('b');
  out(kFcr, 0x03);  // enable + clear RX
  EXPECT_EQ(in(kLsr)&0x01, 0x00);
  EXPECT_EQ(uart.rx_space(), 16u);
  uart.receive('c');
  out(kFcr, 0x00);  // disabling clears as well
  EXPECT_EQ(in(kLsr)&0x01, 0x00);
}

// autoconfig's loopback test: MCR = LOOP | OUT2 | RTS must read DCD | CTS.
TEST_F(Uart16550Test, LoopbackMapsModemOutputsToInputs) {
  out(kMcr, 0x1A);
  EXPECT_EQ(in(kMsr)&0xF0, 0x90);
  out(kMcr, 0x11);  // DTR -> DSR
  EXPECT_EQ(in(kMsr)&0xF0, 0x20);
  out(kMcr, 0x14);  // OUT1 -> RI
  EXPECT_EQ(in(kMsr)&0xF0, 0x40);
  out(kMcr, 0x10);
  EXPECT_EQ(in(kMsr), 0x04);  // TERI: RI fell
  out(kMcr, 0x00);
  EXPECT_EQ(in(kMsr), 0xBB);  // back to a ready terminal, with deltas
  EXPECT_EQ(in(kMsr), 0xB0);
}

TEST_F(Uart16550Test, LoopbackSendsTxToRxAndHoldsHostInput) {
  out(kFcr, 0x01);
  out(kMcr, 0x18);
  EXPECT_EQ(uart.rx_space(), 0u);
  uart.receive('h');  // SIN is disconnected
  out(kThr, 'L');
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(in(kLsr), 0x61);
  EXPECT_EQ(in(kThr), 'L');
  EXPECT_EQ(in(kLsr), 0x60);
  out(kMcr, 0x08);
  EXPECT_EQ(uart.rx_space(), 16u);
}

TEST_F(Uart16550Test, LoopbackDoesNotDriveTheIrqLine) {
  out(kMcr, 0x18);
  out(kIer, 0x02);
  EXPECT_EQ(in(kIir), 0x02);
  EXPECT_TRUE(irq.calls.empty());
}

TEST_F(Uart16550Test, ModemStatusInterruptClearedByMsrRead) {
  out(kMcr, 0x08);
  out(kIer, 0x08);
  EXPECT_EQ(in(kIir), 0x01);  // no deltas yet
  out(kMcr, 0x18);            // entering loopback drops CTS/DSR/DCD except DCD (OUT2)
  out(kMcr, 0x08);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir), 0x00);
  EXPECT_EQ(in(kMsr)&0x0F, 0x03);  // DCTS | DDSR
  EXPECT_EQ(in(kIir), 0x01);
  EXPECT_FALSE(irq.level());
}

TEST_F(Uart16550Test, IirPriorityOrder) {
  out(kFcr, 0x01);
  out(kMcr, 0x18);
  out(kMcr, 0x08);                                 // leaves modem deltas pending
  out(kIer, 0x0F);                                 // all four sources, THRE raised at once
  for (int i = 0; i < 17; ++i) uart.receive('d');  // data and an overrun
  EXPECT_EQ(in(kIir), 0xC6);                       // line status first
  in(kLsr);
  EXPECT_EQ(in(kIir), 0xC4);  // then received data
  while (in(kLsr)&0x01) in(kThr);
  EXPECT_EQ(in(kIir), 0xC2);  // then THRE, cleared by this read
  EXPECT_EQ(in(kIir), 0xC0);  // then modem status
  in(kMsr);
  EXPECT_EQ(in(kIir), 0xC1);
  EXPECT_FALSE(irq.level());
}

TEST_F(Uart16550Test, WideAccessSplitsIntoBytes) {
  uart.write(kLcr, 2, 0x0B03);  // LCR = 0x03, MCR = 0x0B
  EXPECT_EQ(in(kLcr), 0x03);
  EXPECT_EQ(in(kMcr), 0x0B);
  EXPECT_EQ(uart.read(kMsr, 2) >> 8, 0u);     // SCR
  EXPECT_EQ(uart.read(kScr, 2) >> 8, 0xFFu);  // past the device
}

}  // namespace
}  // namespace tv::dev
