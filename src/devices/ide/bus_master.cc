// SFF-8038i bus-master registers and PRD table walk. A PRD entry is 8
// bytes: the region's physical address (bit 0 ignored), then its byte
// count in bits 15:0 (bit 0 ignored; 0 means 64 KiB) and EOT in bit 31.
// The regions need not stay inside 64 KiB blocks as the PIIX requires:
// nothing here depends on it.
#include "devices/ide/bus_master.h"

#include <algorithm>
#include <array>

namespace tv::dev {
namespace {

constexpr unsigned kOffsetCommand = 0, kOffsetStatus = 2, kOffsetTable = 4;
constexpr uint8_t kCommandWritable = BusMaster::kCommandStart | BusMaster::kCommandToMemory;
constexpr uint8_t kStatusWriteOneToClear = BusMaster::kStatusError | BusMaster::kStatusInterrupt;
constexpr uint8_t kStatusWritable = BusMaster::kStatusDrive0Dma | BusMaster::kStatusDrive1Dma;
constexpr uint32_t kEot = 0x80000000;
constexpr uint64_t kEmptyCount = 0x10000;

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

uint8_t BusMaster::read(unsigned offset) const {
  switch (offset) {
    case kOffsetCommand: return command_;
    case kOffsetStatus: return status_;
    case kOffsetTable:
    case kOffsetTable + 1:
    case kOffsetTable + 2:
    case kOffsetTable + 3: return uint8_t(table_ >> (8 * (offset - kOffsetTable)));
    default: return 0;  // reserved
  }
}

// SFF-8038i, command register bit 0: writing 1 starts the engine (Active
// set), writing 0 stops it at once (Active cleared; a transfer in flight
// is abandoned).
bool BusMaster::write(unsigned offset, uint8_t value) {
  if (offset == kOffsetCommand) {
    bool was_started = command_ & kCommandStart;
    command_ = value & kCommandWritable;
    bool started = command_ & kCommandStart;
    if (started && !was_started) status_ |= kStatusActive;
    if (!started) status_ &= ~kStatusActive;
    return started && !was_started;
  }
  if (offset == kOffsetStatus) {
    status_ = uint8_t(status_ & ~(value & kStatusWriteOneToClear));
    status_ = uint8_t((status_ & ~kStatusWritable) | (value & kStatusWritable));
    return false;
  }
  if (offset >= kOffsetTable && offset < kOffsetTable + 4) {
    unsigned shift = 8 * (offset - kOffsetTable);
    table_ = (table_ & ~(0xFFu << shift)) | uint32_t(value) << shift;
    table_ &= ~3u;  // dword aligned
  }
  return false;
}

DmaPlan BusMaster::map(DmaSpace& dma, uint64_t bytes) const {
  DmaPlan plan;
  uint64_t entry = table_;
  for (unsigned i = 0; i < kMaxEntries && bytes > 0; ++i, entry += 8) {
    std::array<uint8_t, 8> raw;
    if (!dma.read(entry, raw)) {
      plan.result = DmaPlan::Result::kTableOutsideRam;
      return plan;
    }
    uint64_t addr = le32(&raw[0]) & ~1u;
    uint32_t flags = le32(&raw[4]);
    uint64_t count = flags & 0xFFFE;
    if ((flags & 0xFFFF) == 0) count = kEmptyCount;
    uint64_t take = std::min(count, bytes);
    if (take > 0) {
      uint8_t* host = dma.host(addr, take);
      if (host == nullptr) {
        plan.result = DmaPlan::Result::kRegionOutsideRam;
        return plan;
      }
      plan.buffers.push_back({host, take});
      plan.regions.push_back({addr, take});
      bytes -= take;
    }
    if (flags & kEot) {
      plan.table_done = bytes == 0 && take == count;
      break;
    }
  }
  if (bytes > 0) plan.result = DmaPlan::Result::kShortTable;
  return plan;
}

}  // namespace tv::dev
