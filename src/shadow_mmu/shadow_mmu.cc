#include "shadow_mmu/shadow_mmu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace tv::mmu {
namespace {

using x86::kPage4K;
using x86::kPage4M;
constexpr View kViews[] = {View::kSupervisor, View::kUser};

// Every frame of RAM mapped in four views (the kernel's direct map and a
// user alias, in two spaces), and never fewer than 64 Ki mappings (the
// host's default vm.max_map_count). Nodes cost host memory only once used.
uint32_t default_capacity(const GuestMemory& ram) {
  return uint32_t(std::clamp<uint64_t>(4 * (ram.size() / kPageSize), 1u << 16, 1u << 22));
}

}  // namespace

ShadowMmu::ShadowMmu(GuestMemory& ram, uint32_t mapping_capacity)
    : ram_(ram),
      table_(ram.size(), std::max(1u, mapping_capacity ? mapping_capacity : default_capacity(ram))),
      traced_bits_((ram.size() / kPageSize + 63) / 64) {
  open_bus_fd_ = memfd_create("transvisor-open-bus", MFD_CLOEXEC);
  if (open_bus_fd_ < 0 || ftruncate(open_bus_fd_, kPageSize) != 0)
    throw Error(errno_message("open-bus page"));
  std::vector<uint8_t> ones(kPageSize, 0xFF);
  if (pwrite(open_bus_fd_, ones.data(), ones.size(), 0) != ssize_t(kPageSize))
    throw Error(errno_message("open-bus page"));
  scratch_fd_ = memfd_create("transvisor-scratch", MFD_CLOEXEC);
  if (scratch_fd_ < 0 || ftruncate(scratch_fd_, kPageSize) != 0)
    throw Error(errno_message("scratch page"));
  void* scratch = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, scratch_fd_, 0);
  if (scratch == MAP_FAILED) throw Error(errno_message("scratch page"));
  scratch_ = static_cast<uint8_t*>(scratch);
  stale_.reserve(table_.capacity());
  spaces_.reserve(kSpaces);
  active_ = &new_space();
  active_->in_use = true;
  throw_if_failed(identity_views());
}

ShadowMmu::~ShadowMmu() {
  munmap(scratch_, kPageSize);
  close(scratch_fd_);
  close(open_bus_fd_);
}

ShadowMmu::Space& ShadowMmu::new_space() {
  const unsigned index = unsigned(spaces_.size());
  spaces_.push_back(std::make_unique<Space>(ram_, index));
  table_.add_space(index);
  return *spaces_.back();
}

HostStatus ShadowMmu::identity_views() {
  for (View v : kViews) {
    ShadowWindow& w = active_->window(v);
    if (HostStatus s = w.map_identity(); !s.ok()) return s;
    for (size_t i = 0; i < traced_bits_.size(); ++i) {
      for (uint64_t bits = traced_bits_[i]; bits; bits &= bits - 1) {
        GuestPhys frame{(i * 64 + unsigned(__builtin_ctzll(bits))) * kPageSize};
        if (HostStatus s = w.set_frame_writable(frame, false); !s.ok()) return s;
      }
    }
  }
  return {};
}

std::optional<WindowAddress> ShadowMmu::locate(const void* host) const {
  for (View v : kViews) {
    const ShadowWindow& w = active_->window(v);
    if (w.contains(host)) return WindowAddress{v, w.offset_of(host)};
  }
  return std::nullopt;
}

void ShadowMmu::set_paging(const PagingState& p) {
  if (p == paging_) return;
  paging_ = p;
  flush_all();
}

void ShadowMmu::flush_all() { throw_if_failed(flush()); }

HostStatus ShadowMmu::flush() {
  ++stats_.flushes;
  clear_tlb();
  HostStatus status{};
  for (auto& s : spaces_) {
    if (s->in_use) {
      for (View v : kViews)
        if (HostStatus u = s->window(v).unmap_all(); status.ok()) status = u;
      s->large_regions.reset();
    }
    s->in_use = false;
  }
  table_.clear();
  deferred_ = {};  // whatever failed to unmap is gone now
  active_->in_use = true;
  active_->cr3 = paging_.cr3;
  if (status.ok() && !paging_.enabled) status = identity_views();
  return status;
}

void ShadowMmu::settle() {
  HostStatus s = std::exchange(deferred_, HostStatus{});
  if (s.ok()) return;
  if (!s.out_of_mappings()) throw_if_failed(s);
  ++stats_.enomem_flushes;
  flush_all();
}

void ShadowMmu::drop(Space& s, View v, GuestLinear page, bool unmap) {
  if (table_.erase(s.index, v, page) && unmap) note(s.window(v).unmap_page(page));
}

