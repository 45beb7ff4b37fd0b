#include "devices/bus.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"

namespace tv::dev {
namespace {

class Recorder : public IoDevice {
 public:
  std::string_view name() const override { return "recorder"; }
  uint64_t read(uint64_t offset, unsigned size) override {
    reads.push_back({offset, size});
    return 0x1234;
  }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    writes.push_back({offset, size, value});
  }
  struct Access {
    uint64_t offset;
    unsigned size;
    uint64_t value = 0;
  };
  std::vector<Access> reads, writes;
};

TEST(Bus, RoutesOffsetsIntoTheDeviceRange) {
  Bus bus(BusKind::kPio);
  auto dev = std::make_shared<Recorder>();
  bus.insert(0x3f8, 8, dev);
  EXPECT_EQ(bus.read(0x3fd, 1), 0x1234u);
  bus.write(0x3ff, 1, 0xab);
  ASSERT_EQ(dev->reads.size(), 1u);
  EXPECT_EQ(dev->reads[0].offset, 5u);
  ASSERT_EQ(dev->writes.size(), 1u);
  EXPECT_EQ(dev->writes[0].offset, 7u);
  EXPECT_EQ(dev->writes[0].value, 0xabu);
  EXPECT_EQ(bus.access_counts().at("recorder"), 2u);
}

TEST(Bus, UnknownReadsAllOnesAndDropsWrites) {
  Bus bus(BusKind::kPio);
  auto dev = std::make_shared<Recorder>();
  bus.insert(0x60, 1, dev);
  EXPECT_EQ(bus.read(0x61, 1), 0xffu);
  EXPECT_EQ(bus.read(0x5f, 2), 0xffffu);
  EXPECT_EQ(bus.read(0x100, 4), 0xffffffffu);
  EXPECT_EQ(bus.read(0x100, 8), ~0ull);
  bus.write(0x61, 1, 0);
  EXPECT_TRUE(dev->writes.empty());
  EXPECT_FALSE(bus.claimed(0x61));
  EXPECT_TRUE(bus.claimed(0x60));
}

TEST(Bus, RejectsEmptyOverflowingAndOverlappingRanges) {
  Bus bus(BusKind::kMmio);
  auto dev = std::make_shared<Recorder>();
  EXPECT_THROW(bus.insert(0x1000, 0, dev), Error);
  EXPECT_THROW(bus.insert(~0ull - 1, 4, dev), Error);
  bus.insert(0x1000, 0x100, dev);
  EXPECT_THROW(bus.insert(0x10ff, 1, dev), Error);      // tail overlap
  EXPECT_THROW(bus.insert(0xf00, 0x101, dev), Error);   // head overlap
  EXPECT_THROW(bus.insert(0x800, 0x1000, dev), Error);  // covers
  bus.insert(0x1100, 1, dev);                           // adjacent is fine
  bus.insert(0xfff, 1, dev);
}

}  // namespace
}  // namespace tv::dev
