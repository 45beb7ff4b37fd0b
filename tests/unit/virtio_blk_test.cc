// virtio-blk against a driver that builds requests in fake guest RAM and a
// disk that holds requests until the test completes them, in any order.
#include "devices/virtio/virtio_blk.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dma_fakes.h"

namespace tv::dev {
namespace {

using namespace virtio_blk;

using FakeDma = VectorDma;

// A disk image in memory. Requests wait in `pending` until complete().
class FakeDisk : public BlockDevice {
 public:
  struct Pending {
    BlockOp op;
    uint64_t offset, length;
    std::vector<iovec> buffers;
    Done done;
  };

  explicit FakeDisk(uint64_t sectors, bool read_only = false, bool discard = false)
      : image(sectors * kSectorSize), read_only_(read_only), discard_(discard) {
    for (size_t i = 0; i < image.size(); ++i) image[i] = uint8_t(i * 7 + i / 512);
  }
  uint64_t size_bytes() const override { return image.size(); }
  bool read_only() const override { return read_only_; }
  std::string serial() const override { return "TV-DISK-0001"; }
  bool supports_discard() const override { return discard_; }
  void submit(BlockOp op, uint64_t offset, uint64_t length, std::span<const iovec> buffers,
              Done done) override {
    pending.push_back({op, offset, length, {buffers.begin(), buffers.end()}, std::move(done)});
  }

  // Does request `i` the way a host backend would (through its iovecs),
  // then completes it.
  void complete(size_t i, BlockStatus status = BlockStatus::kOk) {
    Pending p = std::move(pending.at(i));
    pending.erase(pending.begin() + long(i));
    if (status == BlockStatus::kOk) perform(p);
    p.done(status);
  }

  std::vector<uint8_t> image;
  std::vector<Pending> pending;

 private:
  void perform(const Pending& p) {
    uint64_t at = p.offset;
    for (const iovec& v : p.buffers) {
      if (p.op == BlockOp::kRead) std::memcpy(v.iov_base, image.data() + at, v.iov_len);
      if (p.op == BlockOp::kWrite) std::memcpy(image.data() + at, v.iov_base, v.iov_len);
      at += v.iov_len;
    }
    if (p.op == BlockOp::kDiscard || p.op == BlockOp::kWriteZeroes)
      std::memset(image.data() + p.offset, 0, p.length);
  }
  bool read_only_, discard_;
};

// The transport as the device sees it: one queue, and records of
// interrupts and errors.
class FakeContext : public VirtioContext {
 public:
  explicit FakeContext(FakeDma& dma) : dma_(dma), q(dma, kQueueSize) {}
  DmaSpace& dma() override { return dma_; }
  Virtqueue& queue(unsigned) override { return q; }
  uint64_t negotiated() const override { return features; }
  void notify_used(unsigned) override { interrupts += q.needs_notification(); }
  void config_changed() override {}
  void device_error(std::string_view what) override { errors.emplace_back(what); }
  bool needs_reset() const override { return !errors.empty(); }

  FakeDma& dma_;
  Virtqueue q;
  uint64_t features = virtio::kFVersion1;
  unsigned interrupts = 0;
  std::vector<std::string> errors;
};

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x4000;

class VirtioBlkTest : public ::testing::Test {
 protected:
  explicit VirtioBlkTest(std::shared_ptr<FakeDisk> d = std::make_shared<FakeDisk>(64))
      : disk(std::move(d)), blk(disk) {
    context.q.desc_addr = kDesc;
    context.q.driver_addr = kAvail;
    context.q.device_addr = kUsed;
    blk.attach(context);
  }
  void start(uint64_t features = virtio::kFVersion1) {
    context.features = features;
    ASSERT_TRUE(context.q.enable({true, bool(features & virtio::kFRingEventIdx)}));
  }

  template <typename T>
  void poke(uint64_t addr, T value) {
    dma.poke(addr, value);
  }
  template <typename T>
  T peek(uint64_t addr) {
    return dma.template peek<T>(addr);
  }
  uint8_t* at(uint64_t addr) { return dma.ram.data() + addr; }

