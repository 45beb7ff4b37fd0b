#include "vmm/disk_image.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "base/error.h"

namespace tv {
namespace {

using dev::BlockOp;
using dev::BlockStatus;

uint8_t pattern(uint64_t i) { return uint8_t(i * 31 + (i >> 9) + 7); }

// A temporary directory, an image in it, and a completion queue the test
// thread drains as the machine's vCPU thread would.
class DiskImageTest : public ::testing::Test {
 protected:
  DiskImageTest() : queue_([this] { wake(); }) {
    char tmpl[] = "/tmp/tv_disk_test_XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~DiskImageTest() override { std::filesystem::remove_all(dir_); }

  std::string image(const std::string& name, uint64_t size) {
    std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    for (uint64_t i = 0; i < size; ++i) out.put(char(pattern(i)));
    return path;
  }
  DiskConfig config(const std::string& path, DiskCache cache = DiskCache::kWriteback,
                    bool read_only = false) {
    return DiskConfig{path, DiskInterface::kVirtio, read_only, cache};
  }
  std::vector<uint8_t> file_bytes(const std::string& path, uint64_t offset, size_t length) {
    std::vector<uint8_t> out(length);
    int fd = open(path.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, out.data(), length, off_t(offset)), ssize_t(length));
    close(fd);
    return out;
  }

  // Submits one request and runs completions until it is done.
  BlockStatus run(DiskImage& disk, BlockOp op, uint64_t offset, uint64_t length,
                  std::vector<iovec> buffers = {}) {
    std::optional<BlockStatus> result;
    disk.submit(op, offset, length, buffers, [&](BlockStatus s) { result = s; });
    EXPECT_FALSE(result) << "completed inside submit()";
    EXPECT_TRUE(drain_until([&] { return result.has_value(); }));
    return result.value_or(BlockStatus::kIoError);
  }

  // The machine's loop in miniature: sleep until woken, drain.
  template <typename Pred>
  bool drain_until(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return woken_; });
      woken_ = false;
      lock.unlock();
      queue_.drain();
    }
    return true;
  }

  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
      ++wakes_;
    }
    cv_.notify_one();
  }

  std::string dir_;
  CompletionQueue queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  int wakes_ = 0;
};

