#include "vmm/disk_image.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/error.h"
#include "base/log.h"

namespace tv {
namespace {

using dev::BlockOp;
using dev::BlockStatus;

// QEMU's lock bytes (see the header): base + permission bit.
constexpr off_t kLockPermBase = 100;
constexpr off_t kLockUnsharedBase = 200;
constexpr off_t kPermRead = 0;
constexpr off_t kPermWrite = 1;

// Without STATX_DIOALIGN (older kernels, some file systems) O_DIRECT is
// used only for requests aligned to a page, which every file system takes.
constexpr uint64_t kFallbackDirectAlign = 4096;

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

bool is_write_like(BlockOp op) {
  return op == BlockOp::kWrite || op == BlockOp::kDiscard || op == BlockOp::kWriteZeroes;
}

// Shared (read) OFD lock on one byte; false with errno on failure.
bool lock_byte(int fd, off_t byte) {
  struct flock fl {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// Whether another open file description holds a lock on `byte`.
bool byte_held_elsewhere(int fd, off_t byte) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return false;
  return fl.l_type != F_UNLCK;
}

}  // namespace

std::string disk_serial(const std::string& path) {
  std::string name = path;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  name = name.substr(name.find_last_of('/') + 1);
  for (char& c : name)
    if (c <= ' ' || c > '~') c = '_';
  return name.size() > 20 ? name.substr(name.size() - 20) : name;
}

DiskImage::DiskImage(const DiskConfig& config, CompletionQueue& completions)
    : config_(config), completions_(completions), serial_(disk_serial(config.path)) {
  try {
    open_file();
    lock_file();
    check_size();
    probe_discard();
  } catch (...) {
    if (buffered_fd_ >= 0) close(buffered_fd_);
    if (fd_ >= 0) close(fd_);
    throw;
  }
  start_workers();
}

DiskImage::~DiskImage() {
  drain_all();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  if (!config_.read_only && config_.cache != DiskCache::kUnsafe) {
    int rc;
    do rc = fdatasync(fd_);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
      log::get("disk")->error("disk '{}': fdatasync at close failed: {}", config_.path,
                              std::strerror(errno));
  }
  if (buffered_fd_ >= 0) close(buffered_fd_);
  close(fd_);
}

void DiskImage::open_file() {
  const std::string& path = config_.path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw Error(errno_message(fmt::format("disk '{}'", path)));
  if (S_ISDIR(st.st_mode)) throw Error(fmt::format("disk '{}': is a directory", path));
  if (!S_ISREG(st.st_mode))
    throw Error(
        fmt::format("disk '{}': not a regular file (only raw image files are supported)", path));
  int flags = (config_.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (config_.cache == DiskCache::kNone) {
    fd_ = open(path.c_str(), flags | O_DIRECT);
    if (fd_ < 0 && errno == EINVAL)
      log::get("disk")->warn(
          "disk '{}': the file system does not take O_DIRECT; cache=none uses the page cache",
          path);
  }
  if (fd_ < 0) fd_ = open(path.c_str(), flags);
  if (fd_ < 0) throw Error(errno_message(fmt::format("disk '{}'", path)));
  if (config_.cache != DiskCache::kNone || (fcntl(fd_, F_GETFL) & O_DIRECT) == 0) return;

  // Unaligned requests (a guest buffer at an odd address) go through a
  // second, buffered descriptor; Linux keeps the two coherent.
  buffered_fd_ = open(path.c_str(), flags);
  if (buffered_fd_ < 0) throw Error(errno_message(fmt::format("disk '{}'", path)));
  struct statx sx {};
  direct_align_ = kFallbackDirectAlign;
  if (statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
      sx.stx_dio_offset_align != 0)
    direct_align_ = std::max(sx.stx_dio_offset_align, sx.stx_dio_mem_align);
}

void DiskImage::lock_file() {
  std::vector<off_t> hold = {kLockPermBase + kPermRead, kLockUnsharedBase + kPermWrite};
  // A writer also conflicts with anyone who does not share writes (201);
  // everyone conflicts with a writer (101).
  std::vector<off_t> conflicts = {kLockPermBase + kPermWrite, kLockUnsharedBase + kPermRead};
  if (!config_.read_only) {
    hold.push_back(kLockPermBase + kPermWrite);
    conflicts.push_back(kLockUnsharedBase + kPermWrite);
  }
  const std::string locked = fmt::format(
      "disk '{}': locked by another process (a transvisor or QEMU using the image)", config_.path);
  for (off_t byte : hold) {
    if (lock_byte(fd_, byte)) continue;
    if (errno == EAGAIN || errno == EACCES) throw Error(locked);
    log::get("disk")->warn("disk '{}': not locked (the file system refuses OFD locks: {})",
                           config_.path, std::strerror(errno));
    return;
  }
  for (off_t byte : conflicts)
    if (byte_held_elsewhere(fd_, byte)) throw Error(locked);
}

void DiskImage::check_size() {
  struct stat st;
  if (fstat(fd_, &st) != 0) throw Error(errno_message(fmt::format("disk '{}'", config_.path)));
  size_ = uint64_t(st.st_size);
  if (size_ == 0) throw Error(fmt::format("disk '{}': the image is empty", config_.path));
  if (size_ % kSectorSize != 0)
    throw Error(fmt::format("disk '{}': {} bytes is not a multiple of {}-byte sectors",
                            config_.path, size_, kSectorSize));
}

void DiskImage::probe_discard() {
  // Punching a hole past the end changes nothing but says whether the file
  // system punches holes at all.
  discard_ = !config_.read_only && fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                             off_t(size_), off_t(kSectorSize)) == 0;
}

void DiskImage::start_workers() {
  // Workers take no signals: the kick signal is aimed at the vCPU thread,
  // and process-directed ones (SIGINT, SIGTERM) belong to it too.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (unsigned i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { worker(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void DiskImage::submit(BlockOp op, uint64_t offset, uint64_t length, std::span<const iovec> buffers,
                       Done done) {
  if (op == BlockOp::kRead || op == BlockOp::kWrite) {
    uint64_t total = 0;
    for (const iovec& v : buffers) total += v.iov_len;
    if (total != length) {
      log::get("disk")->error("disk '{}': request of {} bytes with {} bytes of buffers (VMM bug)",
                              config_.path, length, total);
      return complete(std::move(done), BlockStatus::kIoError);
    }
  }
  if (is_write_like(op) && config_.read_only)
    return complete(std::move(done), BlockStatus::kReadOnly);
  if (op != BlockOp::kFlush && (offset > size_ || length > size_ - offset))
    return complete(std::move(done), BlockStatus::kOutOfRange);
  if ((op == BlockOp::kDiscard || op == BlockOp::kWriteZeroes) && !discard_)
    return complete(std::move(done), BlockStatus::kUnsupported);
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(
        {op, offset, length, std::vector<iovec>(buffers.begin(), buffers.end()), std::move(done)});
    ++in_flight_;
  }
  work_cv_.notify_one();
}

void DiskImage::complete(Done done, BlockStatus status) {
  completions_.post([done = std::move(done), status] { done(status); });
}

void DiskImage::drain_all() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
    }
    // Workers post before they count a request done, so every completion
    // of ours is queued now; running them may submit more.
    if (completions_.drain() == 0) return;
  }
}

