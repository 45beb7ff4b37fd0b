// Split virtqueue (spec 2.7). Layout of the parts, all little-endian:
//   descriptor table: {le64 addr; le32 len; le16 flags; le16 next} x size
//   available ring:   le16 flags, le16 idx, le16 ring[size], le16 used_event
//   used ring:        le16 flags, le16 idx, {le32 id; le32 len} x size,
//                     le16 avail_event
// The event fields exist only with VIRTIO_F_EVENT_IDX and are touched only
// then; enable() checks the full sizes either way, as drivers allocate them.
//
// Ordering: the driver publishes descriptors and ring entries before it
// bumps avail->idx, and reads used->idx before the entries (spec 2.7.13,
// 2.7.14), so the device reads avail->idx before the entries and writes
// entries before used->idx. Host and guest are both x86 (TSO), so the
// fences only keep the compiler in order, except the full fence between
// publishing used->idx and reading used_event, where a store-load
// reordering would lose an interrupt.
#include "devices/virtio/virtqueue.h"

#include <fmt/format.h>

#include <atomic>
#include <bit>
#include <cstring>

namespace tv::dev {
namespace {

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }

// Offsets into the rings.
constexpr uint64_t kRingIdx = 2;
constexpr uint64_t kRingEntries = 4;
uint64_t avail_entry(uint16_t slot) { return kRingEntries + 2ull * slot; }
uint64_t used_entry(uint16_t slot) { return kRingEntries + 8ull * slot; }
uint64_t used_event_offset(uint16_t size) { return avail_entry(size); }
uint64_t avail_event_offset(uint16_t size) { return used_entry(size); }

// Descriptor `index` of a table already checked to hold it, copied out so
// that the driver changing it meanwhile changes nothing.
virtq::Desc read_desc(const uint8_t* table, unsigned index) {
  const uint8_t* p = table + uint64_t(virtq::kDescSize) * index;
  virtq::Desc d;
  std::memcpy(&d.addr, p, 8);
  std::memcpy(&d.len, p + 8, 4);
  std::memcpy(&d.flags, p + 12, 2);
  std::memcpy(&d.next, p + 14, 2);
  return d;
}

}  // namespace

// Per-chain walk state shared by the direct and indirect parts.
struct Virtqueue::Walk {
  bool seen_writable = false;
};

Virtqueue::Virtqueue(DmaSpace& dma, uint16_t max_size)
    : dma_(dma), max_size_(max_size), size_(max_size) {}

bool Virtqueue::set_size(uint16_t size) {
  if (size == 0 || !std::has_single_bit(size) || size > max_size_) return false;
  size_ = size;
  return true;
}

void Virtqueue::reset() {
  size_ = max_size_;
  desc_addr = driver_addr = device_addr = 0;
  enabled_ = broken_ = false;
  features_ = {};
  desc_ = avail_ = used_ = nullptr;
  last_avail_ = used_idx_ = signalled_ = 0;
  out_.clear();
  outstanding_ = 0;
}

bool Virtqueue::fail(const std::string& why) {
  broken_ = true;
  if (on_error_) on_error_(why);
  return false;
}

// Spec 2.7: alignments 16/2/4; each part must be guest RAM (a ring in
// MMIO or past the end would have the device write where no RAM is).
bool Virtqueue::enable(Features features) {
  if (enabled_) return true;
  if (desc_addr % 16 || driver_addr % 2 || device_addr % 4)
    return fail(fmt::format("ring parts misaligned (desc {:#x}, driver {:#x}, device {:#x})",
                            desc_addr, driver_addr, device_addr));
  desc_ = dma_.host(desc_addr, virtq::desc_table_size(size_));
  avail_ = dma_.host(driver_addr, virtq::avail_ring_size(size_));
  used_ = dma_.host(device_addr, virtq::used_ring_size(size_));
  if (!desc_ || !avail_ || !used_) {
    desc_ = avail_ = used_ = nullptr;
    return fail(
        fmt::format("ring of {} entries not in RAM (desc {:#x}, driver {:#x}, device {:#x})", size_,
                    desc_addr, driver_addr, device_addr));
  }
  features_ = features;
  out_.assign(size_, false);
  enabled_ = true;
  return true;
}

uint16_t Virtqueue::avail_idx() const {
  uint16_t idx = load16(avail_ + kRingIdx);
  std::atomic_thread_fence(std::memory_order_acquire);
  return idx;
}

// Spec 2.7.10: "notify me when you make entry last_avail_ available".
void Virtqueue::publish_avail_event() {
  store16(used_ + avail_event_offset(size_), last_avail_);
  dma_.written(device_addr + avail_event_offset(size_), 2);
}

std::optional<Chain> Virtqueue::pop() {
  if (!enabled_ || broken_) return std::nullopt;
  uint16_t idx = avail_idx();
  if (idx == last_avail_ && features_.event_idx) {
    // Re-check after publishing, or a buffer made available in between
    // would wait for a notification the driver saw no reason to send.
    publish_avail_event();
    std::atomic_thread_fence(std::memory_order_seq_cst);
    idx = avail_idx();
  }
  if (idx == last_avail_) return std::nullopt;
  // The ring holds `size_` entries; more means avail->idx is garbage.
  if (uint16_t(idx - last_avail_) > size_) {
    fail(fmt::format("available idx {} is {} entries ahead of the device on a ring of {}", idx,
                     uint16_t(idx - last_avail_), size_));
    return std::nullopt;
  }
  uint16_t head = load16(avail_ + avail_entry(last_avail_ % size_));
  ++last_avail_;
  if (features_.event_idx) publish_avail_event();
  if (head >= size_) {
    fail(fmt::format("available entry names descriptor {} of {}", head, size_));
    return std::nullopt;
  }
  if (out_[head]) {
    fail(fmt::format("descriptor {} made available again before it was used", head));
    return std::nullopt;
  }
  Chain chain;
  chain.head = head;
  if (!walk(head, chain)) return std::nullopt;
  out_[head] = true;
  ++outstanding_;
  return chain;
}