void expect_open_error(const DiskConfig& config, CompletionQueue& queue, const std::string& text) {
  try {
    DiskImage disk(config, queue);
    ADD_FAILURE() << "opened " << config.path;
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_NE(message.find(config.path), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(DiskImageTest, OpenErrorsAreOneLineNamingTheFile) {
  expect_open_error(config(dir_ + "/missing.img"), queue_, "No such file");
  expect_open_error(config(dir_), queue_, "is a directory");
  expect_open_error(config(dir_, DiskCache::kWriteback, true), queue_, "is a directory");
  expect_open_error(config(image("empty.img", 0)), queue_, "empty");
  expect_open_error(config(image("odd.img", 1000)), queue_, "not a multiple of 512");
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_open_error(config(fifo), queue_, "not a regular file");
}

TEST_F(DiskImageTest, Properties) {
  std::string path = image("my disk\x01.img", 64 << 10);
  DiskImage disk(config(path), queue_);
  EXPECT_EQ(disk.size_bytes(), 64u << 10);
  EXPECT_FALSE(disk.read_only());
  EXPECT_EQ(disk.serial(), "my_disk_.img");
  EXPECT_TRUE(disk.supports_discard());  // /tmp is ext4 or tmpfs here; both punch holes
  DiskImage ro(config(image("ro.img", 4096), DiskCache::kWriteback, true), queue_);
  EXPECT_TRUE(ro.read_only());
  EXPECT_FALSE(ro.supports_discard());
}

TEST(DiskSerial, LastComponentPrintableLast20) {
  EXPECT_EQ(disk_serial("/a/b/disk.img"), "disk.img");
  EXPECT_EQ(disk_serial("disk.img"), "disk.img");
  EXPECT_EQ(disk_serial("/vm/a-very-long-image-name-number-2.img"), "ge-name-number-2.img");
  EXPECT_EQ(disk_serial("/vm/a-very-long-image-name-number-2.img").size(), 20u);
  EXPECT_EQ(disk_serial("caf\xc3\xa9 1.img"), "caf___1.img");
}

TEST_F(DiskImageTest, SecondWriterOrReaderIsLockedOut) {
  std::string path = image("shared.img", 4096);
  const DiskConfig rw = config(path), ro = config(path, DiskCache::kWriteback, true);
  {
    DiskImage writer(rw, queue_);
    expect_open_error(rw, queue_, "locked by another process");
    expect_open_error(ro, queue_, "locked by another process");
  }
  {
    DiskImage reader(ro, queue_);
    DiskImage reader2(ro, queue_);  // readers share
    expect_open_error(rw, queue_, "locked by another process");
  }
  DiskImage writer(rw, queue_);  // closing released every lock
}

TEST_F(DiskImageTest, ReadsAndWritesScatterGather) {
  std::string path = image("rw.img", 1 << 20);
  DiskImage disk(config(path), queue_);
  std::vector<uint8_t> a(1000), b(24), c(3072);
  std::vector<iovec> iov = {
      {a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), c.size()}};
  ASSERT_EQ(run(disk, BlockOp::kRead, 8192, 4096, iov), BlockStatus::kOk);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], pattern(8192 + i));
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b[i], pattern(8192 + 1000 + i));
  for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i], pattern(8192 + 1024 + i));

  std::fill(a.begin(), a.end(), 0xAA);
  std::fill(b.begin(), b.end(), 0xBB);
  std::fill(c.begin(), c.end(), 0xCC);
  ASSERT_EQ(run(disk, BlockOp::kWrite, 512, 4096, iov), BlockStatus::kOk);
  auto on_disk = file_bytes(path, 0, 8192);
  for (size_t i = 0; i < 8192; ++i) {
    uint8_t want = i < 512 || i >= 4608 ? pattern(i) : i < 1512 ? 0xAA : i < 1536 ? 0xBB : 0xCC;
    ASSERT_EQ(on_disk[i], want) << "byte " << i;
  }
  ASSERT_EQ(run(disk, BlockOp::kFlush, 0, 0), BlockStatus::kOk);
}

TEST_F(DiskImageTest, OutOfRangeTransfersNothing) {
  std::string path = image("small.img", 8192);
  DiskImage disk(config(path), queue_);
  std::vector<uint8_t> buf(1024, 0x55);
  std::vector<iovec> iov = {{buf.data(), buf.size()}};
  EXPECT_EQ(run(disk, BlockOp::kRead, 8192, 1024, iov), BlockStatus::kOutOfRange);
  EXPECT_EQ(run(disk, BlockOp::kRead, 7680, 1024, iov), BlockStatus::kOutOfRange);
  EXPECT_EQ(run(disk, BlockOp::kWrite, ~0ull - 100, 1024, iov), BlockStatus::kOutOfRange);
  EXPECT_EQ(run(disk, BlockOp::kDiscard, 4096, 8192), BlockStatus::kOutOfRange);
  EXPECT_EQ(run(disk, BlockOp::kWriteZeroes, 8192, 512), BlockStatus::kOutOfRange);
  EXPECT_EQ(buf, std::vector<uint8_t>(1024, 0x55));
  EXPECT_EQ(file_bytes(path, 7168, 1024)[1023], pattern(8191));
  EXPECT_EQ(run(disk, BlockOp::kRead, 7168, 1024, iov), BlockStatus::kOk);  // the last KiB
  EXPECT_EQ(run(disk, BlockOp::kRead, 8192, 0, {}), BlockStatus::kOk);      // empty, at the end
}

