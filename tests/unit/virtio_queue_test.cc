// The split virtqueue against a driver that writes the rings by hand: well
// formed chains, the notification rules, and every malformed case ending
// in a broken queue (the transport's DEVICE_NEEDS_RESET).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "devices/virtio/virtqueue.h"
#include "dma_fakes.h"

namespace tv::dev {
namespace {

// Guest RAM: `size` bytes at 0. Optionally a pretend region up to
// `pretend_end`, whose host pointer is a scratch page: the queue never
// touches data buffers, so chains of absurd total length can be built.
class FakeDma : public VectorDma {
 public:
  using VectorDma::VectorDma;
  uint8_t* host(uint64_t addr, uint64_t len) override {
    if (uint8_t* p = VectorDma::host(addr, len)) return p;
    if (addr >= ram.size() && addr + len >= addr && addr + len <= pretend_end) return scratch;
    return nullptr;
  }

  uint64_t pretend_end = 0;
  uint8_t scratch[16] = {};
};

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;

class VirtioQueueTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 8;

  VirtioQueueTest() {
    queue.set_error_handler([this](const std::string& why) { errors.push_back(why); });
    queue.desc_addr = kDesc;
    queue.driver_addr = kAvail;
    queue.device_addr = kUsed;
  }

  template <typename T>
  void poke(uint64_t addr, T value) {
    dma.poke(addr, value);
  }
  template <typename T>
  T peek(uint64_t addr) {
    return dma.template peek<T>(addr);
  }

  // Descriptor `i` of the table at `table`.
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags = 0, uint16_t next = 0,
            uint64_t table = kDesc) {
    uint64_t at = table + 16ull * i;
    poke(at, addr);
    poke(at + 8, len);
    poke(at + 12, flags);
    poke(at + 14, next);
  }
  void offer(uint16_t head) {
    poke<uint16_t>(kAvail + 4 + 2 * (avail_idx % kSize), head);
    poke<uint16_t>(kAvail + 2, ++avail_idx);
  }
  void start(bool indirect = false, bool event_idx = false) {
    ASSERT_TRUE(queue.enable({indirect, event_idx}));
  }
  uint16_t used_idx() { return peek<uint16_t>(kUsed + 2); }
  std::pair<uint32_t, uint32_t> used(uint16_t slot) {
    return {peek<uint32_t>(kUsed + 4 + 8 * slot), peek<uint32_t>(kUsed + 8 + 8 * slot)};
  }
  // A chain that must be refused: nothing popped, the queue broken, one
  // error whose text names `what`.
  void expect_broken(const std::string& what) {
    EXPECT_FALSE(queue.pop());
    EXPECT_TRUE(queue.broken());
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find(what), std::string::npos) << errors[0];
    EXPECT_FALSE(queue.pop());  // stays broken, no second report
    EXPECT_EQ(errors.size(), 1u);
  }

  FakeDma dma{0x10000};
  Virtqueue queue{dma, kSize};
  std::vector<std::string> errors;
  uint16_t avail_idx = 0;
};

TEST_F(VirtioQueueTest, ChainOfReadableThenWritableSegments) {
  start();
  desc(3, 0x5000, 16, virtq::kDescNext, 5);
  desc(5, 0x6000, 512, virtq::kDescNext | virtq::kDescWrite, 1);
  desc(1, 0x7000, 1, virtq::kDescWrite);
  offer(3);
  auto chain = queue.pop();
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->head, 3);
  ASSERT_EQ(chain->segments.size(), 3u);
  EXPECT_EQ(chain->segments[0].addr, 0x5000u);
  EXPECT_EQ(chain->segments[0].host, dma.ram.data() + 0x5000);
  EXPECT_FALSE(chain->segments[0].writable);
  EXPECT_EQ(chain->segments[1].len, 512u);
  EXPECT_TRUE(chain->segments[1].writable);
  EXPECT_EQ(chain->segments[2].addr, 0x7000u);
  EXPECT_EQ(chain->readable, 16u);
  EXPECT_EQ(chain->writable, 513u);
  EXPECT_EQ(queue.outstanding(), 1u);
  EXPECT_FALSE(queue.pop());

  queue.push(3, 513);
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(used(0), std::make_pair(3u, 513u));
  EXPECT_EQ(queue.outstanding(), 0u);
  // The used element and used->idx were reported as DMA writes.
  ASSERT_EQ(dma.writes.size(), 2u);
  EXPECT_EQ(dma.writes[0], std::make_pair(kUsed + 4, uint64_t(8)));
  EXPECT_EQ(dma.writes[1], std::make_pair(kUsed + 2, uint64_t(2)));
  queue.push(3, 1);  // not outstanding any more: dropped
  EXPECT_EQ(used_idx(), 1);
  EXPECT_TRUE(errors.empty());
}

