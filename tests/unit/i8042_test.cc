#include "devices/i8042.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "device_fakes.h"

namespace tv::dev {
namespace {

constexpr uint8_t kObf = 0x01;
constexpr uint8_t kAuxb = 0x20;
constexpr uint8_t kTimeout = 0x40;

class I8042Test : public ::testing::Test {
 protected:
  uint8_t status() { return static_cast<uint8_t>(kbc.command_port()->read(0, 1)); }
  uint8_t data() { return static_cast<uint8_t>(kbc.data_port()->read(0, 1)); }
  void command(uint8_t cmd) { kbc.command_port()->write(0, 1, cmd); }
  void send(uint8_t byte) { kbc.data_port()->write(0, 1, byte); }
  // Reads bytes while OBF is set, as Linux's i8042_flush() does.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> bytes;
    while ((status() & kObf) && bytes.size() < 64) bytes.push_back(data());
    return bytes;
  }
  void set_command_byte(uint8_t ctr) {
    command(0x60);
    send(ctr);
  }

  FakeMachine machine;
  FakeIrq irq;
  I8042 kbc{machine, irq};
};

TEST_F(I8042Test, StartsEmptyWithSystemFlagAndUnlocked) {
  EXPECT_EQ(status(), 0x14);  // SYS | keylock open; OBF, IBF, A2 clear
  EXPECT_TRUE(drain().empty());
}

TEST_F(I8042Test, SelfTestRepliesAndSetsA2) {
  command(0xaa);
  EXPECT_EQ(status() & 0x08, 0x08);  // last write was a command
  EXPECT_EQ(status() & (kObf | kAuxb), kObf);
  EXPECT_EQ(data(), 0x55);
  EXPECT_EQ(status() & kObf, 0);
}

TEST_F(I8042Test, InterfaceTestsReportNoError) {
  command(0xab);
  command(0xa9);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x00, 0x00}));
}

TEST_F(I8042Test, CommandByteReadWriteAndSystemFlag) {
  command(0x20);
  EXPECT_EQ(data(), 0x65);  // what firmware leaves: XLATE, AUXDIS, SYS, KBDINT
  set_command_byte(0x43);
  EXPECT_EQ(status() & 0x08, 0);  // data write clears A2
  EXPECT_EQ(status() & 0x04, 0);  // SYS follows command byte bit 2
  command(0x20);
  EXPECT_EQ(data(), 0x43);
  EXPECT_EQ(kbc.command_byte(), 0x43);
  // RAM bytes 1-31 are plain storage.
  command(0x65);
  send(0x9c);
  command(0x25);
  EXPECT_EQ(data(), 0x9c);
}

TEST_F(I8042Test, EnableDisableCommandsToggleCommandByteBits) {
  command(0xa8);
  EXPECT_EQ(kbc.command_byte() & 0x20, 0);
  command(0xa7);
  EXPECT_EQ(kbc.command_byte() & 0x20, 0x20);
  command(0xad);
  EXPECT_EQ(kbc.command_byte() & 0x10, 0x10);
  command(0xae);
  EXPECT_EQ(kbc.command_byte() & 0x10, 0);
}

TEST_F(I8042Test, KeyboardResetAcksThenPassesSelfTest) {
  send(0xff);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xaa}));
}

TEST_F(I8042Test, ReplyRaisesIrq1OncePerByteWhenEnabled) {
  send(0xff);
  EXPECT_TRUE(irq.levels[1]);
  EXPECT_EQ(irq.rising[1], 1u);
  data();
  EXPECT_TRUE(irq.levels[1]);    // second byte loaded at once...
  EXPECT_EQ(irq.rising[1], 2u);  // ...with a fresh edge
  data();
  EXPECT_FALSE(irq.levels[1]);
  EXPECT_FALSE(irq.levels[12]);
}

TEST_F(I8042Test, NoIrqWhenKeyboardInterruptDisabled) {
  set_command_byte(0x44);
  send(0xf4);
  EXPECT_EQ(status() & kObf, kObf);
  EXPECT_EQ(irq.rising[1], 0u);
  set_command_byte(0x45);  // enabling with data pending raises the line
  EXPECT_TRUE(irq.levels[1]);
}

TEST_F(I8042Test, DisabledKeyboardHoldsItsBytes) {
  send(0xf4);  // queued: ACK
  command(0xad);
  command(0xaa);  // ACK already in the buffer; self-test reply waits
  EXPECT_EQ(data(), 0xfa);
  EXPECT_EQ(data(), 0x55);
  send(0xee);  // writing to the keyboard re-enables its interface
  EXPECT_EQ(kbc.command_byte() & 0x10, 0);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0xee});
}

TEST_F(I8042Test, IdentifyDependsOnTranslation) {
  send(0xf2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xab, 0x41}));  // XLATE on at boot
  set_command_byte(0x05);
  send(0xf2);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xab, 0x83}));
}

TEST_F(I8042Test, KeyboardCommandsWithArguments) {
  send(0xed);
  send(0x05);
  send(0xf3);
  send(0x20);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfa, 0xfa, 0xfa}));
  EXPECT_EQ(kbc.keyboard().leds(), 0x05);
  EXPECT_EQ(kbc.keyboard().typematic(), 0x20);
  send(0xf5);
  EXPECT_FALSE(kbc.keyboard().scanning());
  send(0xf4);
  EXPECT_TRUE(kbc.keyboard().scanning());
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfa}));
}

