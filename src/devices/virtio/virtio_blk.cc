// virtio-blk requests (spec 5.2.6). The device assumes no framing (spec
// 2.7.4.1): the header is the first 16 device-readable bytes, the status
// byte the last device-writable byte, and the data is what lies between,
// however the driver split it into descriptors.
//
// Outcomes, where the driver got it wrong:
// - no device-writable byte (nowhere to put the status): the device needs
//   a reset (virtio.h: device_error);
// - a header short of 16 bytes, data that is not a multiple of 512, a
//   discard of other than one segment, a range past the end of the disk,
//   or a write on a read-only disk: VIRTIO_BLK_S_IOERR, nothing sent to
//   the disk (spec 5.2.6.2 for the last);
// - an unknown type, DISCARD/WRITE_ZEROES not negotiated (never offered
//   for a read-only disk), or flags the spec rejects: VIRTIO_BLK_S_UNSUPP.
// size_max and seg_max are advice to the driver; the only limits enforced
// are the virtqueue's (queue-size descriptors, 4 GiB a chain).
// The used length is the whole device-writable part for reads that went
// to the disk and GET_ID (data then status), else 1 (the status byte).
#include "devices/virtio/virtio_blk.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "devices/virtio/virtio_pci.h"

namespace tv::dev {

using namespace virtio_blk;

namespace {

template <typename T>
void put(std::array<uint8_t, kConfigSize>& config, unsigned offset, T value) {
  std::memcpy(config.data() + offset, &value, sizeof value);
}

// The bytes [skip, skip + keep) of the segments of one direction.
std::vector<Segment> slice(const Chain& chain, bool writable, uint64_t skip, uint64_t keep) {
  std::vector<Segment> out;
  for (const Segment& s : chain.segments) {
    if (s.writable != writable || keep == 0) continue;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    uint32_t len = uint32_t(std::min<uint64_t>(s.len - skip, keep));
    out.push_back({s.addr + skip, s.host + skip, len, writable});
    keep -= len;
    skip = 0;
  }
  return out;
}

void copy_out(const std::vector<Segment>& from, uint8_t* to) {
  for (const Segment& s : from) {
    std::memcpy(to, s.host, s.len);
    to += s.len;
  }
}

uint8_t status_of(BlockStatus status) {
  switch (status) {
    case BlockStatus::kOk: return kStatusOk;
    case BlockStatus::kUnsupported: return kStatusUnsupp;
    default: return kStatusIoErr;  // kIoError, kReadOnly, kOutOfRange
  }
}

}  // namespace

struct VirtioBlk::Request {
  Chain chain;
  uint64_t epoch = 0;
  uint32_t type = 0;
  uint64_t sector = 0;
  Segment status{};           // the last device-writable byte
  std::vector<Segment> data;  // the data part, for reads and writes
  std::vector<iovec> iov;     // the same, as the disk takes it
  uint32_t used_len = 1;
};

// Spec 5.2.4: capacity in 512-byte sectors, then the fields the offered
// features describe; everything else reads 0.
VirtioBlk::VirtioBlk(std::shared_ptr<BlockDevice> disk) : disk_(std::move(disk)) {
  put<uint64_t>(config_, 0, disk_->size_bytes() / BlockDevice::kSectorSize);
  put<uint32_t>(config_, 8, kSizeMax);
  put<uint32_t>(config_, 12, kSegMax);
  put<uint32_t>(config_, 20, BlockDevice::kSectorSize);
  if (features() & kFDiscard) {
    put<uint32_t>(config_, 36, kMaxDiscardSectors);
    put<uint32_t>(config_, 40, 1);  // max_discard_seg
    put<uint32_t>(config_, 44, 1);  // discard_sector_alignment
  }
  if (features() & kFWriteZeroes) {
    put<uint32_t>(config_, 48, kMaxDiscardSectors);
    put<uint32_t>(config_, 52, 1);  // max_write_zeroes_seg; may_unmap stays 0
  }
}

VirtioBlk::~VirtioBlk() = default;

uint64_t VirtioBlk::features() const {
  uint64_t f = kFSizeMax | kFSegMax | kFBlkSize | kFFlush;
  if (disk_->read_only()) return f | kFRo;
  if (disk_->supports_discard()) f |= kFDiscard | kFWriteZeroes;
  return f;
}

void VirtioBlk::read_config(unsigned offset, std::span<uint8_t> out) const {
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = offset + i < config_.size() ? config_[offset + i] : 0;
}

void VirtioBlk::queue_notified(unsigned) {
  Virtqueue& q = context_->queue(0);
  bool used = false;
  while (!context_->needs_reset()) {
    std::optional<Chain> chain = q.pop();
    if (!chain) break;
    used |= start(std::move(*chain));
  }
  if (used) context_->notify_used(0);
}

// Parses the header and starts the request; true if it is already done
// (its chain pushed, the notification still to send).
bool VirtioBlk::start(Chain chain) {
  if (chain.writable == 0) {
    context_->device_error(fmt::format("request {} has no status byte", chain.head));
    return false;
  }
  auto r = std::make_shared<Request>();
  r->chain = std::move(chain);
  r->epoch = epoch_;
  r->status = slice(r->chain, true, r->chain.writable - 1, 1).front();
  if (r->chain.readable < kHeaderSize)
    return fail(*r, kStatusIoErr, fmt::format("header of {} bytes", r->chain.readable));
  uint8_t header[kHeaderSize];
  copy_out(slice(r->chain, false, 0, kHeaderSize), header);
  std::memcpy(&r->type, header, 4);
  std::memcpy(&r->sector, header + 8, 8);
  switch (r->type) {
    case kTypeIn: return start_transfer(r, BlockOp::kRead);
    case kTypeOut: return start_transfer(r, BlockOp::kWrite);
    case kTypeFlush: return submit(r, BlockOp::kFlush, 0, 0);
    case kTypeGetId: return get_id(*r);
    case kTypeDiscard: return start_discard(r, BlockOp::kDiscard);
    case kTypeWriteZeroes: return start_discard(r, BlockOp::kWriteZeroes);
    default: return finish(*r, kStatusUnsupp);
  }
}

bool VirtioBlk::in_range(uint64_t sector, uint64_t bytes) const {
  uint64_t capacity = disk_->size_bytes() / BlockDevice::kSectorSize;
  return sector <= capacity && bytes / BlockDevice::kSectorSize <= capacity - sector;
}

// VIRTIO_BLK_T_IN / OUT: data in whole sectors, within the disk.
bool VirtioBlk::start_transfer(const RequestPtr& r, BlockOp op) {
  bool read = op == BlockOp::kRead;
  uint64_t len = read ? r->chain.writable - 1 : r->chain.readable - kHeaderSize;
  if (!read && disk_->read_only()) return finish(*r, kStatusIoErr);
  if (len % BlockDevice::kSectorSize)
    return fail(*r, kStatusIoErr, fmt::format("transfer of {} bytes", len));
  if (!in_range(r->sector, len))
    return fail(*r, kStatusIoErr,
                fmt::format("transfer of {} bytes at sector {} is past the end", len, r->sector));
  if (len == 0) return finish(*r, kStatusOk);
  r->data = read ? slice(r->chain, true, 0, len) : slice(r->chain, false, kHeaderSize, len);
  for (const Segment& s : r->data) r->iov.push_back({s.host, s.len});
  if (read) r->used_len = uint32_t(r->chain.writable);
  return submit(r, op, r->sector * BlockDevice::kSectorSize, len);
}

// VIRTIO_BLK_T_DISCARD / WRITE_ZEROES with the one segment the
// configuration allows (max_*_seg = 1).
bool VirtioBlk::start_discard(const RequestPtr& r, BlockOp op) {
  bool discard = op == BlockOp::kDiscard;
  if (!(context_->negotiated() & (discard ? kFDiscard : kFWriteZeroes)))
    return finish(*r, kStatusUnsupp);
  uint64_t len = r->chain.readable - kHeaderSize;
  if (len != kSegmentSize)
    return fail(*r, kStatusIoErr, fmt::format("discard data of {} bytes (one segment)", len));
  uint8_t segment[kSegmentSize];
  copy_out(slice(r->chain, false, kHeaderSize, kSegmentSize), segment);
  uint64_t sector;
  uint32_t count, flags;
  std::memcpy(&sector, segment, 8);
  std::memcpy(&count, segment + 8, 4);
  std::memcpy(&flags, segment + 12, 4);
  // Spec 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP.
  if (flags & ~(discard ? 0 : kUnmap)) return finish(*r, kStatusUnsupp);
  uint64_t bytes = uint64_t(count) * BlockDevice::kSectorSize;
  if (count > kMaxDiscardSectors || !in_range(sector, bytes))
    return fail(*r, kStatusIoErr, fmt::format("discard of {} sectors at {}", count, sector));
  return submit(r, op, sector * BlockDevice::kSectorSize, bytes);
}

// VIRTIO_BLK_T_GET_ID: the serial, NUL-padded to the data's length (20
// bytes from a conforming driver; a shorter buffer gets a truncated ID).
bool VirtioBlk::get_id(Request& r) {
  std::string id = disk_->serial().substr(0, kIdBytes);
  size_t at = 0;
  for (const Segment& s : slice(r.chain, true, 0, r.chain.writable - 1)) {
    for (uint32_t i = 0; i < s.len; ++i, ++at) s.host[i] = at < id.size() ? uint8_t(id[at]) : 0;
    context_->dma().written(s.addr, s.len);
  }
  r.used_len = uint32_t(r.chain.writable);
  return finish(r, kStatusOk);
}

bool VirtioBlk::submit(const RequestPtr& r, BlockOp op, uint64_t offset, uint64_t length) {
  ++in_flight_;
  std::weak_ptr<int> alive = alive_;
  disk_->submit(op, offset, length, r->iov, [this, alive, r](BlockStatus status) {
    if (!alive.expired()) complete(*r, status);
  });
  return false;
}

// On the vCPU thread. The data the disk wrote is reported even for a
// request a reset abandoned: the bytes are in RAM either way.
void VirtioBlk::complete(Request& r, BlockStatus status) {
  --in_flight_;
  if (r.type == kTypeIn)
    for (const Segment& s : r.data) context_->dma().written(s.addr, s.len);
  if (r.epoch != epoch_) return;
  finish(r, status_of(status));
  context_->notify_used(0);
}

bool VirtioBlk::finish(Request& r, uint8_t status) {
  *r.status.host = status;
  context_->dma().written(r.status.addr, 1);
  context_->queue(0).push(r.chain.head, r.used_len);
  return true;
}

bool VirtioBlk::fail(Request& r, uint8_t status, std::string_view why) {
  guest_errors_.report(fmt::format("request {}: {}", r.chain.head, why));
  return finish(r, status);
}

std::shared_ptr<PciDevice> make_virtio_blk(ApicBus* apic, DmaSpace& dma,
                                           std::shared_ptr<BlockDevice> disk) {
  return std::make_shared<VirtioPci>(apic, dma, std::make_unique<VirtioBlk>(std::move(disk)));
}

}  // namespace tv::dev