// Spec 2.7.5: follow NEXT through the table; an INDIRECT descriptor ends
// the direct part (2.7.5.3.2: "zero or more normal chained descriptors
// followed by a single descriptor with INDIRECT").
bool Virtqueue::walk(uint16_t head, Chain& chain) {
  Walk state;
  uint16_t index = head;
  for (unsigned visited = 0;; ++visited) {
    if (visited == size_)
      return fail(fmt::format("chain from {} is longer than the queue ({}): a loop", head, size_));
    virtq::Desc d = read_desc(desc_, index);
    if (d.flags & virtq::kDescIndirect) return walk_indirect(d, state, chain);
    if (!add(d, state, chain)) return false;
    if (!(d.flags & virtq::kDescNext)) return true;
    if (d.next >= size_)
      return fail(fmt::format("descriptor {} chains to {} of {}", index, d.next, size_));
    index = d.next;
  }
}

// Spec 2.7.5.3: a table of len/16 descriptors chained from entry 0. The
// referring descriptor's WRITE flag is ignored (2.7.5.3.2).
bool Virtqueue::walk_indirect(const virtq::Desc& table, Walk& state, Chain& chain) {
  if (!features_.indirect) return fail("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
  if (table.flags & virtq::kDescNext) return fail("indirect descriptor with NEXT set");
  unsigned entries = table.len / virtq::kDescSize;
  if (table.len == 0 || table.len % virtq::kDescSize || entries > size_)
    return fail(fmt::format("indirect table of {} bytes (a multiple of 16, at most {} entries)",
                            table.len, size_));
  const uint8_t* base = dma_.host(table.addr, table.len);
  if (!base)
    return fail(fmt::format("indirect table {:#x}+{} is not in RAM", table.addr, table.len));
  uint16_t index = 0;
  for (unsigned visited = 0;; ++visited) {
    if (visited == entries)
      return fail(fmt::format("indirect chain is longer than its table ({}): a loop", entries));
    virtq::Desc d = read_desc(base, index);
    if (d.flags & virtq::kDescIndirect) return fail("indirect descriptor inside an indirect table");
    if (!add(d, state, chain)) return false;
    if (!(d.flags & virtq::kDescNext)) return true;
    if (d.next >= entries)
      return fail(fmt::format("indirect descriptor {} chains to {} of {}", index, d.next, entries));
    index = d.next;
  }
}

bool Virtqueue::add(const virtq::Desc& d, Walk& state, Chain& chain) {
  bool writable = d.flags & virtq::kDescWrite;
  if (!writable && state.seen_writable)
    return fail("device-readable descriptor after a device-writable one");
  state.seen_writable |= writable;
  if (d.len == 0) return true;
  if (d.addr + d.len < d.addr)
    return fail(fmt::format("buffer {:#x}+{:#x} wraps the address space", d.addr, d.len));
  uint64_t total = chain.readable + chain.writable + d.len;
  if (total > virtq::kMaxChainBytes)
    return fail(fmt::format("chain from {} is over 4 GiB long", chain.head));
  uint8_t* host = dma_.host(d.addr, d.len);
  if (!host) return fail(fmt::format("buffer {:#x}+{:#x} is not in RAM", d.addr, d.len));
  chain.segments.push_back({d.addr, host, d.len, writable});
  (writable ? chain.writable : chain.readable) += d.len;
  return true;
}

void Virtqueue::push(uint16_t head, uint32_t len) {
  if (!enabled_ || broken_ || head >= size_ || !out_[head]) return;
  out_[head] = false;
  --outstanding_;
  uint16_t slot = used_idx_ % size_;
  store32(used_ + used_entry(slot), head);
  store32(used_ + used_entry(slot) + 4, len);
  std::atomic_thread_fence(std::memory_order_release);
  ++used_idx_;
  store16(used_ + kRingIdx, used_idx_);
  dma_.written(device_addr + used_entry(slot), 8);
  dma_.written(device_addr + kRingIdx, 2);
}

// Spec 2.7.10: without event index, flags bit 0 asks for silence; with
// it, notify when the used idx passes used_event, i.e. used_event lies in
// [signalled_, used_idx_) modulo 2^16 ("vring_need_event").
bool Virtqueue::needs_notification() {
  if (!enabled_ || broken_) return false;
  uint16_t old = signalled_;
  signalled_ = used_idx_;
  if (old == used_idx_) return false;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!features_.event_idx) return !(load16(avail_) & virtq::kAvailNoInterrupt);
  uint16_t event = load16(avail_ + used_event_offset(size_));
  return uint16_t(used_idx_ - event - 1) < uint16_t(used_idx_ - old);
}

}  // namespace tv::dev