TEST_F(I8042Test, ScancodeSetGetAndSet) {
  set_command_byte(0x05);  // untranslated
  send(0xf0);
  send(0x03);
  send(0xf0);
  send(0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfa, 0xfa, 0xfa, 0x03}));
  send(0xf0);
  send(0x07);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfe}));
  set_command_byte(0x45);
  send(0xf0);
  send(0x00);
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xfa, 0x3f}));  // set 3 translated
}

TEST_F(I8042Test, EchoUnknownAndResend) {
  send(0xee);
  send(0x42);
  send(0xfe);
  send(0xf8);  // set-3 key type commands are acknowledged
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0xee, 0xfe, 0xfe, 0xfa}));
}

TEST_F(I8042Test, PulseCommandsResetOnlyWithBit0Clear) {
  command(0xff);
  command(0xf1);
  EXPECT_TRUE(machine.resets.empty());
  command(0xfe);
  ASSERT_EQ(machine.resets.size(), 1u);
  EXPECT_EQ(machine.resets[0], "i8042 reset command");
  command(0xf0);
  EXPECT_EQ(machine.resets.size(), 2u);
}

TEST_F(I8042Test, OutputPortReadWriteAndResetOnBit0Clear) {
  command(0xd0);
  EXPECT_EQ(data(), 0xcf);  // reset line high, A20 on, buffer bits clear
  command(0xd1);
  send(0xdd);  // A20 off, reset line high
  EXPECT_TRUE(machine.resets.empty());
  command(0xd0);
  EXPECT_EQ(data(), 0xcd);
  command(0xd1);
  send(0xde);
  ASSERT_EQ(machine.resets.size(), 1u);
}

TEST_F(I8042Test, OutputPortReportsFullBuffer) {
  send(0xee);
  command(0xd0);
  EXPECT_EQ(data(), 0xee);
  EXPECT_EQ(data(), 0xcf | 0x10);  // the echo was in the buffer at the command
}

TEST_F(I8042Test, WriteOutputBuffersAndAuxLoopback) {
  set_command_byte(0x47);  // both interrupts on, aux port enabled
  command(0xd2);
  send(0x12);
  EXPECT_EQ(status() & (kObf | kAuxb), kObf);
  EXPECT_TRUE(irq.levels[1]);
  EXPECT_EQ(data(), 0x12);
  command(0xd3);
  send(0x5a);  // Linux's AUX_LOOP probe expects the byte back as aux data
  EXPECT_EQ(status() & (kObf | kAuxb | kTimeout), kObf | kAuxb);
  EXPECT_TRUE(irq.levels[12]);
  EXPECT_FALSE(irq.levels[1]);
  EXPECT_EQ(data(), 0x5a);
  EXPECT_FALSE(irq.levels[12]);
}

TEST_F(I8042Test, AuxDeviceAbsentTimesOut) {
  set_command_byte(0x47);
  command(0xd4);
  send(0xf2);  // mouse identify
  EXPECT_EQ(status() & (kObf | kAuxb | kTimeout), kObf | kAuxb | kTimeout);
  EXPECT_TRUE(irq.levels[12]);
  EXPECT_EQ(data(), 0xfe);
  EXPECT_EQ(status() & (kObf | kTimeout), 0);
}

TEST_F(I8042Test, AuxWriteReenablesAuxInterface) {
  command(0xd4);
  send(0xff);
  EXPECT_EQ(kbc.command_byte() & 0x20, 0);
  EXPECT_EQ(drain(), std::vector<uint8_t>{0xfe});
  EXPECT_FALSE(irq.levels[12]) << "AUXINT is off in the boot command byte";
}

TEST_F(I8042Test, EmptyBufferReadsLastByteAndOtherOffsetsAllOnes) {
  send(0xee);
  EXPECT_EQ(data(), 0xee);
  EXPECT_EQ(data(), 0xee);
  EXPECT_EQ(kbc.read(1, 1), 0xffu);
  kbc.write(2, 1, 0xfe);
  EXPECT_TRUE(machine.resets.empty());
  // The combined view at 0x60 matches the facades.
  kbc.write(I8042::kCommandOffset, 1, 0xaa);
  EXPECT_EQ(kbc.read(I8042::kDataOffset, 1), 0x55u);
}

TEST_F(I8042Test, UnknownControllerCommandIsIgnored) {
  command(0xc5);
  send(0xf4);  // the next data byte still goes to the keyboard
  EXPECT_EQ(drain(), std::vector<uint8_t>{0xfa});
}

TEST_F(I8042Test, NewCommandCancelsPendingDataTarget) {
  command(0xd1);
  command(0xaa);
  send(0xfe);  // goes to the keyboard (resend), not the output port
  EXPECT_TRUE(machine.resets.empty());
  EXPECT_EQ(drain(), (std::vector<uint8_t>{0x55, 0x00}));
}

TEST_F(I8042Test, QueueIsBounded) {
  for (int i = 0; i < 40; ++i) send(0xee);
  EXPECT_EQ(drain().size(), 17u);  // 16 in the keyboard plus the output buffer
}

}  // namespace
}  // namespace tv::dev