  // A chain of (address, length, writable) buffers, made available.
  struct Buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
  };
  uint16_t offer(const std::vector<Buf>& bufs) {
    uint16_t head = next_desc_;
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t d = next_desc_++ % kQueueSize;
      uint64_t entry = kDesc + 16ull * d;
      uint16_t flags =
          (bufs[i].writable ? virtq::kDescWrite : 0) | (i + 1 < bufs.size() ? virtq::kDescNext : 0);
      poke(entry, bufs[i].addr);
      poke(entry + 8, bufs[i].len);
      poke(entry + 12, flags);
      poke<uint16_t>(entry + 14, next_desc_ % kQueueSize);
    }
    poke<uint16_t>(kAvail + 4 + 2 * (avail_idx_ % kQueueSize), head);
    poke<uint16_t>(kAvail + 2, ++avail_idx_);
    return head;
  }
  // A request: the header at `header`, data buffers, the status byte.
  uint16_t request(uint32_t type, uint64_t sector, uint64_t header, std::vector<Buf> data,
                   uint64_t status) {
    poke(header, type);
    poke<uint32_t>(header + 4, 0);
    poke(header + 8, sector);
    std::vector<Buf> bufs{{header, kHeaderSize, false}};
    bufs.insert(bufs.end(), data.begin(), data.end());
    bufs.push_back({status, 1, true});
    poke<uint8_t>(status, 0xAA);
    return offer(bufs);
  }
  uint16_t used_idx() { return peek<uint16_t>(kUsed + 2); }
  std::pair<uint32_t, uint32_t> used(uint16_t slot) {
    return {peek<uint32_t>(kUsed + 4 + 8 * slot), peek<uint32_t>(kUsed + 8 + 8 * slot)};
  }

  FakeDma dma{0x100000};
  FakeContext context{dma};
  std::shared_ptr<FakeDisk> disk;
  VirtioBlk blk;

 private:
  uint16_t next_desc_ = 0;
  uint16_t avail_idx_ = 0;
};

TEST_F(VirtioBlkTest, ConfigurationSpace) {
  EXPECT_EQ(blk.device_id(), 2);
  EXPECT_EQ(blk.features(), kFSizeMax | kFSegMax | kFBlkSize | kFFlush);
  uint8_t config[kConfigSize + 4];
  blk.read_config(0, config);
  auto field = [&](unsigned offset, unsigned size) {
    uint64_t v = 0;
    std::memcpy(&v, config + offset, size);
    return v;
  };
  EXPECT_EQ(field(0, 8), 64u);  // capacity in sectors
  EXPECT_EQ(field(8, 4), kSizeMax);
  EXPECT_EQ(field(12, 4), 254u);  // seg_max
  EXPECT_EQ(field(20, 4), 512u);  // blk_size
  EXPECT_EQ(field(36, 4), 0u);    // no discard offered
  EXPECT_EQ(field(kConfigSize, 4), 0u);
  blk.read_config(1, std::span<uint8_t>(config, 1));
  EXPECT_EQ(config[0], 0);  // capacity's second byte
}

TEST_F(VirtioBlkTest, ReadGoesToTheDiskStraightIntoGuestRam) {
  start();
  // 1 KiB from sector 2, into two buffers; the header is split too (the
  // device assumes no framing).
  poke<uint32_t>(0x10000, kTypeIn);
  poke<uint64_t>(0x10100, 2);
  uint16_t head = offer({{0x10000, 8, false},
                         {0x10100, 8, false},
                         {0x20000, 512, true},
                         {0x30000, 512, true},
                         {0x11000, 1, true}});
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 1u);
  const FakeDisk::Pending& p = disk->pending[0];
  EXPECT_EQ(p.op, BlockOp::kRead);
  EXPECT_EQ(p.offset, 1024u);
  EXPECT_EQ(p.length, 1024u);
  ASSERT_EQ(p.buffers.size(), 2u);
  EXPECT_EQ(p.buffers[0].iov_base, at(0x20000));  // no bounce buffer
  EXPECT_EQ(p.buffers[1].iov_base, at(0x30000));
  EXPECT_EQ(used_idx(), 0);
  EXPECT_EQ(blk.in_flight(), 1u);
  EXPECT_FALSE(blk.quiesced());

  disk->complete(0);
  EXPECT_EQ(std::memcmp(at(0x20000), disk->image.data() + 1024, 512), 0);
  EXPECT_EQ(std::memcmp(at(0x30000), disk->image.data() + 1536, 512), 0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(used_idx(), 1);
  EXPECT_EQ(used(0), std::make_pair(uint32_t(head), 1025u));
  EXPECT_EQ(context.interrupts, 1u);
  EXPECT_TRUE(dma.reported(0x20000, 512));
  EXPECT_TRUE(dma.reported(0x30000, 512));
  EXPECT_TRUE(dma.reported(0x11000, 1));
  EXPECT_TRUE(blk.quiesced());
}