TEST_F(VirtioQueueTest, ZeroLengthDescriptorsAreSkipped) {
  start();
  desc(0, 0x5000, 0, virtq::kDescNext, 1);
  desc(1, 0x6000, 8, virtq::kDescNext | virtq::kDescWrite, 2);
  desc(2, 0xFFFFFFFF0000, 0, virtq::kDescWrite);  // nowhere, but empty
  offer(0);
  auto chain = queue.pop();
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->segments.size(), 1u);
  EXPECT_EQ(chain->segments[0].addr, 0x6000u);
  EXPECT_EQ(chain->writable, 8u);
}

TEST_F(VirtioQueueTest, ChainOfExactlyQueueSizeIsAccepted) {
  start();
  for (uint16_t i = 0; i < kSize; ++i)
    desc(i, 0x5000 + 0x100 * i, 0x100, i + 1 < kSize ? virtq::kDescNext : 0, i + 1);
  offer(0);
  auto chain = queue.pop();
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->segments.size(), kSize);
  EXPECT_EQ(chain->readable, 0x800u);
}

TEST_F(VirtioQueueTest, IndirectTableAfterDirectDescriptors) {
  start(/*indirect=*/true);
  constexpr uint64_t kTable = 0x8000;
  desc(0, 0x5000, 16, virtq::kDescNext, 2);
  desc(2, kTable, 3 * 16, virtq::kDescIndirect | virtq::kDescWrite);  // WRITE ignored
  desc(0, 0x6000, 32, virtq::kDescNext, 2, kTable);
  desc(2, 0x6100, 64, virtq::kDescNext | virtq::kDescWrite, 1, kTable);
  desc(1, 0x6200, 1, virtq::kDescWrite, 0, kTable);
  offer(0);
  auto chain = queue.pop();
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->segments.size(), 4u);
  EXPECT_EQ(chain->segments[1].addr, 0x6000u);
  EXPECT_FALSE(chain->segments[1].writable);
  EXPECT_EQ(chain->segments[2].addr, 0x6100u);
  EXPECT_EQ(chain->segments[3].addr, 0x6200u);
  EXPECT_EQ(chain->readable, 48u);
  EXPECT_EQ(chain->writable, 65u);
}

// --- Malformed chains ----------------------------------------------------------

TEST_F(VirtioQueueTest, LoopingChain) {
  start();
  desc(0, 0x5000, 16, virtq::kDescNext, 1);
  desc(1, 0x5100, 16, virtq::kDescNext, 0);
  offer(0);
  expect_broken("longer than the queue");
}

TEST_F(VirtioQueueTest, NextOutOfRange) {
  start();
  desc(0, 0x5000, 16, virtq::kDescNext, kSize);
  offer(0);
  expect_broken("chains to 8 of 8");
}

TEST_F(VirtioQueueTest, HeadOutOfRange) {
  start();
  offer(kSize + 3);
  expect_broken("names descriptor 11");
}

TEST_F(VirtioQueueTest, AvailableIndexTooFarAhead) {
  start();
  poke<uint16_t>(kAvail + 2, kSize + 1);
  expect_broken("9 entries ahead");
}

TEST_F(VirtioQueueTest, HeadOfferedAgainWhileOutstanding) {
  start();
  desc(0, 0x5000, 16);
  offer(0);
  ASSERT_TRUE(queue.pop());
  offer(0);
  expect_broken("made available again");
}

TEST_F(VirtioQueueTest, ReadableAfterWritable) {
  start();
  desc(0, 0x5000, 16, virtq::kDescNext | virtq::kDescWrite, 1);
  desc(1, 0x5100, 16);
  offer(0);
  expect_broken("device-readable descriptor after a device-writable");
}

TEST_F(VirtioQueueTest, ReadableAfterWritableAcrossIndirectTable) {
  start(true);
  desc(0, 0x5000, 16, virtq::kDescNext | virtq::kDescWrite, 1);
  desc(1, 0x8000, 16, virtq::kDescIndirect);
  desc(0, 0x6000, 16, 0, 0, 0x8000);
  offer(0);
  expect_broken("device-readable descriptor after a device-writable");
}

TEST_F(VirtioQueueTest, BufferOutsideRam) {
  start();
  desc(0, 0xFFF0, 0x20);  // runs off the end of RAM
  offer(0);
  expect_broken("0xfff0+0x20 is not in RAM");
}

