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

void Bus::log_unknown(uint64_t addr, bool is_write) {
  if (!logged_unknown_.insert(addr).second) return;
  log::get("bus")->info("guest {} unclaimed {} {:#x} (logged once)", is_write ? "wrote" : "read",
                        kind_ == BusKind::kPio ? "port" : "MMIO address", addr);
}

std::map<std::string, uint64_t> Bus::access_counts() const {
  std::map<std::string, uint64_t> counts;
  for (const auto& [base, range] : ranges_) counts[std::string(range.device->name())] += range.accesses;
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
