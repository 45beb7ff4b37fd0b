#include "shadow_mmu/shadow_mmu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "base/error.h"

namespace tv::mmu {

ShadowMmu::ShadowMmu(GuestMemory& ram) : ram_(ram), traced_bits_((ram.size() / 4096 + 63) / 64) {
  open_bus_fd_ = memfd_create("transvisor-open-bus", MFD_CLOEXEC);
  if (open_bus_fd_ < 0 || ftruncate(open_bus_fd_, 4096) != 0) throw Error(errno_message("open-bus page"));
  std::vector<uint8_t> ones(4096, 0xFF);
  if (pwrite(open_bus_fd_, ones.data(), ones.size(), 0) != 4096) throw Error(errno_message("open-bus page"));
  spaces_.push_back(std::make_unique<Space>(ram_, 0));
  active_ = spaces_[0].get();
  active_->in_use = true;
  identity_views();
}

ShadowMmu::~ShadowMmu() { close(open_bus_fd_); }

void ShadowMmu::identity_views() {
  active_->sup.map_identity();
  active_->user.map_identity();
  for (uint64_t frame : traced_) {
    active_->sup.set_frame_writable(frame, false);
    active_->user.set_frame_writable(frame, false);
  }
}

bool ShadowMmu::locate(const void* host, View& view, uint64_t& offset) const {
  for (View v : {View::kSupervisor, View::kUser}) {
    const ShadowWindow& w = active_->window(v);
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
  for (auto& s : spaces_) {
    if (s->in_use) empty_space(*s);
    s->in_use = false;
  }
  mappings_of_.clear();
  active_->in_use = true;
  active_->cr3 = paging_.cr3;
  if (!paging_.enabled) identity_views();
}

// Forgets every mapping of `s` (mappings_of_ is the caller's business).
void ShadowMmu::empty_space(Space& s) {
  for (View v : {View::kSupervisor, View::kUser}) {
    s.global[size_t(v)].clear();
    s.local[size_t(v)].clear();
    s.in_region[size_t(v)].fill(0);
    s.window(v).unmap_all();
  }
  s.large_regions.clear();
}

const ShadowMmu::Mapping* ShadowMmu::find(Space& s, View v, uint32_t page) const {
  for (auto* maps : {&s.local[size_t(v)], &s.global[size_t(v)]}) {
    auto it = maps->find(page);
    if (it != maps->end()) return &it->second;
  }
  return nullptr;
}

void ShadowMmu::drop(Space& s, View v, uint32_t page, bool unmap) {
  auto& local = s.local[size_t(v)];
  auto& global = s.global[size_t(v)];
  auto it = local.find(page);
  auto& maps = it != local.end() ? local : global;
  if (it == local.end() && (it = global.find(page)) == global.end()) return;
  if (unmap) s.window(v).unmap_page(page);
  --s.in_region[size_t(v)][page >> 22];
  auto list = mappings_of_.find(it->second.frame);
  if (list != mappings_of_.end()) {
    uint64_t k = key(s.index, v, page);
    list->second.erase(std::remove(list->second.begin(), list->second.end(), k), list->second.end());
    if (list->second.empty()) mappings_of_.erase(list);
  }
  maps.erase(it);
}

bool ShadowMmu::invalidate_page(uint32_t linear) {
  if (!paging_.enabled) return false;
  ++stats_.invlpgs;
  const uint32_t region = linear >> 22;
  bool large = active_->large_regions.count(region) != 0;
  large ? clear_tlb() : clear_tlb_page(linear);
  for (auto& s : spaces_) {
    if (!s->in_use) continue;
    // Other spaces hold what stays in a TLB across CR3 writes: global pages.
    const bool active = s.get() == active_;
    uint32_t first = linear & ~0xFFFu, count = 1;
    if (s->large_regions.count(region)) {
      first = region << 22, count = 1024;
      // The active space loses every mapping of the region; another keeps
      // its non-global ones (checked when it is switched to), so the mark.
      if (active) s->large_regions.erase(region);
    }
    for (View v : {View::kSupervisor, View::kUser}) {
      for (uint32_t i = 0; i < count && s->in_region[size_t(v)][region]; ++i) {
        uint32_t page = first + i * 0x1000;
        if (active ? find(*s, v, page) != nullptr : s->global[size_t(v)].count(page) != 0) drop(*s, v, page);
      }
    }
  }
  return large;
}

ShadowMmu::Mapping ShadowMmu::entries_of(uint32_t linear, const Translation& t) const {
  uint32_t pde = ram_.load<uint32_t>(GuestPhys{(paging_.cr3 & ~0xFFFull) + (linear >> 22) * 4});
  if (t.page_size != 0x1000) return {0, pde, 0, true};
  return {0, pde, ram_.load<uint32_t>(GuestPhys{t.pte_addr}), false};
}

bool ShadowMmu::map(View v, uint32_t page, uint64_t frame, bool writable, bool global, const Mapping& from) {
  Space& s = *active_;
  drop(s, v, page, false);
  if (!s.window(v).map_page(page, frame, writable)) return false;
  (global ? s.global : s.local)[size_t(v)][page] = Mapping{frame, from.pde, from.pte, from.large};
  mappings_of_[frame].push_back(key(s.index, v, page));
  ++s.in_region[size_t(v)][page >> 22];
  return true;
}

void ShadowMmu::map_open_bus(View v, uint32_t linear) {
  uint32_t page = linear & ~0xFFFu;
  drop(*active_, v, page, false);
  if (!window(v).map_foreign_page(page, open_bus_fd_)) {
    ++stats_.enomem_flushes;
    flush_all();
    window(v).map_foreign_page(page, open_bus_fd_);
  }
  if (!paging_.enabled) return;  // identity views are rebuilt whole on a flush
  active_->local[size_t(v)][page] = Mapping{kOpenBusFrame, kUnchecked, kUnchecked, true};
  mappings_of_[kOpenBusFrame].push_back(key(active_->index, v, page));
  ++active_->in_region[size_t(v)][page >> 22];
}

// Drops the non-global mappings of `s` whose PDE or PTE is no longer the
// one they were made from (`all`: every non-global mapping); a region that
// loses all its mappings goes with one call.
void ShadowMmu::drop_stale(Space& s, bool all) {
  std::vector<uint32_t> stale;
  const uint64_t pd = s.cr3 & ~0xFFFull;
  const bool evicted = all;
  all = all || pd + 0x1000 > ram_.size();  // a directory outside RAM maps nothing
  for (View v : {View::kSupervisor, View::kUser}) {
    stale.clear();
    for (const auto& [page, m] : s.local[size_t(v)]) {
      if (all) {
        stale.push_back(page);
        continue;
      }
      uint32_t pde = ram_.load<uint32_t>(GuestPhys{pd + (page >> 22) * 4});
      bool ok = pde == m.pde;
      if (ok && !m.large) {
        uint64_t pte_addr = (pde & ~0xFFFull) + ((page >> 12) & 0x3FF) * 4;
        ok = pte_addr + 4 <= ram_.size() && ram_.load<uint32_t>(GuestPhys{pte_addr}) == m.pte;
      }
      if (!ok) stale.push_back(page);
    }
    std::sort(stale.begin(), stale.end());
    if (!evicted) stats_.stale_dropped += stale.size();
    for (size_t i = 0; i < stale.size();) {
      uint32_t region = stale[i] >> 22;
      size_t j = i;
      while (j < stale.size() && stale[j] >> 22 == region) ++j;
      bool whole = j - i == s.in_region[size_t(v)][region];
      if (whole) s.window(v).unmap_range(region << 22, 1u << 22);
      for (; i < j; ++i) drop(s, v, stale[i], !whole);
    }
  }
}

void ShadowMmu::switch_cr3(uint32_t cr3) {
  paging_.cr3 = cr3;
  ++stats_.cr3_switches;
  clear_tlb();
  if (!paging_.enabled) {
    flush_all();
    return;
  }
  active_->last_used = ++clock_;
  Space* next = nullptr;
  for (auto& s : spaces_)
    if (s->in_use && s->cr3 == cr3) next = s.get();
  if (next) {
    if (next != active_) ++stats_.spaces_reused;
  } else {
    for (auto& s : spaces_)
      if (!s->in_use) next = s.get();
    if (!next && spaces_.size() < kSpaces) {
      spaces_.push_back(std::make_unique<Space>(ram_, unsigned(spaces_.size())));
      next = spaces_.back().get();
    }
    if (!next) {
      // The least recently used space goes to the new CR3. Its global
      // mappings stay: they are what a TLB keeps across CR3 writes.
      next = std::min_element(spaces_.begin(), spaces_.end(), [](auto& a, auto& b) {
               return a->last_used < b->last_used;
             })->get();
      drop_stale(*next, true);
    }
    next->in_use = true;
    next->cr3 = cr3;
  }
  active_ = next;
  drop_stale(*next, false);
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
  if (t.page_size != 0x1000) active_->large_regions.insert(linear >> 22);
  bool global = t.global && paging_.pge;
  Mapping from = entries_of(linear, t);
  if (!map(v, linear & ~0xFFFu, frame, writable, global, from)) {
    ++stats_.enomem_flushes;
    flush_all();
    map(v, linear & ~0xFFFu, frame, writable, global, from);
    return {FaultOutcome::Kind::kRetry, 0, 0};
  }
  return {FaultOutcome::Kind::kRetry, 0, 0};
}

void ShadowMmu::open_for_write(View v, uint32_t linear, uint64_t frame) {
  if (!paging_.enabled) {
    window(v).set_frame_writable(frame, true);
    return;
  }
  if (!map(v, linear & ~0xFFFu, frame, true, false, Mapping{0, kUnchecked, kUnchecked, true}))
    flush_all();  // ENOMEM: the write refaults
}

void ShadowMmu::close_after_write(View v, uint32_t linear, uint64_t frame) {
  if (!paging_.enabled) {
    window(v).set_frame_writable(frame, !traced(frame));
    return;
  }
  const Mapping* m = find(*active_, v, linear & ~0xFFFu);
  if (m && m->frame == frame && traced(frame)) window(v).protect_page(linear & ~0xFFFu, false);
}

void ShadowMmu::trace_frame(uint64_t frame) {
  if (!traced_.insert(frame).second) return;
  set_traced_bit(frame, true);
  if (!paging_.enabled) {
    active_->sup.set_frame_writable(frame, false);
    active_->user.set_frame_writable(frame, false);
    return;
  }
  auto it = mappings_of_.find(frame);
  if (it == mappings_of_.end()) return;
  for (uint64_t k : it->second) {
    spaces_[k >> 33]->window(View((k >> 32) & 1)).protect_page(uint32_t(k), false);
    ++stats_.protections;
  }
}

void ShadowMmu::untrace_frame(uint64_t frame) {
  if (!traced_.erase(frame)) return;
  set_traced_bit(frame, false);
  if (!paging_.enabled) {
    active_->sup.set_frame_writable(frame, true);
    active_->user.set_frame_writable(frame, true);
    return;
  }
  // The mappings refault and get the permissions the guest PTEs give.
  auto it = mappings_of_.find(frame);
  if (it == mappings_of_.end()) return;
  std::vector<uint64_t> keys = it->second;
  for (uint64_t k : keys) drop(*spaces_[k >> 33], View((k >> 32) & 1), uint32_t(k));
}

}  // namespace tv::mmu
