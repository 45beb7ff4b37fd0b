// A disk as the storage controllers (virtio-blk, IDE) see it: a size, a
// read-only flag, an identity string, and asynchronous requests on byte
// ranges. The host side (an image file, served off the vCPU thread) is the
// machine's business; controllers only call submit() and get their
// completion back on the vCPU thread, so device state needs no locks.
//
// Ordering: requests may complete in any order. A flush completes only
// after every write that completed before it was submitted is durable on
// the host (for an image file: fdatasync). A controller that needs write
// ordering waits for completions, as a real disk's driver does.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace tv::dev {

enum class BlockOp : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

// What a request ends with. kIoError: the host failed it (EIO, ENOSPC, ...),
// kReadOnly: a write-like request on a read-only disk, kOutOfRange: the range
// passes the end of the disk. Nothing is transferred for the last two.
enum class BlockStatus : uint8_t { kOk, kIoError, kReadOnly, kOutOfRange, kUnsupported };

class BlockDevice {
 public:
  static constexpr uint64_t kSectorSize = 512;

  virtual ~BlockDevice() = default;

  virtual uint64_t size_bytes() const = 0;  // a multiple of kSectorSize
  virtual bool read_only() const = 0;
  // Up to 20 printable ASCII characters (virtio-blk GET_ID, ATA serial).
  virtual std::string serial() const = 0;
  // Whether kDiscard / kWriteZeroes are served (otherwise kUnsupported).
  virtual bool supports_discard() const = 0;

  // Starts a request on [offset, offset + length). For kRead/kWrite the
  // length is the total of `buffers` (host pointers into guest RAM from
  // DmaSpace::host, which must stay untouched until completion); kFlush has
  // no range; kDiscard/kWriteZeroes take `length` and no buffers.
  // `done` runs exactly once, on the vCPU thread, and never from inside
  // submit() (a refused request completes later too), so a controller's
  // state is never re-entered.
  using Done = std::function<void(BlockStatus)>;
  virtual void submit(BlockOp op, uint64_t offset, uint64_t length, std::span<const iovec> buffers,
                      Done done) = 0;
};

}  // namespace tv::dev