TEST_F(VirtioBlkTest, WriteReachesTheImage) {
  start();
  for (unsigned i = 0; i < 512; ++i) dma.ram[0x20000 + i] = uint8_t(0xF0 ^ i);
  uint16_t head = request(kTypeOut, 63, 0x10000, {{0x20000, 512, false}}, 0x11000);
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 1u);
  EXPECT_EQ(disk->pending[0].op, BlockOp::kWrite);
  EXPECT_EQ(disk->pending[0].offset, 63u * 512);
  disk->complete(0);
  EXPECT_EQ(std::memcmp(disk->image.data() + 63 * 512, at(0x20000), 512), 0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(used(0), std::make_pair(uint32_t(head), 1u));
  EXPECT_FALSE(dma.reported(0x20000, 512));  // the device only read it
}

TEST_F(VirtioBlkTest, FlushCompletesWhenTheDiskSaysSo) {
  start();
  request(kTypeFlush, 0, 0x10000, {}, 0x11000);
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 1u);
  EXPECT_EQ(disk->pending[0].op, BlockOp::kFlush);
  EXPECT_EQ(disk->pending[0].length, 0u);
  EXPECT_TRUE(disk->pending[0].buffers.empty());
  EXPECT_EQ(peek<uint8_t>(0x11000), 0xAA);
  disk->complete(0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(used_idx(), 1);
}

TEST_F(VirtioBlkTest, GetIdIsAnsweredAtOnce) {
  start();
  std::memset(at(0x20000), 0xEE, 32);
  uint16_t head = request(kTypeGetId, 0, 0x10000, {{0x20000, kIdBytes, true}}, 0x11000);
  blk.queue_notified(0);
  EXPECT_TRUE(disk->pending.empty());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(at(0x20000))), "TV-DISK-0001");
  for (unsigned i = 12; i < kIdBytes; ++i) EXPECT_EQ(dma.ram[0x20000 + i], 0) << i;
  EXPECT_EQ(dma.ram[0x20000 + kIdBytes], 0xEE);  // past the buffer: untouched
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(used(0), std::make_pair(uint32_t(head), kIdBytes + 1));
  EXPECT_TRUE(dma.reported(0x20000, kIdBytes));
  EXPECT_EQ(context.interrupts, 1u);
}

TEST_F(VirtioBlkTest, RequestsCompleteOutOfOrder) {
  start();
  uint16_t a = request(kTypeIn, 0, 0x10000, {{0x20000, 512, true}}, 0x11000);
  uint16_t b = request(kTypeIn, 1, 0x10100, {{0x21000, 512, true}}, 0x11001);
  uint16_t c = request(kTypeOut, 2, 0x10200, {{0x22000, 512, false}}, 0x11002);
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 3u);
  EXPECT_EQ(blk.in_flight(), 3u);
  disk->complete(1);                         // b
  disk->complete(1, BlockStatus::kIoError);  // c
  EXPECT_EQ(used_idx(), 2);
  EXPECT_EQ(used(0).first, b);
  EXPECT_EQ(used(1).first, c);
  EXPECT_EQ(peek<uint8_t>(0x11000), 0xAA);  // a still out
  EXPECT_EQ(peek<uint8_t>(0x11001), kStatusOk);
  EXPECT_EQ(peek<uint8_t>(0x11002), kStatusIoErr);
  disk->complete(0);
  EXPECT_EQ(used(2).first, a);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(std::memcmp(at(0x21000), disk->image.data() + 512, 512), 0);
  EXPECT_EQ(context.interrupts, 3u);
  EXPECT_EQ(blk.in_flight(), 0u);
}

TEST_F(VirtioBlkTest, EventIndexSuppressesCompletionInterrupts) {
  start(virtio::kFVersion1 | virtio::kFRingEventIdx);
  poke<uint16_t>(kAvail + 4 + 2 * kQueueSize, 1);  // used_event: after the second
  request(kTypeFlush, 0, 0x10000, {}, 0x11000);
  request(kTypeFlush, 0, 0x10100, {}, 0x11001);
  blk.queue_notified(0);
  disk->complete(0);
  EXPECT_EQ(context.interrupts, 0u);
  disk->complete(0);
  EXPECT_EQ(context.interrupts, 1u);
  EXPECT_EQ(used_idx(), 2);
}

