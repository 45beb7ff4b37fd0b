// virtio-blk (virtio 1.2, "spec" below, 5.2): one request queue served by
// a BlockDevice. Requests go to the disk with iovecs straight into guest
// RAM (no copy) and complete in whatever order the disk finishes them; the
// completion, on the vCPU thread, writes the status byte, reports the DMA
// (DmaSpace::written) and returns the chain.
//
// Offered: SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, RO for a read-only disk,
// DISCARD and WRITE_ZEROES when the disk serves them (one segment per
// request). Not offered: GEOMETRY, TOPOLOGY, CONFIG_WCE (the cache is
// always write-back: FLUSH makes writes stable), MQ, LIFETIME,
// SECURE_ERASE.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/block.h"
#include "devices/dma.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtqueue.h"

namespace tv::dev {

namespace virtio_blk {
// Feature bits (spec 5.2.3).
constexpr uint64_t kFSizeMax = 1ull << 1;
constexpr uint64_t kFSegMax = 1ull << 2;
constexpr uint64_t kFRo = 1ull << 5;
constexpr uint64_t kFBlkSize = 1ull << 6;
constexpr uint64_t kFFlush = 1ull << 9;
constexpr uint64_t kFDiscard = 1ull << 13;
constexpr uint64_t kFWriteZeroes = 1ull << 14;

// Request types and status values (spec 5.2.6).
constexpr uint32_t kTypeIn = 0;
constexpr uint32_t kTypeOut = 1;
constexpr uint32_t kTypeFlush = 4;
constexpr uint32_t kTypeGetId = 8;
constexpr uint32_t kTypeDiscard = 11;
constexpr uint32_t kTypeWriteZeroes = 13;
constexpr uint8_t kStatusOk = 0;
constexpr uint8_t kStatusIoErr = 1;
constexpr uint8_t kStatusUnsupp = 2;

constexpr unsigned kHeaderSize = 16;   // le32 type, le32 reserved, le64 sector
constexpr unsigned kSegmentSize = 16;  // discard/write zeroes: le64 sector, le32 count, le32 flags
constexpr uint32_t kUnmap = 1;
constexpr unsigned kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES

constexpr uint16_t kQueueSize = 256;
// Header and status take a descriptor each; the rest may be data.
constexpr uint32_t kSegMax = kQueueSize - 2;
// Per data segment, which bounds a request at kSegMax MiB.
constexpr uint32_t kSizeMax = 1u << 20;
// Per discard or write zeroes request: 2 GiB.
constexpr uint32_t kMaxDiscardSectors = 1u << 22;
constexpr unsigned kConfigSize = 60;  // through write_zeroes_may_unmap and its padding
}  // namespace virtio_blk

class VirtioBlk final : public VirtioDevice {
 public:
  explicit VirtioBlk(std::shared_ptr<BlockDevice> disk);
  ~VirtioBlk() override;
  VirtioBlk(const VirtioBlk&) = delete;
  VirtioBlk& operator=(const VirtioBlk&) = delete;

  std::string_view name() const override { return "virtio-blk"; }
  uint16_t device_id() const override { return virtio::kIdBlock; }
  uint32_t pci_class() const override { return 0x018000; }  // mass storage, other
  uint64_t features() const override;
  unsigned queue_count() const override { return 1; }
  uint16_t queue_max_size(unsigned) const override { return virtio_blk::kQueueSize; }
  unsigned config_size() const override { return virtio_blk::kConfigSize; }
  void read_config(unsigned offset, std::span<uint8_t> out) const override;

  void attach(VirtioContext& context) override { context_ = &context; }
  void queue_notified(unsigned queue) override;
  void reset() override { ++epoch_; }
  bool quiesced() const override { return in_flight_ == 0; }

  unsigned in_flight() const { return in_flight_; }

 private:
  struct Request;
  using RequestPtr = std::shared_ptr<Request>;

  bool start(Chain chain);
  bool start_transfer(const RequestPtr& r, BlockOp op);
  bool start_discard(const RequestPtr& r, BlockOp op);
  bool get_id(Request& r);
  bool submit(const RequestPtr& r, BlockOp op, uint64_t offset, uint64_t length);
  void complete(Request& r, BlockStatus status);
  bool finish(Request& r, uint8_t status);
  bool fail(Request& r, uint8_t status, std::string_view why);
  bool in_range(uint64_t sector, uint64_t bytes) const;

  std::shared_ptr<BlockDevice> disk_;
  std::array<uint8_t, virtio_blk::kConfigSize> config_{};
  VirtioContext* context_ = nullptr;
  // Completions outlive neither the device (the token) nor a reset (the
  // epoch they were submitted in).
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  uint64_t epoch_ = 0;
  unsigned in_flight_ = 0;
  GuestErrorLog guest_errors_{"dev.virtio-blk"};
};

// The virtio-blk PCI function for PciBus::add. `apic` takes its MSI-X
// messages; `dma` must outlive it.
std::shared_ptr<PciDevice> make_virtio_blk(ApicBus* apic, DmaSpace& dma,
                                           std::shared_ptr<BlockDevice> disk);

}  // namespace tv::dev
