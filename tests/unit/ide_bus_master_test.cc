#include <gtest/gtest.h>

#include <vector>

#include "devices/ide/bus_master.h"
#include "dma_fakes.h"

namespace tv::dev {
namespace {

constexpr uint32_t kEot = 0x80000000;

class IdeBusMasterTest : public ::testing::Test {
 protected:
  void set_table(uint32_t addr) {
    for (unsigned i = 0; i < 4; ++i) bm.write(4 + i, uint8_t(addr >> (8 * i)));
  }
  void put_entry(uint64_t at, uint32_t base, uint32_t count_and_flags) {
    for (unsigned i = 0; i < 4; ++i) {
      dma.ram[at + i] = uint8_t(base >> (8 * i));
      dma.ram[at + 4 + i] = uint8_t(count_and_flags >> (8 * i));
    }
  }
  uint8_t* at(uint64_t addr) { return dma.ram.data() + addr; }

  VectorDma dma{1 << 20};
  BusMaster bm;
};

TEST_F(IdeBusMasterTest, StartStopAndWriteOneToClear) {
  EXPECT_FALSE(bm.write(0, 0x08));  // direction only
  EXPECT_EQ(bm.read(0), 0x08);
  EXPECT_TRUE(bm.write(0, 0x09));  // start
  EXPECT_TRUE(bm.active());
  EXPECT_EQ(bm.read(2), BusMaster::kStatusActive);
  EXPECT_FALSE(bm.write(0, 0x09));  // already started
  bm.interrupt();
  bm.fail();
  EXPECT_EQ(bm.read(2), BusMaster::kStatusError | BusMaster::kStatusInterrupt);
  bm.write(2, 0x60 | BusMaster::kStatusInterrupt);  // clear interrupt, set both "DMA capable"
  EXPECT_EQ(bm.read(2), 0x60 | BusMaster::kStatusError);
  // The error stopped the engine although the start bit is still set;
  // writing Active does not restart it (read-only).
  bm.write(2, BusMaster::kStatusError | BusMaster::kStatusActive);
  EXPECT_EQ(bm.read(2), 0x00);
  EXPECT_FALSE(bm.write(0, 0x09));
  bm.write(0, 0x08);  // stop
  EXPECT_TRUE(bm.write(0, 0x09));
  EXPECT_EQ(bm.read(2), BusMaster::kStatusActive);
  bm.write(0, 0x08);
  EXPECT_FALSE(bm.active());
  bm.write(0, 0xFF);  // reserved bits stay 0
  EXPECT_EQ(bm.read(0), 0x09);
  EXPECT_EQ(bm.read(1), 0x00);
  EXPECT_EQ(bm.read(3), 0x00);
}

TEST_F(IdeBusMasterTest, TablePointerIsDwordAligned) {
  set_table(0x12345677);
  EXPECT_EQ(bm.read(4), 0x74);
  EXPECT_EQ(bm.read(5), 0x56);
  EXPECT_EQ(bm.read(6), 0x34);
  EXPECT_EQ(bm.read(7), 0x12);
}

TEST_F(IdeBusMasterTest, TwoEntriesEndingExactlyAtEot) {
  set_table(0x1000);
  put_entry(0x1000, 0x2000, 512);
  put_entry(0x1008, 0x8001, 1024 | 1 | kEot);  // bit 0 of address and count is ignored
  DmaPlan plan = bm.map(dma, 1536);
  ASSERT_EQ(plan.result, DmaPlan::Result::kOk);
  ASSERT_EQ(plan.buffers.size(), 2u);
  EXPECT_EQ(plan.buffers[0].iov_base, at(0x2000));
  EXPECT_EQ(plan.buffers[0].iov_len, 512u);
  EXPECT_EQ(plan.buffers[1].iov_base, at(0x8000));
  EXPECT_EQ(plan.buffers[1].iov_len, 1024u);
  EXPECT_EQ(plan.regions[1].addr, 0x8000u);
  EXPECT_TRUE(plan.table_done);
}

TEST_F(IdeBusMasterTest, TransferShorterThanTheTableLeavesItRunning) {
  set_table(0x1000);
  put_entry(0x1000, 0x2000, 512);
  put_entry(0x1008, 0x8000, 1024 | kEot);
  DmaPlan plan = bm.map(dma, 1024);
  ASSERT_EQ(plan.result, DmaPlan::Result::kOk);
  ASSERT_EQ(plan.buffers.size(), 2u);
  EXPECT_EQ(plan.buffers[1].iov_len, 512u);  // clipped
  EXPECT_FALSE(plan.table_done);
}

TEST_F(IdeBusMasterTest, CountZeroIs64KiB) {
  set_table(0x1000);
  put_entry(0x1000, 0x10000, 0 | kEot);
  DmaPlan plan = bm.map(dma, 0x10000);
  ASSERT_EQ(plan.result, DmaPlan::Result::kOk);
  ASSERT_EQ(plan.buffers.size(), 1u);
  EXPECT_EQ(plan.buffers[0].iov_len, 0x10000u);
  EXPECT_TRUE(plan.table_done);
}

TEST_F(IdeBusMasterTest, ShortTableIsAnError) {
  set_table(0x1000);
  put_entry(0x1000, 0x2000, 512 | kEot);
  EXPECT_EQ(bm.map(dma, 1024).result, DmaPlan::Result::kShortTable);
}

TEST_F(IdeBusMasterTest, TableWithoutEotStopsAt8192Entries) {
  set_table(0x10000);
  for (unsigned i = 0; i < BusMaster::kMaxEntries + 1; ++i) put_entry(0x10000 + 8 * i, 0x2000, 2);
  DmaPlan plan = bm.map(dma, 2 * (BusMaster::kMaxEntries + 1));
  EXPECT_EQ(plan.result, DmaPlan::Result::kShortTable);
  EXPECT_EQ(plan.buffers.size(), BusMaster::kMaxEntries);
}

TEST_F(IdeBusMasterTest, TableOrRegionOutsideRam) {
  set_table(0xFFFFFFF8);  // the last entry slot of the 4 GiB space
  EXPECT_EQ(bm.map(dma, 512).result, DmaPlan::Result::kTableOutsideRam);
  set_table(uint32_t(dma.ram.size() - 4));  // the entry straddles the end of RAM
  EXPECT_EQ(bm.map(dma, 512).result, DmaPlan::Result::kTableOutsideRam);
  set_table(0x1000);
  put_entry(0x1000, uint32_t(dma.ram.size() - 256), 512 | kEot);  // region runs past RAM
  EXPECT_EQ(bm.map(dma, 512).result, DmaPlan::Result::kRegionOutsideRam);
  put_entry(0x1000, 0xFEC00000, 512 | kEot);  // MMIO
  DmaPlan plan = bm.map(dma, 512);
  EXPECT_EQ(plan.result, DmaPlan::Result::kRegionOutsideRam);
  EXPECT_TRUE(plan.buffers.empty());
}

}  // namespace
}  // namespace tv::dev