TEST_F(VirtioBlkTest, HostErrorsAndUnsupportedRequests) {
  start();
  request(kTypeIn, 0, 0x10000, {{0x20000, 512, true}}, 0x11000);
  request(10, 0, 0x10100, {{0x21000, 8, true}}, 0x11001);  // GET_LIFETIME
  request(77, 0, 0x10200, {}, 0x11002);
  request(kTypeDiscard, 0, 0x10300, {{0x22000, kSegmentSize, false}}, 0x11003);  // not offered
  blk.queue_notified(0);
  EXPECT_EQ(peek<uint8_t>(0x11001), kStatusUnsupp);
  EXPECT_EQ(peek<uint8_t>(0x11002), kStatusUnsupp);
  EXPECT_EQ(peek<uint8_t>(0x11003), kStatusUnsupp);
  EXPECT_EQ(context.interrupts, 1u);  // one for the three answered at once
  ASSERT_EQ(disk->pending.size(), 1u);
  disk->complete(0, BlockStatus::kOutOfRange);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusIoErr);
  EXPECT_TRUE(context.errors.empty());
}

TEST_F(VirtioBlkTest, DriverErrorsAreIoErrorsAndReachNoDisk) {
  start();
  request(kTypeIn, 64, 0x10000, {{0x20000, 512, true}}, 0x11000);          // just past the end
  request(kTypeIn, 63, 0x10100, {{0x20000, 1024, true}}, 0x11001);         // runs past the end
  request(kTypeIn, 1ull << 55, 0x10200, {{0x20000, 512, true}}, 0x11002);  // sector * 512 wraps
  request(kTypeOut, 0, 0x10300, {{0x20000, 100, false}}, 0x11003);         // not whole sectors
  poke<uint8_t>(0x11004, 0xAA);
  offer({{0x10400, 8, false}, {0x11004, 1, true}});  // header of 8 bytes
  blk.queue_notified(0);
  EXPECT_TRUE(disk->pending.empty());
  for (uint64_t status = 0x11000; status <= 0x11004; ++status)
    EXPECT_EQ(peek<uint8_t>(status), kStatusIoErr) << std::hex << status;
  EXPECT_EQ(used_idx(), 5);
  EXPECT_EQ(used(0).second, 1u);
  EXPECT_TRUE(context.errors.empty());  // answered, not fatal
}

TEST_F(VirtioBlkTest, LastSectorIsInRange) {
  start();
  request(kTypeIn, 63, 0x10000, {{0x20000, 512, true}}, 0x11000);
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 1u);
  EXPECT_EQ(disk->pending[0].offset, 63u * 512);
}

TEST_F(VirtioBlkTest, ChainWithoutStatusByteNeedsReset) {
  start();
  poke<uint32_t>(0x10000, kTypeIn);
  offer({{0x10000, 16, false}, {0x20000, 512, false}});
  request(kTypeFlush, 0, 0x10100, {}, 0x11000);
  blk.queue_notified(0);
  ASSERT_EQ(context.errors.size(), 1u);
  EXPECT_NE(context.errors[0].find("no status byte"), std::string::npos);
  EXPECT_TRUE(disk->pending.empty());  // nothing after the error is served
  EXPECT_EQ(used_idx(), 0);
}

TEST_F(VirtioBlkTest, ResetAbandonsRequestsInFlight) {
  start();
  request(kTypeIn, 0, 0x10000, {{0x20000, 512, true}}, 0x11000);
  blk.queue_notified(0);
  ASSERT_EQ(disk->pending.size(), 1u);
  // The driver resets the device and sets the queue up again.
  blk.reset();
  context.q.reset();
  context.q.desc_addr = kDesc;
  context.q.driver_addr = kAvail;
  context.q.device_addr = kUsed;
  ASSERT_TRUE(context.q.enable({}));
  EXPECT_FALSE(blk.quiesced());
  dma.writes.clear();
  disk->complete(0);
  EXPECT_TRUE(blk.quiesced());
  EXPECT_EQ(peek<uint8_t>(0x11000), 0xAA);  // no status, no used entry
  EXPECT_EQ(used_idx(), 0);
  EXPECT_EQ(context.interrupts, 0u);
  EXPECT_TRUE(dma.reported(0x20000, 512));  // but the disk did write RAM
}

TEST_F(VirtioBlkTest, CompletionAfterTheDeviceIsGoneIsDropped) {
  start();
  {
    VirtioBlk other(disk);
    other.attach(context);
    request(kTypeFlush, 0, 0x10000, {}, 0x11000);
    other.queue_notified(0);
    ASSERT_EQ(disk->pending.size(), 1u);
  }
  disk->complete(0);
  EXPECT_EQ(peek<uint8_t>(0x11000), 0xAA);
  EXPECT_EQ(used_idx(), 0);
}

// --- Read-only and discarding disks ---------------------------------------------