TEST_F(DiskImageTest, ReadOnlyRefusesWriteLikeRequests) {
  std::string path = image("ro.img", 8192);
  DiskImage disk(config(path, DiskCache::kWriteback, true), queue_);
  std::vector<uint8_t> buf(512, 0);
  std::vector<iovec> iov = {{buf.data(), buf.size()}};
  EXPECT_EQ(run(disk, BlockOp::kWrite, 0, 512, iov), BlockStatus::kReadOnly);
  EXPECT_EQ(run(disk, BlockOp::kDiscard, 0, 512), BlockStatus::kReadOnly);
  EXPECT_EQ(run(disk, BlockOp::kWriteZeroes, 0, 512), BlockStatus::kReadOnly);
  EXPECT_EQ(file_bytes(path, 0, 1)[0], pattern(0));
  EXPECT_EQ(run(disk, BlockOp::kRead, 0, 512, iov), BlockStatus::kOk);
  EXPECT_EQ(buf[1], pattern(1));
  EXPECT_EQ(run(disk, BlockOp::kFlush, 0, 0), BlockStatus::kOk);
}

TEST_F(DiskImageTest, FlushInEveryCacheMode) {
  for (DiskCache cache : {DiskCache::kWriteback, DiskCache::kNone, DiskCache::kUnsafe}) {
    DiskImage disk(config(image("flush.img", 4096), cache), queue_);
    EXPECT_EQ(run(disk, BlockOp::kFlush, 0, 0), BlockStatus::kOk);
  }
}

TEST_F(DiskImageTest, DiscardAndWriteZeroesReadBackZeroes) {
  std::string path = image("trim.img", 1 << 20);
  DiskImage disk(config(path), queue_);
  ASSERT_TRUE(disk.supports_discard());
  struct stat before, after;
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  ASSERT_EQ(run(disk, BlockOp::kDiscard, 256 << 10, 256 << 10), BlockStatus::kOk);
  ASSERT_EQ(run(disk, BlockOp::kWriteZeroes, 4096 + 512, 1024), BlockStatus::kOk);
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LT(after.st_blocks, before.st_blocks);  // the hole gave blocks back

  auto trimmed = file_bytes(path, 256 << 10, 256 << 10);
  EXPECT_EQ(trimmed, std::vector<uint8_t>(256 << 10, 0));
  auto zeroed = file_bytes(path, 4096, 2048);
  for (size_t i = 0; i < zeroed.size(); ++i)
    ASSERT_EQ(zeroed[i], i >= 512 && i < 1536 ? 0 : pattern(4096 + i)) << i;
}