void DiskImage::worker() {
  for (;;) {
    Request request;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
      if (requests_.empty()) return;
      request = std::move(requests_.front());
      requests_.pop_front();
    }
    BlockStatus status = serve(request);
    complete(std::move(request.done), status);
    std::lock_guard lock(mutex_);
    if (--in_flight_ == 0) idle_cv_.notify_all();
  }
}

BlockStatus DiskImage::serve(Request& request) {
  int rc;
  switch (request.op) {
    case BlockOp::kRead:
    case BlockOp::kWrite: return transfer(request);
    case BlockOp::kFlush:
      if (config_.cache == DiskCache::kUnsafe) return BlockStatus::kOk;
      do rc = fdatasync(fd_);
      while (rc != 0 && errno == EINTR);
      return rc == 0 ? BlockStatus::kOk : host_error("flush", 0, std::strerror(errno));
    case BlockOp::kDiscard:
      rc = fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(request.offset),
                     off_t(request.length));
      return rc == 0 ? BlockStatus::kOk
                     : host_error("discard", request.offset, std::strerror(errno));
    case BlockOp::kWriteZeroes: return write_zeroes(request.offset, request.length);
  }
  return BlockStatus::kUnsupported;
}

BlockStatus DiskImage::write_zeroes(uint64_t offset, uint64_t length) {
  if (length == 0) return BlockStatus::kOk;
  // ZERO_RANGE keeps the blocks allocated; where the file system lacks it
  // (tmpfs), a punched hole reads back as zeroes too.
  if (fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(length)) == 0)
    return BlockStatus::kOk;
  if (errno == EOPNOTSUPP &&
      fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(length)) == 0)
    return BlockStatus::kOk;
  return host_error("write-zeroes", offset, std::strerror(errno));
}

