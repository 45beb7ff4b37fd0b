#include "devices/system_ports.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "device_fakes.h"

namespace tv::dev {
namespace {

TEST(ResetPort92, StartsWithA20Enabled) {
  FakeMachine machine;
  ResetPort92 port(machine);
  EXPECT_EQ(port.read(0, 1), 0x02u);
  EXPECT_TRUE(port.a20_enabled());
}

TEST(ResetPort92, A20GateIsStoredAndReadBack) {
  FakeMachine machine;
  ResetPort92 port(machine);
  port.write(0, 1, 0x00);
  EXPECT_FALSE(port.a20_enabled());
  EXPECT_EQ(port.read(0, 1), 0x00u);
  port.write(0, 1, 0xc2);  // disk light bits are kept too
  EXPECT_TRUE(port.a20_enabled());
  EXPECT_EQ(port.read(0, 1), 0xc2u);
  EXPECT_TRUE(machine.resets.empty());
}

TEST(ResetPort92, Bit0ResetsAndReadsBackClear) {
  FakeMachine machine;
  ResetPort92 port(machine);
  port.write(0, 1, 0x03);
  ASSERT_EQ(machine.resets.size(), 1u);
  EXPECT_EQ(machine.resets[0], "port 0x92 fast reset");
  EXPECT_EQ(port.read(0, 1), 0x02u);
  // Linux's enable_a20_fast(): read, set bit 1, clear bit 0, write.
  port.write(0, 1, (port.read(0, 1) | 0x02) & ~uint64_t{1});
  EXPECT_EQ(machine.resets.size(), 1u);
  port.write(0, 1, 0x01);  // every write with bit 0 set pulses reset
  EXPECT_EQ(machine.resets.size(), 2u);
}

TEST(PostPort80, RemembersLastByte) {
  PostPort80 port;
  EXPECT_EQ(port.last(), 0);
  port.write(0, 1, 0x55);
  port.write(0, 1, 0xaa);
  EXPECT_EQ(port.last(), 0xaa);
  EXPECT_EQ(port.read(0, 1), 0xaau);
  port.write(0, 2, 0x1234);  // only the port's byte is kept
  EXPECT_EQ(port.last(), 0x34);
}

}  // namespace
}  // namespace tv::dev