TEST_F(DiskImageTest, ManyRequestsInFlightCompleteOnTheDrainingThread) {
  constexpr int kRequests = 512;
  constexpr uint64_t kSize = 4 << 20;
  std::string path = image("many.img", kSize);
  DiskImage disk(config(path), queue_);
  std::vector<std::vector<uint8_t>> bufs(kRequests, std::vector<uint8_t>(4096));
  std::vector<uint64_t> offsets(kRequests);
  std::mt19937_64 rng(42);
  int done = 0, wrong_thread = 0, failed = 0;
  const auto me = std::this_thread::get_id();
  for (int i = 0; i < kRequests; ++i) {
    offsets[i] = rng() % (kSize / 512 - 8) * 512;
    iovec v{bufs[i].data(), 4096};
    disk.submit(BlockOp::kRead, offsets[i], 4096, {&v, 1}, [&](BlockStatus s) {
      ++done;
      failed += s != BlockStatus::kOk;
      wrong_thread += std::this_thread::get_id() != me;
    });
  }
  ASSERT_TRUE(drain_until([&] { return done == kRequests; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(wrong_thread, 0);
  EXPECT_GT(wakes_, 0);
  for (int i = 0; i < kRequests; ++i)
    for (size_t j = 0; j < 4096; j += 97) ASSERT_EQ(bufs[i][j], pattern(offsets[i] + j));
}

TEST_F(DiskImageTest, CacheNoneTakesAlignedAndUnalignedBuffers) {
  std::string path = image("direct.img", 1 << 20);
  DiskImage disk(config(path, DiskCache::kNone), queue_);
  auto* aligned = static_cast<uint8_t*>(aligned_alloc(4096, 3 * 4096));
  std::unique_ptr<uint8_t, decltype(&free)> owner(aligned, free);
  std::vector<iovec> whole = {{aligned, 8192}};
  ASSERT_EQ(run(disk, BlockOp::kRead, 65536, 8192, whole), BlockStatus::kOk);
  EXPECT_EQ(aligned[8191], pattern(65536 + 8191));
  std::vector<iovec> odd = {{aligned + 1, 1536}};  // odd address and length: the buffered path
  ASSERT_EQ(run(disk, BlockOp::kRead, 512, 1536, odd), BlockStatus::kOk);
  EXPECT_EQ(aligned[1], pattern(512));
  EXPECT_EQ(aligned[1536], pattern(512 + 1535));

  std::fill(aligned, aligned + 3 * 4096, 0xEE);
  ASSERT_EQ(run(disk, BlockOp::kWrite, 4096, 8192, whole), BlockStatus::kOk);
  ASSERT_EQ(run(disk, BlockOp::kWrite, 512, 1536, odd), BlockStatus::kOk);
  auto bytes = file_bytes(path, 0, 4096 + 8192 + 512);
  for (size_t i = 0; i < bytes.size(); ++i) {
    bool written = (i >= 512 && i < 2048) || (i >= 4096 && i < 4096 + 8192);
    ASSERT_EQ(bytes[i], written ? 0xEE : pattern(i)) << i;
  }
}

TEST_F(DiskImageTest, RefusedRequestsCompleteOnlyInDrain) {
  DiskImage disk(config(image("refuse.img", 4096)), queue_);
  bool done = false;
  disk.submit(BlockOp::kDiscard, 4096, 512, {}, [&](BlockStatus) { done = true; });
  EXPECT_FALSE(done);
  EXPECT_TRUE(queue_.pending());
  queue_.drain();
  EXPECT_TRUE(done);
}

TEST_F(DiskImageTest, HostErrorsBecomeIoError) {
  std::string path = image("shrinks.img", 64 << 10);
  DiskImage disk(config(path), queue_);
  ASSERT_EQ(truncate(path.c_str(), 4096), 0);  // someone else cut the file short
  std::vector<uint8_t> buf(4096);
  std::vector<iovec> iov = {{buf.data(), buf.size()}};
  EXPECT_EQ(run(disk, BlockOp::kRead, 32768, 4096, iov), BlockStatus::kIoError);
  EXPECT_EQ(run(disk, BlockOp::kRead, 32768, 4096, iov), BlockStatus::kIoError);  // logged or not
  EXPECT_EQ(run(disk, BlockOp::kRead, 0, 4096, iov), BlockStatus::kOk);
}

TEST_F(DiskImageTest, DestructorWaitsForInFlightRequestsAndRunsTheirCompletions) {
  constexpr int kRequests = 64;
  constexpr size_t kChunk = 256 << 10;
  std::string path = image("exit.img", kRequests * kChunk);
  std::vector<uint8_t> data(kChunk, 0x5A);
  int done = 0, ok = 0;
  {
    DiskImage disk(config(path), queue_);
    for (int i = 0; i < kRequests; ++i) {
      iovec v{data.data(), kChunk};
      disk.submit(BlockOp::kWrite, i * kChunk, kChunk, {&v, 1}, [&](BlockStatus s) {
        ++done;
        ok += s == BlockStatus::kOk;
      });
    }
  }  // no drain by the test: the destructor must finish everything
  EXPECT_EQ(done, kRequests);
  EXPECT_EQ(ok, kRequests);
  EXPECT_FALSE(queue_.pending());
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(file_bytes(path, i * kChunk + 4095, 1)[0], 0x5A);
}

TEST_F(DiskImageTest, DrainAllRunsCompletionsThatSubmitMore) {
  DiskImage disk(config(image("chain.img", 64 << 10)), queue_);
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), buf.size()};
  int reads = 0;
  std::function<void(BlockStatus)> next = [&](BlockStatus) {
    if (++reads < 10) disk.submit(BlockOp::kRead, reads * 512, 512, {&v, 1}, next);
  };
  disk.submit(BlockOp::kRead, 0, 512, {&v, 1}, next);
  disk.drain_all();
  EXPECT_EQ(reads, 10);
  EXPECT_EQ(buf[0], pattern(9 * 512));
}

}  // namespace
}  // namespace tv