bool DiskImage::direct_capable(const Request& request) const {
  if (request.offset % direct_align_ != 0) return false;
  for (const iovec& v : request.buffers)
    if (reinterpret_cast<uintptr_t>(v.iov_base) % direct_align_ != 0 ||
        v.iov_len % direct_align_ != 0)
      return false;
  return true;
}

BlockStatus DiskImage::transfer(Request& request) {
  const bool write = request.op == BlockOp::kWrite;
  int fd = buffered_fd_ >= 0 && !direct_capable(request) ? buffered_fd_ : fd_;
  iovec* iov = request.buffers.data();
  size_t count = request.buffers.size();
  uint64_t offset = request.offset;
  while (count > 0) {
    if (iov->iov_len == 0) {
      ++iov, --count;
      continue;
    }
    int n = int(std::min<size_t>(count, IOV_MAX));
    ssize_t done = write ? pwritev(fd, iov, n, off_t(offset)) : preadv(fd, iov, n, off_t(offset));
    if (done < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // O_DIRECT refusing an alignment we misjudged: the buffered descriptor takes anything.
      if (errno == EINVAL && fd == fd_ && buffered_fd_ >= 0) {
        fd = buffered_fd_;
        continue;
      }
      return host_error(write ? "write" : "read", offset, std::strerror(errno));
    }
    if (done == 0)
      return host_error(write ? "write" : "read", offset, "end of file (was the image truncated?)");
    // A short transfer: step over what was done and go on.
    offset += uint64_t(done);
    for (size_t left = size_t(done); left > 0;) {
      size_t step = std::min(left, iov->iov_len);
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + step;
      iov->iov_len -= step;
      left -= step;
      if (iov->iov_len == 0) ++iov, --count;
    }
  }
  return BlockStatus::kOk;
}

BlockStatus DiskImage::host_error(const char* what, uint64_t offset, const char* reason) {
  constexpr uint64_t kLogIntervalNs = 1'000'000'000;
  uint64_t now = now_ns();
  uint64_t last = last_error_log_ns_.load(std::memory_order_relaxed);
  if (now - last < kLogIntervalNs ||
      !last_error_log_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    errors_unlogged_.fetch_add(1, std::memory_order_relaxed);
    return BlockStatus::kIoError;
  }
  uint64_t more = errors_unlogged_.exchange(0, std::memory_order_relaxed);
  log::get("disk")->error("disk '{}': {} at byte {} failed: {}{}", config_.path, what, offset,
                          reason,
                          more ? fmt::format(" ({} more errors since the last report)", more) : "");
  return BlockStatus::kIoError;
}

}  // namespace tv
