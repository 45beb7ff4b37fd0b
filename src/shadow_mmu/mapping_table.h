// The shadow MMU's bookkeeping: which linear page of which view of which
// shadow space maps which guest frame, and the guest entries it was made
// from. The fault handler adds mappings from signal context, so the table
// never allocates after construction and never throws: mappings are nodes
// of a pool sized up front, found through a flat per-view page index and
// linked into two intrusive lists (their view's local or global mappings,
// and their frame's reverse map). A full pool is reported to the caller,
// which flushes (a TLB may drop entries whenever it likes).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/address.h"

namespace tv::mmu {

enum class View : uint8_t { kSupervisor = 0, kUser = 1 };

// A shadow mapping and the guest entries it was made from (a 4 MiB page has
// no PTE; kUnchecked entries never match, so such a mapping goes at the next
// check).
struct Mapping {
  static constexpr uint32_t kUnchecked = ~0u;
  GuestPhys frame;
  GuestLinear page;
  uint32_t pde, pte;
  bool large, global;
  uint8_t space;
  View view;
};

class MappingTable {
 public:
  static constexpr unsigned kMaxSpaces = 8;
  // Guest frames outside RAM (the open-bus page) share one reverse-map list.
  MappingTable(uint64_t ram_bytes, uint32_t capacity);
  ~MappingTable();
  MappingTable(const MappingTable&) = delete;
  MappingTable& operator=(const MappingTable&) = delete;

  // Makes the page index of both views of `space` (allocates; call it when
  // a space is created, never in signal context).
  void add_space(unsigned space);

  const Mapping* find(unsigned space, View v, GuestLinear page) const {
    uint32_t ref = view(space, v).slot[page_number(page)];
    return ref == kNil ? nullptr : &nodes_[ref].m;
  }
  // Records a mapping of `m.page` (which must not be mapped yet); false,
  // changing nothing, when the pool is full.
  bool insert(const Mapping& m);
  // Forgets the mapping of `page`; false if there was none.
  bool erase(unsigned space, View v, GuestLinear page);
  // Forgets every mapping of every space.
  void clear();

  // Mappings in one 4 MiB region (linear >> 22) of a view.
  uint16_t in_region(unsigned space, View v, uint32_t region) const {
    return view(space, v).in_region[region];
  }
  // The non-global mappings of a view, for `fn(const Mapping&)`; `fn` must
  // not change the table.
  template <typename Fn>
  void for_each_local(unsigned space, View v, Fn fn) const {
    for (uint32_t r = view(space, v).local; r != kNil; r = nodes_[r].next) fn(nodes_[r].m);
  }
  // Every mapping of `frame` in any space and view, likewise.
  template <typename Fn>
  void for_each_of_frame(GuestPhys frame, Fn fn) const {
    for (uint32_t r = frame_head_[frame_slot(frame)]; r != kNil; r = nodes_[r].next_frame)
      fn(nodes_[r].m);
  }
  // One mapping of `frame`, or nullptr (to drop them one by one).
  const Mapping* first_of_frame(GuestPhys frame) const {
    uint32_t r = frame_head_[frame_slot(frame)];
    return r == kNil ? nullptr : &nodes_[r].m;
  }

  uint32_t size() const { return size_; }
  uint32_t peak() const { return peak_; }  // the largest size so far
  uint32_t capacity() const { return capacity_; }

 private:
  static constexpr uint32_t kNil = 0;  // node 0 is never used: zeroed memory is empty
  static constexpr uint32_t kPagesPerView = 1u << 20;

  struct Node {
    Mapping m;
    uint32_t prev, next;              // the view's local or global list; `next`: the free list
    uint32_t prev_frame, next_frame;  // the frame's reverse map
  };

  // One view of one space: linear page number -> node (a flat index in
  // lazily committed memory: only the parts of the linear space in use
  // cost host pages), the list heads, and mappings per 4 MiB region.
  struct ViewMaps {
    uint32_t* slot = nullptr;  // kPagesPerView entries, mmap'd
    uint32_t local = kNil, global = kNil;
    std::array<uint16_t, 1024> in_region{};
  };

  ViewMaps& view(unsigned space, View v) { return views_[space * 2 + unsigned(v)]; }
  const ViewMaps& view(unsigned space, View v) const { return views_[space * 2 + unsigned(v)]; }
  size_t frame_slot(GuestPhys frame) const {
    uint64_t n = page_number(frame);
    return n < ram_frames_ ? size_t(n) : size_t(ram_frames_);
  }
  uint32_t& head_of(const Mapping& m) {
    ViewMaps& vm = view(m.space, m.view);
    return m.global ? vm.global : vm.local;
  }

  const uint64_t ram_frames_;
  const uint32_t capacity_;
  std::unique_ptr<Node[]> nodes_;  // capacity_ + 1, uninitialised until used
  uint32_t unused_ = 1;            // nodes from here on were never used
  uint32_t free_ = kNil;           // released nodes, linked through `next`
  uint32_t size_ = 0;
  uint32_t peak_ = 0;
  std::vector<uint32_t> frame_head_;  // per RAM frame, plus one for the rest
  std::array<ViewMaps, kMaxSpaces * 2> views_{};
};

}  // namespace tv::mmu
