// One bus type for port I/O and MMIO (Firecracker vstate/bus.rs): devices own
// disjoint [base, base+length) ranges; an access is routed to the device and
// given as an offset into its range.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "devices/device.h"

namespace tv::dev {

enum class BusKind { kPio, kMmio };

class Bus {
 public:
  explicit Bus(BusKind kind) : kind_(kind) {}

  // Throws tv::Error for an empty, overflowing or overlapping range.
  void insert(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device);

  // Unknown addresses read as all-ones and drop writes, logged once each
  // (the first kLoggedUnknown of them; one more line says when that is
  // reached).
  uint64_t read(uint64_t addr, unsigned size);
  void write(uint64_t addr, unsigned size, uint64_t value);

  // The bt fault handler makes MMIO accesses in signal context, where
  // nothing may allocate or lock, spdlog included: between defer_logs(true)
  // and defer_logs(false) an unclaimed access is only noted (up to
  // kDeferred notes, then counted), and flush_deferred_logs(), called
  // later from ordinary context, logs the notes.
  void defer_logs(bool on) { defer_logs_ = on; }
  // defer_logs(true) for the lifetime of a scope.
  class DeferredLogs {
   public:
    explicit DeferredLogs(Bus& bus) : bus_(bus) { bus_.defer_logs(true); }
    ~DeferredLogs() { bus_.defer_logs(false); }
    DeferredLogs(const DeferredLogs&) = delete;
    DeferredLogs& operator=(const DeferredLogs&) = delete;

   private:
    Bus& bus_;
  };
  void flush_deferred_logs() {
    if (deferred_count_) log_deferred();
  }
  static constexpr unsigned kLoggedUnknown = 768;
  static constexpr unsigned kDeferred = 16;

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
  // One line per unclaimed address; kTableFull: the line saying the
  // following ones are not logged.
  enum class Novelty { kSeen, kNew, kTableFull };
  struct Note {
    uint64_t addr;
    bool is_write;
    Novelty novelty;
  };
  // Allocation-free: runs in signal context too.
  void log_unknown(uint64_t addr, bool is_write);
  Novelty remember_unknown(uint64_t addr);
  void log_note(const Note& note) const;
  void log_deferred();

  void after_access(const IoDevice& device) const {
    if (after_) after_(after_context_, device);
  }

  BusKind kind_;
  AfterAccess after_ = nullptr;
  void* after_context_ = nullptr;
  std::map<uint64_t, Range> ranges_;  // keyed by base
  // Unclaimed addresses seen so far: a fixed open-addressing set, at most
  // three quarters full so that a probe always ends.
  static constexpr unsigned kUnknownSlots = 1024;
  std::array<uint64_t, kUnknownSlots> unknown_{};
  std::bitset<kUnknownSlots> unknown_used_;
  unsigned unknown_count_ = 0;
  bool unknown_full_ = false;
  bool defer_logs_ = false;
  std::array<Note, kDeferred> deferred_{};
  unsigned deferred_count_ = 0;
  unsigned deferred_dropped_ = 0;
};

}  // namespace tv::dev
