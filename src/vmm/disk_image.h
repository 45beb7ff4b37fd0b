// A raw disk image file as a dev::BlockDevice, served off the vCPU thread.
//
// Requests go to a few worker threads that preadv/pwritev straight into
// guest RAM (the iovecs the controller got from DmaSpace::host), fdatasync
// for flushes and fallocate for discard and write-zeroes; the workers post
// each `done` to a CompletionQueue, and the machine runs it on the vCPU
// thread with CompletionQueue::drain(). Nothing on the worker side throws.
//
// Why threads and not io_uring (liburing): measured here on a 1 GiB file,
// one submitter keeping 32 requests in flight (4 workers vs. a ring with a
// reaper thread), best and worst of three runs on a 2-core machine shared
// with builds:
//   page cache (cache=writeback, the default), 128 KiB sequential reads:
//     threads 5.9-8.6 GB/s, io_uring 2.5-3.2 GB/s (6.1-7.1 with IOSQE_ASYNC)
//   page cache, 4 KiB random reads:
//     threads 122-181 k IOPS, io_uring 67-79 k (128-244 k with IOSQE_ASYNC)
//   submitting thread's (the vCPU's) CPU time per request:
//     threads 1.1-1.5 us, io_uring 4-18 us (it copies cached data inside
//     io_uring_enter), 1.6-3.4 us with IOSQE_ASYNC
//   O_DIRECT (cache=none), 4 KiB random reads:
//     threads 23-25 k IOPS at 22-25 us CPU/request, io_uring 51-73 k at 7-10
// io_uring only wins for cache=none; for the default it is no faster and
// costs the vCPU thread more. It is also often unavailable (Docker's default
// seccomp profile, kernel.io_uring_disabled), which would need this pool as
// a fallback anyway. So: one code path, threads.
//
// Locking: OFD locks (fcntl F_OFD_SETLK) on the bytes QEMU uses, 100 + n
// for "I hold permission n" and 200 + n for "I do not share permission n"
// (n = 0 consistent read, 1 write), so transvisor and QEMU processes refuse
// each other's images as QEMU processes do. A writer holds 100, 101 and
// 201; a read-only disk holds 100 and 201 (it wants no writer either).
// Locks are taken, then checked for conflicts, so two racing openers both
// fail rather than both succeed. OFD locks belong to the open file
// description: a second open in the same process conflicts too.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/block.h"
#include "vmm/completion_queue.h"
#include "vmm/config.h"

namespace tv {

class DiskImage final : public dev::BlockDevice {
 public:
  static constexpr unsigned kWorkers = 4;

  // Opens and locks `config.path`; throws tv::Error (one line naming the
  // file) when it is missing, unreadable, not a regular file, locked, empty
  // or not a multiple of 512 bytes. `completions` must outlive the disk.
  DiskImage(const DiskConfig& config, CompletionQueue& completions);
  // drain_all(), then fdatasync unless cache=unsafe or read-only, then
  // close (which drops the locks). Runs completions, so call it on the
  // vCPU thread (or after it has stopped), before the controllers go.
  ~DiskImage() override;
  DiskImage(const DiskImage&) = delete;
  DiskImage& operator=(const DiskImage&) = delete;

  // dev::BlockDevice
  uint64_t size_bytes() const override { return size_; }
  bool read_only() const override { return config_.read_only; }
  std::string serial() const override { return serial_; }
  bool supports_discard() const override { return discard_; }
  void submit(dev::BlockOp op, uint64_t offset, uint64_t length, std::span<const iovec> buffers,
              Done done) override;

  // Waits until every request submitted so far (and any submitted by the
  // completions it runs) has finished, running completions as they come.
  // vCPU thread only.
  void drain_all();

  const DiskConfig& config() const { return config_; }

 private:
  struct Request {
    dev::BlockOp op;
    uint64_t offset;
    uint64_t length;
    std::vector<iovec> buffers;
    Done done;
  };

  void open_file();
  void lock_file();
  void check_size();
  void probe_discard();
  void start_workers();
  void worker();
  dev::BlockStatus serve(Request& request);
  dev::BlockStatus transfer(Request& request);
  dev::BlockStatus write_zeroes(uint64_t offset, uint64_t length);
  dev::BlockStatus host_error(const char* what, uint64_t offset, const char* reason);
  bool direct_capable(const Request& request) const;
  void complete(Done done, dev::BlockStatus status);

  DiskConfig config_;
  CompletionQueue& completions_;
  int fd_ = -1;
  // cache=none with O_DIRECT: the same file without it, for requests not
  // aligned to direct_align_ (offset, buffer addresses and lengths).
  int buffered_fd_ = -1;
  uint64_t direct_align_ = 0;
  uint64_t size_ = 0;
  std::string serial_;
  bool discard_ = false;

  std::mutex mutex_;
  std::condition_variable work_cv_;  // workers wait for requests_ or stopping_
  std::condition_variable idle_cv_;  // drain_all waits for in_flight_ == 0
  std::deque<Request> requests_;     // guarded by mutex_
  unsigned in_flight_ = 0;           // queued or being served; guarded by mutex_
  bool stopping_ = false;            // guarded by mutex_
  std::vector<std::thread> workers_;

  // Host errors are logged at most once a second (a failing disk would
  // otherwise log per request); the rest are counted into the next line.
  std::atomic<uint64_t> last_error_log_ns_{0};
  std::atomic<uint64_t> errors_unlogged_{0};
};

// The serial a disk reports: its file name's last component, printable
// ASCII with spaces as '_', its last 20 characters (the tail tells
// disk-1.img from disk-2.img).
std::string disk_serial(const std::string& path);

}  // namespace tv
