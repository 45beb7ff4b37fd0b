// A split virtqueue, device side (virtio 1.2, "spec" below, 2.7): the
// descriptor table, available ring and used ring in guest RAM, reached only
// through DmaSpace. The driver owns the first two and may change them at
// any time (another vCPU), so every field is read once into a local before
// it is checked, and nothing the guest wrote is trusted: a malformed ring
// or chain never reaches host memory outside RAM and never loops.
//
// Every protocol violation has one outcome: the queue stops ("broken"),
// the error handler is told (the transport sets DEVICE_NEEDS_RESET and
// sends a configuration change notification, spec 2.1.2) and pop()
// returns nothing until the driver resets the device.
//
// Limits where the spec leaves room: a chain has at most queue-size
// descriptors (spec 2.7.5.3.1) and an indirect table at most queue-size
// entries, and a chain's buffers total at most 2^32 bytes (spec 2.7.5.1).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/dma.h"

namespace tv::dev {

namespace virtq {
// Descriptor flags (spec 2.7.5).
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
// Available ring flags (spec 2.7.6) and used ring flags (spec 2.7.8).
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;

constexpr uint16_t kMaxSize = 32768;
constexpr unsigned kDescSize = 16;
constexpr uint64_t kMaxChainBytes = 1ull << 32;

// A descriptor as the driver wrote it (spec 2.7.5).
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

// Ring part sizes (spec 2.7, table of alignments and sizes), including the
// event index fields.
constexpr uint64_t desc_table_size(unsigned size) { return uint64_t(kDescSize) * size; }
constexpr uint64_t avail_ring_size(unsigned size) { return 6 + 2ull * size; }
constexpr uint64_t used_ring_size(unsigned size) { return 6 + 8ull * size; }
}  // namespace virtq

// One buffer of a chain, checked to lie in guest RAM.
struct Segment {
  uint64_t addr;  // guest-physical
  uint8_t* host;
  uint32_t len;
  bool writable;  // device-writable (VIRTQ_DESC_F_WRITE)
};

// A descriptor chain as the device sees it: device-readable segments, then
// device-writable ones (spec 2.7.4.2, checked). Zero-length descriptors
// are left out.
struct Chain {
  uint16_t head = 0;
  std::vector<Segment> segments;
  uint64_t readable = 0;  // bytes
  uint64_t writable = 0;
};

class Virtqueue {
 public:
  // Negotiated features that change how the rings are read.
  struct Features {
    bool indirect = false;   // VIRTIO_F_INDIRECT_DESC
    bool event_idx = false;  // VIRTIO_F_EVENT_IDX
  };
  using ErrorHandler = std::function<void(const std::string&)>;

  // `max_size` is a power of two, at most 32768.
  Virtqueue(DmaSpace& dma, uint16_t max_size);
  Virtqueue(const Virtqueue&) = delete;
  Virtqueue& operator=(const Virtqueue&) = delete;
  Virtqueue(Virtqueue&&) = default;

  void set_error_handler(ErrorHandler handler) { on_error_ = std::move(handler); }

  // --- Set-up, as the transport's registers program it -----------------
  uint16_t max_size() const { return max_size_; }
  uint16_t size() const { return size_; }
  // False (nothing changed) unless `size` is a power of two up to max_size.
  bool set_size(uint16_t size);
  uint64_t desc_addr = 0;    // Descriptor Area
  uint64_t driver_addr = 0;  // Driver Area: the available ring
  uint64_t device_addr = 0;  // Device Area: the used ring

  // Starts the queue on the programmed layout. Fails (the queue stays off,
  // the error handler is told) if a part is misaligned or not in RAM.
  bool enable(Features features);
  bool enabled() const { return enabled_; }
  bool broken() const { return broken_; }
  // Back to the reset state: disabled, full size, no addresses.
  void reset();

  // --- Device side ------------------------------------------------------
  // The next chain the driver made available, or nullopt if there is none
  // or the queue is broken. With event index, an empty ring also tells the
  // driver to notify on the next buffer (avail_event).
  std::optional<Chain> pop();
  // Returns chain `head` to the driver with `len` bytes written into it
  // (spec 2.7.8). A head that is not out (a device bug) is dropped.
  void push(uint16_t head, uint32_t len);
  // After one or more push()es: whether the driver asked for a used buffer
  // notification (spec 2.7.7, 2.7.10). Moves the "last signalled" point.
  bool needs_notification();

  // Chains popped and not yet pushed.
  unsigned outstanding() const { return outstanding_; }

 private:
  struct Walk;

  bool fail(const std::string& why);
  uint16_t avail_idx() const;
  void publish_avail_event();
  bool walk(uint16_t head, Chain& chain);
  bool walk_indirect(const virtq::Desc& table, Walk& walk, Chain& chain);
  bool add(const virtq::Desc& desc, Walk& walk, Chain& chain);

  DmaSpace& dma_;
  ErrorHandler on_error_;
  uint16_t max_size_;
  uint16_t size_;
  bool enabled_ = false;
  bool broken_ = false;
  Features features_;
  // Host views of the three parts, valid for the machine's lifetime once
  // enable() has checked them (dma.h).
  const uint8_t* desc_ = nullptr;
  const uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_avail_ = 0;  // the next available ring entry to read
  uint16_t used_idx_ = 0;    // the device's copy of used->idx
  uint16_t signalled_ = 0;   // used_idx_ when needs_notification() last ran
  std::vector<bool> out_;    // heads popped and not yet pushed
  unsigned outstanding_ = 0;
};

}  // namespace tv::dev