bool ShadowMmu::invalidate_page(GuestLinear linear) {
  if (!paging_.enabled) return false;
  ++stats_.invlpgs;
  const uint32_t region = region_of(linear);
  const bool large = active_->large_regions.test(region);
  large ? clear_tlb() : clear_tlb_page(linear);
  for (auto& s : spaces_) {
    if (!s->in_use) continue;
    // Other spaces hold what stays in a TLB across CR3 writes: global pages.
    const bool active = s.get() == active_;
    GuestLinear first = page_of(linear);
    uint32_t count = 1;
    if (s->large_regions.test(region)) {
      first = GuestLinear{region << 22}, count = kPage4M / kPage4K;
      // The active space loses every mapping of the region; another keeps
      // its non-global ones (checked when it is switched to), so the mark.
      if (active) s->large_regions.reset(region);
    }
    for (View v : kViews) {
      for (uint32_t i = 0; i < count && table_.in_region(s->index, v, region); ++i) {
        const GuestLinear page = first + i * kPage4K;
        const Mapping* m = table_.find(s->index, v, page);
        if (m && (active || m->global)) drop(*s, v, page);
      }
    }
  }
  settle();
  return large;
}

HostStatus ShadowMmu::map_into(ShadowWindow& w, const Mapping& m, bool writable) const {
  return m.frame == kOpenBusFrame ? w.map_foreign_page(m.page, open_bus_fd_)
                                  : w.map_page(m.page, m.frame, writable);
}

// One attempt: ENOMEM also when the table is full.
HostStatus ShadowMmu::try_install(Mapping& m, bool writable) {
  Space& s = *active_;
  m.space = uint8_t(s.index);
  table_.erase(s.index, m.view, m.page);  // the mmap below replaces it
  if (table_.size() == table_.capacity()) return {ENOMEM, "record a shadow mapping"};
  HostStatus status = map_into(s.window(m.view), m, writable);
  if (status.ok()) table_.insert(m);
  return status;
}

HostStatus ShadowMmu::install(Mapping m, bool writable) {
  HostStatus status = try_install(m, writable);
  if (!status.out_of_mappings()) return status;
  // The table is full or the host's mapping limit is reached: everything
  // goes (a TLB may drop entries whenever it likes), then this page comes back.
  ++(table_.size() == table_.capacity() ? stats_.capacity_flushes : stats_.enomem_flushes);
  if (status = flush(); !status.ok()) return status;
  return try_install(m, writable);
}

HostStatus ShadowMmu::map_open_bus(View v, GuestLinear linear) {
  const GuestLinear page = page_of(linear);
  if (paging_.enabled)
    return install(
        Mapping{kOpenBusFrame, page, Mapping::kUnchecked, Mapping::kUnchecked, true, false, 0, v},
        false);
  // Identity views are rebuilt whole on a flush: nothing to record.
  HostStatus s = window(v).map_foreign_page(page, open_bus_fd_);
  if (!s.out_of_mappings()) return s;
  ++stats_.enomem_flushes;
  if (s = flush(); !s.ok()) return s;
  return window(v).map_foreign_page(page, open_bus_fd_);
}

HostStatus ShadowMmu::begin_scratch(View v, GuestLinear linear) {
  return window(v).map_foreign_page(page_of(linear), scratch_fd_, true);
}

HostStatus ShadowMmu::end_scratch(View v, GuestLinear linear) {
  const GuestLinear page = page_of(linear);
  // Only open-bus pages are recorded for addresses outside RAM; identity
  // views record nothing (an open-bus page there comes back on a fault).
  if (paging_.enabled && table_.find(active_->index, v, page))
    return window(v).map_foreign_page(page, open_bus_fd_);
  return window(v).unmap_page(page);
}