TEST_F(VirtioQueueTest, BufferWrappingTheAddressSpace) {
  start();
  desc(0, ~0ull - 0xFF, 0x200);
  offer(0);
  expect_broken("wraps");
}

TEST_F(VirtioQueueTest, ChainOver4GiB) {
  dma.pretend_end = 1ull << 36;
  start();
  desc(0, 1ull << 32, 0xFFFFFFFF, virtq::kDescNext, 1);
  desc(1, 2ull << 32, 0xFFFFFFFF, virtq::kDescNext, 2);
  desc(2, 3ull << 32, 2);
  offer(0);
  expect_broken("over 4 GiB");
}

TEST_F(VirtioQueueTest, IndirectWithoutTheFeature) {
  start(/*indirect=*/false);
  desc(0, 0x8000, 16, virtq::kDescIndirect);
  offer(0);
  expect_broken("without VIRTIO_F_INDIRECT_DESC");
}

TEST_F(VirtioQueueTest, IndirectWithNext) {
  start(true);
  desc(0, 0x8000, 16, virtq::kDescIndirect | virtq::kDescNext, 1);
  offer(0);
  expect_broken("indirect descriptor with NEXT");
}

TEST_F(VirtioQueueTest, IndirectTableLengthNotAMultipleOf16) {
  start(true);
  desc(0, 0x8000, 24, virtq::kDescIndirect);
  offer(0);
  expect_broken("indirect table of 24 bytes");
}

TEST_F(VirtioQueueTest, IndirectTableEmpty) {
  start(true);
  desc(0, 0x8000, 0, virtq::kDescIndirect);
  offer(0);
  expect_broken("indirect table of 0 bytes");
}

TEST_F(VirtioQueueTest, IndirectTableLargerThanTheQueue) {
  start(true);
  desc(0, 0x8000, 16 * (kSize + 1), virtq::kDescIndirect);
  offer(0);
  expect_broken("indirect table of 144 bytes");
}

TEST_F(VirtioQueueTest, IndirectTableOutsideRam) {
  start(true);
  desc(0, 0xFFF0, 32, virtq::kDescIndirect);
  offer(0);
  expect_broken("indirect table 0xfff0+32 is not in RAM");
}

TEST_F(VirtioQueueTest, NestedIndirect) {
  start(true);
  desc(0, 0x8000, 32, virtq::kDescIndirect);
  desc(0, 0x6000, 16, virtq::kDescNext, 1, 0x8000);
  desc(1, 0x9000, 16, virtq::kDescIndirect, 0, 0x8000);
  offer(0);
  expect_broken("inside an indirect table");
}

TEST_F(VirtioQueueTest, IndirectLoop) {
  start(true);
  desc(0, 0x8000, 3 * 16, virtq::kDescIndirect);
  desc(0, 0x6000, 16, virtq::kDescNext, 1, 0x8000);
  desc(1, 0x6100, 16, virtq::kDescNext, 0, 0x8000);
  offer(0);
  expect_broken("longer than its table (3)");
}

TEST_F(VirtioQueueTest, IndirectNextOutOfTable) {
  start(true);
  desc(0, 0x8000, 2 * 16, virtq::kDescIndirect);
  desc(0, 0x6000, 16, virtq::kDescNext, 2, 0x8000);
  offer(0);
  expect_broken("chains to 2 of 2");
}

TEST_F(VirtioQueueTest, BrokenQueueReturnsNothingAndUsesNothing) {
  start();
  desc(0, 0x5000, 16);
  offer(0);
  ASSERT_TRUE(queue.pop());
  offer(kSize);  // bad head
  EXPECT_FALSE(queue.pop());
  ASSERT_TRUE(queue.broken());
  queue.push(0, 0);
  EXPECT_EQ(used_idx(), 0);
  EXPECT_FALSE(queue.needs_notification());
}

// --- Set-up ---------------------------------------------------------------------

TEST_F(VirtioQueueTest, RingOutsideRamIsRefusedAtEnable) {
  queue.device_addr = 0x10000 - 8;  // the used ring (6 + 8 * 8 bytes) runs past RAM
  EXPECT_FALSE(queue.enable({}));
  EXPECT_FALSE(queue.enabled());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("not in RAM"), std::string::npos);
}

