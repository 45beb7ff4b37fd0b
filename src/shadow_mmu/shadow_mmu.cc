#include "shadow_mmu/shadow_mmu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "vmm/error.h"

namespace tv::mmu {

ShadowMmu::ShadowMmu(GuestMemory& ram)
    : ram_(ram), sup_(ram), user_(ram), traced_bits_((ram.size() / 4096 + 63) / 64) {
  open_bus_fd_ = memfd_create("transvisor-open-bus", MFD_CLOEXEC);
  if (open_bus_fd_ < 0 || ftruncate(open_bus_fd_, 4096) != 0) throw Error(errno_message("open-bus page"));
  std::vector<uint8_t> ones(4096, 0xFF);
  if (pwrite(open_bus_fd_, ones.data(), ones.size(), 0) != 4096) throw Error(errno_message("open-bus page"));
  identity_views();
}

ShadowMmu::~ShadowMmu() { close(open_bus_fd_); }

void ShadowMmu::map_open_bus(View v, uint32_t linear) {
  uint32_t page = linear & ~0xFFFu;
  forget(v, page);
  if (!window(v).map_foreign_page(page, open_bus_fd_)) {
    ++stats_.enomem_flushes;
    flush_all();
    window(v).map_foreign_page(page, open_bus_fd_);
  }
  if (!paging_.enabled) return;  // identity views are rebuilt whole on a flush
  frame_of_[key(v, page)] = kOpenBusFrame;
  mappings_of_[kOpenBusFrame].push_back(key(v, page));
  ++nonglobal_in_region_[size_t(v)][page >> 22];
}

void ShadowMmu::identity_views() {
  sup_.map_identity();
  user_.map_identity();
  for (uint64_t frame : traced_) {
    sup_.set_frame_writable(frame, false);
    user_.set_frame_writable(frame, false);
  }
}

bool ShadowMmu::locate(const void* host, View& view, uint64_t& offset) const {
  for (View v : {View::kSupervisor, View::kUser}) {
    const ShadowWindow& w = v == View::kUser ? user_ : sup_;
    if (w.contains(host)) {
      view = v;
      offset = w.offset_of(host);
      return true;
    }
  }
  return false;
}

void ShadowMmu::set_paging(const PagingState& p) {
  if (p == paging_) return;
  paging_ = p;
  flush_all();
}

void ShadowMmu::flush_all() {
  ++stats_.flushes;
  clear_tlb();
  frame_of_.clear();
  mappings_of_.clear();
  large_regions_.clear();
  global_.clear();
  for (auto* counts : {&nonglobal_in_region_, &global_in_region_})
    for (auto& view : *counts) view.fill(0);
  sup_.unmap_all();
  user_.unmap_all();
  if (!paging_.enabled) identity_views();
}

void ShadowMmu::forget(View v, uint32_t page) {
  auto it = frame_of_.find(key(v, page));
  if (it == frame_of_.end()) return;
  auto& counts = global_.erase(key(v, page)) ? global_in_region_ : nonglobal_in_region_;
  --counts[size_t(v)][page >> 22];
  auto& list = mappings_of_[it->second];
  list.erase(std::remove(list.begin(), list.end(), key(v, page)), list.end());
  if (list.empty()) mappings_of_.erase(it->second);
  frame_of_.erase(it);
}

bool ShadowMmu::invalidate_page(uint32_t linear) {
  if (!paging_.enabled) return false;
  ++stats_.invlpgs;
  clear_tlb();
  uint32_t first = linear & ~0xFFFu, count = 1;
  if (large_regions_.erase(linear >> 22)) first = linear & ~0x3FFFFFu, count = 1024;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t page = first + i * 0x1000;
    for (View v : {View::kSupervisor, View::kUser}) {
      if (!frame_of_.count(key(v, page))) continue;
      window(v).unmap_page(page);
      forget(v, page);
    }
  }
  return count > 1;
}

bool ShadowMmu::map(View v, uint32_t page, uint64_t frame, bool writable, bool global) {
  forget(v, page);
  if (!window(v).map_page(page, frame, writable)) return false;
  frame_of_[key(v, page)] = frame;
  mappings_of_[frame].push_back(key(v, page));
  if (global) global_.insert(key(v, page));
  ++(global ? global_in_region_ : nonglobal_in_region_)[size_t(v)][page >> 22];
  return true;
}

void ShadowMmu::drop_region(View v, uint32_t region) {
  uint32_t first = region << 22;
  bool whole = global_in_region_[size_t(v)][region] == 0;
  if (whole) window(v).unmap_range(first, 1u << 22);
  for (uint32_t i = 0; i < 1024 && nonglobal_in_region_[size_t(v)][region]; ++i) {
    uint32_t page = first + i * 0x1000;
    uint64_t k = key(v, page);
    if (!frame_of_.count(k) || global_.count(k)) continue;
    if (!whole) window(v).unmap_page(page);
    forget(v, page);
  }
}

