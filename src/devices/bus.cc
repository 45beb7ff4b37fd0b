#include "devices/bus.h"

#include <fmt/format.h>

#include "base/error.h"
#include "base/log.h"

namespace tv::dev {

void Bus::insert(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device) {
  const char* what = kind_ == BusKind::kPio ? "port" : "MMIO";
  if (length == 0) throw Error(fmt::format("{} range at {:#x} is empty", what, base));
  if (base + length < base)
    throw Error(fmt::format("{} range {:#x}+{:#x} overflows", what, base, length));
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + length)
    throw Error(fmt::format("{} range {:#x}+{:#x} overlaps {}", what, base, length,
                            next->second.device->name()));
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.length > base)
      throw Error(fmt::format("{} range {:#x}+{:#x} overlaps {}", what, base, length,
                              prev->second.device->name()));
  }
  ranges_.emplace(base, Range{base, length, std::move(device)});
}

const Bus::Range* Bus::find(uint64_t addr) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (addr - it->first >= it->second.length) return nullptr;
  return &it->second;
}

Bus::Novelty Bus::remember_unknown(uint64_t addr) {
  static_assert(kLoggedUnknown < kUnknownSlots, "the set must keep a free slot");
  // Fibonacci hashing: the top 10 bits of the product pick the slot.
  size_t i = size_t((addr * 0x9E3779B97F4A7C15ull) >> 54);
  for (; unknown_used_[i]; i = (i + 1) % kUnknownSlots)
    if (unknown_[i] == addr) return Novelty::kSeen;
  if (unknown_count_ == kLoggedUnknown) {
    if (unknown_full_) return Novelty::kSeen;
    unknown_full_ = true;
    return Novelty::kTableFull;
  }
  unknown_used_.set(i);
  unknown_[i] = addr;
  ++unknown_count_;
  return Novelty::kNew;
}

void Bus::log_unknown(uint64_t addr, bool is_write) {
  const Note note{addr, is_write, remember_unknown(addr)};
  if (note.novelty == Novelty::kSeen) return;
  if (!defer_logs_) return log_note(note);
  if (deferred_count_ < kDeferred)
    deferred_[deferred_count_++] = note;
  else
    ++deferred_dropped_;
}

void Bus::log_note(const Note& note) const {
  const bool pio = kind_ == BusKind::kPio;
  if (note.novelty == Novelty::kTableFull) {
    log::get("bus")->info("guest accessed more than {} unclaimed {}; not logging further ones",
                          kLoggedUnknown, pio ? "ports" : "MMIO addresses");
    return;
  }
  log::get("bus")->info("guest {} unclaimed {} {:#x} (logged once)",
                        note.is_write ? "wrote" : "read", pio ? "port" : "MMIO address", note.addr);
}

void Bus::log_deferred() {
  for (unsigned i = 0; i < deferred_count_; ++i) log_note(deferred_[i]);
  if (deferred_dropped_)
    log::get("bus")->info("guest accessed {} more unclaimed addresses, not logged",
                          deferred_dropped_);
  deferred_count_ = deferred_dropped_ = 0;
}

std::map<std::string, uint64_t> Bus::access_counts() const {
  std::map<std::string, uint64_t> counts;
  for (const auto& [base, range] : ranges_)
    counts[std::string(range.device->name())] += range.accesses;
  return counts;
}

uint64_t Bus::read(uint64_t addr, unsigned size) {
  const Range* range = find(addr);
  if (!range) {
    log_unknown(addr, false);
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
  }
  ++range->accesses;
  uint64_t value = range->device->read(addr - range->base, size);
  after_access(*range->device);
  return value;
}

void Bus::write(uint64_t addr, unsigned size, uint64_t value) {
  const Range* range = find(addr);
  if (!range) {
    log_unknown(addr, true);
    return;
  }
  ++range->accesses;
  range->device->write(addr - range->base, size, value);
  after_access(*range->device);
}

bool Bus::remove(uint64_t base, const IoDevice& device) {
  auto it = ranges_.find(base);
  if (it == ranges_.end() || it->second.device.get() != &device) return false;
  ranges_.erase(it);
  return true;
}

}  // namespace tv::dev
