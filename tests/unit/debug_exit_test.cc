#include "devices/debug_exit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "device_fakes.h"

namespace tv::dev {
namespace {

TEST(DebugExit, ByteWritesMapToOddStatuses) {
  FakeMachine machine;
  DebugExit dev(machine);
  dev.write(0, 1, 0);
  dev.write(0, 1, 1);
  dev.write(0, 1, 0x31);
  EXPECT_EQ(machine.exits, (std::vector<int>{1, 3, 0x63}));
  EXPECT_TRUE(machine.resets.empty());
}

TEST(DebugExit, WideWritesUseTheWholeAccess) {
  FakeMachine machine;
  DebugExit dev(machine);
  dev.write(0, 2, 0x1234);
  dev.write(0, 4, 0x12345678);
  // exit() takes an int: bit 31 of the value is shifted out.
  dev.write(0, 4, 0x80000001);
  EXPECT_EQ(machine.exits, (std::vector<int>{0x2469, 0x2468acf1, 3}));
}

TEST(DebugExit, ValueIsMaskedToAccessWidthAtAnyOffset) {
  FakeMachine machine;
  DebugExit dev(machine);
  dev.write(3, 1, 0xff01);
  dev.write(2, 2, 0xabcd0002);
  EXPECT_EQ(machine.exits, (std::vector<int>{3, 5}));
}

TEST(DebugExit, ReadsReturnZeroLikeQemu) {
  FakeMachine machine;
  DebugExit dev(machine);
  EXPECT_EQ(dev.read(0, 1), 0u);
  EXPECT_EQ(dev.read(0, 4), 0u);
  EXPECT_TRUE(machine.exits.empty());
}

}  // namespace
}  // namespace tv::dev