TEST_F(VirtioQueueTest, MisalignedRingIsRefusedAtEnable) {
  queue.desc_addr = kDesc + 8;
  EXPECT_FALSE(queue.enable({}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("misaligned"), std::string::npos);
}

TEST_F(VirtioQueueTest, SizeMustBeAPowerOfTwoUpToTheMaximum) {
  EXPECT_FALSE(queue.set_size(0));
  EXPECT_FALSE(queue.set_size(6));
  EXPECT_FALSE(queue.set_size(16));
  EXPECT_EQ(queue.size(), kSize);
  EXPECT_TRUE(queue.set_size(2));
  EXPECT_EQ(queue.size(), 2);
  start();
  desc(0, 0x5000, 16, virtq::kDescNext, 1);
  desc(1, 0x5100, 16, virtq::kDescNext, 0);
  offer(0);  // a loop of two on a queue of two
  EXPECT_FALSE(queue.pop());
  EXPECT_TRUE(queue.broken());

  queue.reset();
  EXPECT_EQ(queue.size(), kSize);
  EXPECT_FALSE(queue.enabled());
  EXPECT_FALSE(queue.broken());
  EXPECT_EQ(queue.desc_addr, 0u);
}

// --- Notifications ----------------------------------------------------------------

TEST_F(VirtioQueueTest, NoInterruptFlagWithoutEventIndex) {
  start();
  for (uint16_t i = 0; i < 3; ++i) {
    desc(i, 0x5000, 16);
    offer(i);
  }
  EXPECT_FALSE(queue.needs_notification());  // nothing used yet
  ASSERT_TRUE(queue.pop());
  queue.push(0, 0);
  EXPECT_TRUE(queue.needs_notification());
  EXPECT_FALSE(queue.needs_notification());  // nothing new since
  poke<uint16_t>(kAvail, virtq::kAvailNoInterrupt);
  ASSERT_TRUE(queue.pop());
  queue.push(1, 0);
  EXPECT_FALSE(queue.needs_notification());
  poke<uint16_t>(kAvail, 0);
  ASSERT_TRUE(queue.pop());
  queue.push(2, 0);
  EXPECT_TRUE(queue.needs_notification());
}

TEST_F(VirtioQueueTest, UsedEventSuppressesUntilCrossed) {
  start(false, /*event_idx=*/true);
  constexpr uint64_t kUsedEvent = kAvail + 4 + 2 * kSize;
  for (uint16_t i = 0; i < 6; ++i) {
    desc(i, 0x5000, 16);
    offer(i);
  }
  poke<uint16_t>(kAvail, virtq::kAvailNoInterrupt);  // ignored with event index
  poke<uint16_t>(kUsedEvent, 2);                     // "tell me when entry 2 is used"
  std::vector<bool> notified;
  for (uint16_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(queue.pop());
    queue.push(i, 0);
    notified.push_back(queue.needs_notification());
  }
  EXPECT_EQ(notified, (std::vector<bool>{false, false, true, false}));
  // A batch that steps over used_event notifies once.
  poke<uint16_t>(kUsedEvent, 4);
  ASSERT_TRUE(queue.pop());
  ASSERT_TRUE(queue.pop());
  queue.push(4, 0);
  queue.push(5, 0);
  EXPECT_TRUE(queue.needs_notification());
  EXPECT_EQ(used_idx(), 6);
}

TEST_F(VirtioQueueTest, AvailEventFollowsTheDevice) {
  start(false, true);
  constexpr uint64_t kAvailEvent = kUsed + 4 + 8 * kSize;
  poke<uint16_t>(kAvailEvent, 0x7777);
  EXPECT_FALSE(queue.pop());  // empty: asks for a notification on entry 0
  EXPECT_EQ(peek<uint16_t>(kAvailEvent), 0);
  desc(0, 0x5000, 16);
  desc(1, 0x5100, 16);
  offer(0);
  offer(1);
  ASSERT_TRUE(queue.pop());
  EXPECT_EQ(peek<uint16_t>(kAvailEvent), 1);
  ASSERT_TRUE(queue.pop());
  EXPECT_FALSE(queue.pop());
  EXPECT_EQ(peek<uint16_t>(kAvailEvent), 2);
  bool reported = false;
  for (auto& w : dma.writes) reported |= w == std::make_pair(kAvailEvent, uint64_t(2));
  EXPECT_TRUE(reported);
}

TEST_F(VirtioQueueTest, WithoutEventIndexTheEventFieldsAreNotTouched) {
  start();
  constexpr uint64_t kAvailEvent = kUsed + 4 + 8 * kSize;
  poke<uint16_t>(kAvailEvent, 0x7777);
  desc(0, 0x5000, 16);
  offer(0);
  ASSERT_TRUE(queue.pop());
  EXPECT_FALSE(queue.pop());
  EXPECT_EQ(peek<uint16_t>(kAvailEvent), 0x7777);
}

}  // namespace
}  // namespace tv::dev