class VirtioBlkReadOnlyTest : public VirtioBlkTest {
 protected:
  VirtioBlkReadOnlyTest() : VirtioBlkTest(std::make_shared<FakeDisk>(64, /*read_only=*/true)) {}
};

TEST_F(VirtioBlkReadOnlyTest, WritesFailWithoutReachingTheDisk) {
  EXPECT_TRUE(blk.features() & kFRo);
  EXPECT_FALSE(blk.features() & kFDiscard);
  start();
  request(kTypeOut, 0, 0x10000, {{0x20000, 512, false}}, 0x11000);
  request(kTypeIn, 0, 0x10100, {{0x21000, 512, true}}, 0x11001);
  blk.queue_notified(0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusIoErr);
  ASSERT_EQ(disk->pending.size(), 1u);  // only the read
  EXPECT_EQ(disk->pending[0].op, BlockOp::kRead);
}

class VirtioBlkDiscardTest : public VirtioBlkTest {
 protected:
  VirtioBlkDiscardTest() : VirtioBlkTest(std::make_shared<FakeDisk>(64, false, true)) {}
  void segment(uint64_t addr, uint64_t sector, uint32_t count, uint32_t flags) {
    poke(addr, sector);
    poke(addr + 8, count);
    poke(addr + 12, flags);
  }
};

TEST_F(VirtioBlkDiscardTest, DiscardAndWriteZeroes) {
  EXPECT_TRUE(blk.features() & kFDiscard);
  EXPECT_TRUE(blk.features() & kFWriteZeroes);
  uint8_t config[kConfigSize];
  blk.read_config(0, config);
  uint32_t max_discard, max_seg;
  std::memcpy(&max_discard, config + 36, 4);
  std::memcpy(&max_seg, config + 40, 4);
  EXPECT_EQ(max_discard, kMaxDiscardSectors);
  EXPECT_EQ(max_seg, 1u);

  start(virtio::kFVersion1 | kFDiscard | kFWriteZeroes);
  segment(0x20000, 4, 8, 0);
  request(kTypeDiscard, 0, 0x10000, {{0x20000, kSegmentSize, false}}, 0x11000);
  segment(0x20100, 16, 2, kUnmap);
  request(kTypeWriteZeroes, 0, 0x10100, {{0x20100, kSegmentSize, false}}, 0x11001);
  segment(0x20200, 4, 8, kUnmap);  // unmap on a discard
  request(kTypeDiscard, 0, 0x10200, {{0x20200, kSegmentSize, false}}, 0x11002);
  segment(0x20300, 4, 8, 0x10);  // unknown flag
  request(kTypeWriteZeroes, 0, 0x10300, {{0x20300, kSegmentSize, false}}, 0x11003);
  request(kTypeDiscard, 0, 0x10400, {{0x20000, 2 * kSegmentSize, false}}, 0x11004);  // 2 segments
  segment(0x20500, 60, 8, 0);                                                        // past the end
  request(kTypeDiscard, 0, 0x10500, {{0x20500, kSegmentSize, false}}, 0x11005);
  blk.queue_notified(0);

  EXPECT_EQ(peek<uint8_t>(0x11002), kStatusUnsupp);
  EXPECT_EQ(peek<uint8_t>(0x11003), kStatusUnsupp);
  EXPECT_EQ(peek<uint8_t>(0x11004), kStatusIoErr);
  EXPECT_EQ(peek<uint8_t>(0x11005), kStatusIoErr);
  ASSERT_EQ(disk->pending.size(), 2u);
  EXPECT_EQ(disk->pending[0].op, BlockOp::kDiscard);
  EXPECT_EQ(disk->pending[0].offset, 4u * 512);
  EXPECT_EQ(disk->pending[0].length, 8u * 512);
  EXPECT_EQ(disk->pending[1].op, BlockOp::kWriteZeroes);
  EXPECT_EQ(disk->pending[1].offset, 16u * 512);
  disk->complete(1);
  disk->complete(0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusOk);
  EXPECT_EQ(peek<uint8_t>(0x11001), kStatusOk);
  EXPECT_EQ(disk->image[16 * 512], 0);
}

TEST_F(VirtioBlkDiscardTest, DiscardNotNegotiatedIsUnsupported) {
  start();
  segment(0x20000, 4, 8, 0);
  request(kTypeDiscard, 0, 0x10000, {{0x20000, kSegmentSize, false}}, 0x11000);
  blk.queue_notified(0);
  EXPECT_EQ(peek<uint8_t>(0x11000), kStatusUnsupp);
  EXPECT_TRUE(disk->pending.empty());
}

}  // namespace
}  // namespace tv::dev
