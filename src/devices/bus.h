// One bus type for port I/O and MMIO (Firecracker vstate/bus.rs): devices own
// disjoint [base, base+length) ranges; an access is routed to the device and
// given as an offset into its range.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "devices/device.h"

namespace tv::dev {

enum class BusKind { kPio, kMmio };

class Bus {
 public:
  explicit Bus(BusKind kind) : kind_(kind) {}

  // Throws tv::Error for an empty, overflowing or overlapping range.
  void insert(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device);

  // Unknown addresses read as all-ones and drop writes, logged once each.
  uint64_t read(uint64_t addr, unsigned size);
  void write(uint64_t addr, unsigned size, uint64_t value);

  // Called after every access that reached a device, whoever made it (a
  // CPU backend, a DMA engine): the machine re-arms its host timer there,
  // since the device may have changed its next deadline. A plain function
  // pointer: no allocation, callable from the fault handler's MMIO path.
  using AfterAccess = void (*)(void* context, const IoDevice& device);
  void set_after_access(AfterAccess fn, void* context) { after_ = fn, after_context_ = context; }

  // True if some device claims `addr`.
  bool claimed(uint64_t addr) const { return find(addr) != nullptr; }

  // Accesses routed to each device, by device name, for the profile.
  std::map<std::string, uint64_t> access_counts() const;

  // Removes the range that starts at `base` if `device` owns it (a PCI BAR
  // being moved or disabled). Returns false, changing nothing, otherwise.
  bool remove(uint64_t base, const IoDevice& device);

 private:
  struct Range {
    uint64_t base;
    uint64_t length;
    std::shared_ptr<IoDevice> device;
    mutable uint64_t accesses = 0;
  };
  const Range* find(uint64_t addr) const;
  void log_unknown(uint64_t addr, bool is_write);

  void after_access(const IoDevice& device) const {
    if (after_) after_(after_context_, device);
  }

  BusKind kind_;
  AfterAccess after_ = nullptr;
  void* after_context_ = nullptr;
  std::map<uint64_t, Range> ranges_;  // keyed by base
  std::set<uint64_t> logged_unknown_;
};

}  // namespace tv::dev