void ShadowMmu::switch_cr3(uint32_t cr3) {
  paging_.cr3 = cr3;
  ++stats_.cr3_switches;
  if (!paging_.enabled || !paging_.pge) {
    flush_all();
    return;
  }
  clear_tlb();
  for (View v : {View::kSupervisor, View::kUser})
    for (uint32_t r = 0; r < 1024; ++r)
      if (nonglobal_in_region_[size_t(v)][r]) drop_region(v, r);
}

FaultOutcome ShadowMmu::handle_fault(View v, uint32_t linear, bool write) {
  if (!paging_.enabled) {
    uint64_t frame = linear & ~0xFFFull;
    if (linear < ram_.size() && traced(frame)) return {FaultOutcome::Kind::kCodeWrite, 0, frame};
    return {FaultOutcome::Kind::kNotRam, 0, linear};
  }
  Translation t = translate(linear, write ? AccessType::kWrite : AccessType::kRead, v == View::kUser);
  if (!t.ok) {
    ++stats_.guest_page_faults;
    return {FaultOutcome::Kind::kPageFault, t.error_code, 0};
  }
  uint64_t frame = t.phys & ~0xFFFull;
  if (frame >= ram_.size()) return {FaultOutcome::Kind::kNotRam, 0, t.phys};
  if (write && traced(frame)) return {FaultOutcome::Kind::kCodeWrite, 0, frame};
  // Writable only once the guest PTE is dirty, so that the first write
  // faults here and sets D, and never while the frame holds code.
  bool writable = t.writable && t.dirty && !traced(frame);
  ++stats_.hidden_faults;
  if (t.page_size != 0x1000) large_regions_.insert(linear >> 22);
  bool global = t.global && paging_.pge;
  if (!map(v, linear & ~0xFFFu, frame, writable, global)) {
    ++stats_.enomem_flushes;
    flush_all();
    map(v, linear & ~0xFFFu, frame, writable, global);
    return {FaultOutcome::Kind::kRetry, 0, 0};
  }
  if (t.page_size == 0x1000) prefetch_neighbours(v, linear);
  return {FaultOutcome::Kind::kRetry, 0, 0};
}

// Maps the pages around a hidden fault that the guest has already used:
// present PTEs with A set (and D set for a writable mapping), so nothing
// the guest can see changes. They would fault one by one otherwise, which
// is what a process does again after every CR3 switch.
void ShadowMmu::prefetch_neighbours(View v, uint32_t linear) {
  constexpr int kRadius = 8;
  uint32_t page = linear & ~0xFFFu;
  for (int k = -kRadius; k <= kRadius; ++k) {
    uint32_t n = page + uint32_t(k) * 0x1000;
    if (k == 0 || (n >> 22) != (page >> 22) || frame_of_.count(key(v, n))) continue;
    Translation t = translate(n, AccessType::kRead, v == View::kUser, false);
    if (!t.ok || t.page_size != 0x1000) continue;
    uint32_t pte = ram_.load<uint32_t>(GuestPhys{t.pte_addr});
    uint64_t frame = t.phys & ~0xFFFull;
    if (!(pte & 0x20) || frame >= ram_.size()) continue;  // never accessed, or not RAM
    bool writable = t.writable && (pte & 0x40) && !traced(frame);
    if (!map(v, n, frame, writable, t.global && paging_.pge)) return;  // ENOMEM: the next fault flushes
    ++stats_.prefetched;
  }
}

void ShadowMmu::open_for_write(View v, uint32_t linear, uint64_t frame) {
  if (!paging_.enabled) {
    window(v).set_frame_writable(frame, true);
    return;
  }
  if (!map(v, linear & ~0xFFFu, frame, true)) flush_all();  // ENOMEM: the write refaults
}

void ShadowMmu::close_after_write(View v, uint32_t linear, uint64_t frame) {
  if (!paging_.enabled) {
    window(v).set_frame_writable(frame, !traced(frame));
    return;
  }
  auto it = frame_of_.find(key(v, linear & ~0xFFFu));
  if (it != frame_of_.end() && it->second == frame && traced(frame))
    window(v).protect_page(linear & ~0xFFFu, false);
}

void ShadowMmu::trace_frame(uint64_t frame) {
  if (!traced_.insert(frame).second) return;
  set_traced_bit(frame, true);
  if (!paging_.enabled) {
    sup_.set_frame_writable(frame, false);
    user_.set_frame_writable(frame, false);
    return;
  }
  auto it = mappings_of_.find(frame);
  if (it == mappings_of_.end()) return;
  for (uint64_t k : it->second) {
    window(View(k >> 32)).protect_page(uint32_t(k), false);
    ++stats_.protections;
  }
}

void ShadowMmu::untrace_frame(uint64_t frame) {
  if (!traced_.erase(frame)) return;
  set_traced_bit(frame, false);
  if (!paging_.enabled) {
    sup_.set_frame_writable(frame, true);
    user_.set_frame_writable(frame, true);
    return;
  }
  // The mappings refault and get the permissions the guest PTEs give.
  auto it = mappings_of_.find(frame);
  if (it == mappings_of_.end()) return;
  std::vector<uint64_t> keys = it->second;
  for (uint64_t k : keys) {
    window(View(k >> 32)).unmap_page(uint32_t(k));
    forget(View(k >> 32), uint32_t(k));
  }
}

}  // namespace tv::mmu