std::optional<uint32_t> ShadowMmu::entry_at(GuestPhys addr) const {
  const uint8_t* p = ram_.host(addr, sizeof(uint32_t));
  if (!p) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The directory lies in RAM (the caller checked).
bool ShadowMmu::entries_changed(uint32_t cr3, const Mapping& m) const {
  std::optional<uint32_t> pde = entry_at(pde_address(cr3, m.page));
  if (pde != m.pde) return true;
  return !m.large && entry_at(pte_address(*pde, m.page)) != m.pte;
}

// Drops `pages` of one view; a region that loses all its mappings goes
// with one call.
void ShadowMmu::drop_pages(Space& s, View v, const std::vector<GuestLinear>& pages) {
  for (GuestLinear p : pages) ++stale_in_region_[region_of(p)];
  for (GuestLinear p : pages) {
    const uint32_t r = region_of(p);
    if (!region_seen_.test(r)) {  // nothing of region r dropped yet: its count is whole
      region_seen_.set(r);
      region_whole_[r] = stale_in_region_[r] == table_.in_region(s.index, v, r);
      if (region_whole_[r]) note(s.window(v).unmap_range(GuestLinear{r << 22}, kPage4M));
    }
    drop(s, v, p, !region_whole_[r]);
  }
  for (GuestLinear p : pages) stale_in_region_[region_of(p)] = 0;
  region_seen_.reset();
  region_whole_.reset();
}

// Drops the non-global mappings of `s` whose PDE or PTE is no longer the
// one they were made from (`all`: every non-global mapping).
void ShadowMmu::drop_stale(Space& s, bool all) {
  const bool evicted = all;
  all = all || !ram_.contains(pde_address(s.cr3, GuestLinear{0}),
                              kPage4K);  // a directory outside RAM maps nothing
  for (View v : kViews) {
    stale_.clear();  // capacity reserved: no allocation
    table_.for_each_local(s.index, v, [&](const Mapping& m) {
      if (all || entries_changed(s.cr3, m)) stale_.push_back(m.page);
    });
    if (!evicted) stats_.stale_dropped += stale_.size();
    drop_pages(s, v, stale_);
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
    if (!next && spaces_.size() < kSpaces) next = &new_space();
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
  settle();
}

FaultOutcome ShadowMmu::handle_fault(View v, GuestLinear linear, bool write) {
  if (!paging_.enabled) {
    const GuestPhys phys{linear.value};
    if (phys.value < ram_.size() && traced(page_of(phys)))
      return {FaultOutcome::Kind::kCodeWrite, 0, page_of(phys)};
    return {FaultOutcome::Kind::kNotRam, 0, phys};
  }
  Translation t =
      translate(linear, write ? AccessType::kWrite : AccessType::kRead, v == View::kUser);
  if (!t.ok) {
    ++stats_.guest_page_faults;
    return {FaultOutcome::Kind::kPageFault, t.error_code};
  }
  const GuestPhys frame = page_of(t.phys);
  if (frame.value >= ram_.size()) return {FaultOutcome::Kind::kNotRam, 0, t.phys};
  if (write && traced(frame)) return {FaultOutcome::Kind::kCodeWrite, 0, frame};
  // Writable only once the guest PTE is dirty, so that the first write
  // faults here and sets D, and never while the frame holds code.
  const bool writable = t.writable && t.dirty && !traced(frame);
  ++stats_.hidden_faults;
  Mapping m{frame, page_of(linear), t.pde, t.pte, t.large(), t.global && paging_.pge, 0, v};
  if (HostStatus s = install(m, writable); !s.ok())
    return {FaultOutcome::Kind::kHostError, 0, {}, s};
  if (t.large()) active_->large_regions.set(region_of(linear));  // after install: a flush clears it
  return {FaultOutcome::Kind::kRetry};
}

void ShadowMmu::open_for_write(View v, GuestLinear linear, GuestPhys frame) {
  if (!paging_.enabled) return throw_if_failed(window(v).set_frame_writable(frame, true));
  throw_if_failed(install(
      Mapping{frame, page_of(linear), Mapping::kUnchecked, Mapping::kUnchecked, true, false, 0, v},
      true));
}

void ShadowMmu::close_after_write(View v, GuestLinear linear, GuestPhys frame) {
  if (!paging_.enabled) return throw_if_failed(window(v).set_frame_writable(frame, !traced(frame)));
  const Mapping* m = table_.find(active_->index, v, page_of(linear));
  if (m && m->frame == frame && traced(frame)) note(window(v).protect_page(page_of(linear), false));
  settle();
}

void ShadowMmu::trace_frame(GuestPhys frame) {
  if (traced(frame) || !ram_.contains(frame, kPage4K)) return;
  set_traced_bit(frame, true);
  if (!paging_.enabled) {
    for (View v : kViews) throw_if_failed(active_->window(v).set_frame_writable(frame, false));
    return;
  }
  table_.for_each_of_frame(frame, [&](const Mapping& m) {
    note(spaces_[m.space]->window(m.view).protect_page(m.page, false));
    ++stats_.protections;
  });
  settle();
}

void ShadowMmu::untrace_frame(GuestPhys frame) {
  if (!traced(frame)) return;
  set_traced_bit(frame, false);
  if (!paging_.enabled) {
    for (View v : kViews) throw_if_failed(active_->window(v).set_frame_writable(frame, true));
    return;
  }
  // The mappings refault and get the permissions the guest PTEs give.
  while (const Mapping* m = table_.first_of_frame(frame)) {
    const Mapping gone = *m;
    drop(*spaces_[gone.space], gone.view, gone.page);
  }
  settle();
}

}  // namespace tv::mmu
