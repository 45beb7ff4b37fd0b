#include "shadow_mmu/mapping_table.h"

#include <sys/mman.h>

#include "base/error.h"

namespace tv::mmu {

MappingTable::MappingTable(uint64_t ram_bytes, uint32_t capacity)
    : ram_frames_(ram_bytes / kPageSize),
      capacity_(capacity),
      nodes_(std::make_unique_for_overwrite<Node[]>(size_t(capacity) + 1)),
      frame_head_(ram_frames_ + 1, kNil) {}

MappingTable::~MappingTable() {
  for (ViewMaps& vm : views_)
    if (vm.slot) munmap(vm.slot, kPagesPerView * sizeof(uint32_t));
}

void MappingTable::add_space(unsigned space) {
  for (View v : {View::kSupervisor, View::kUser}) {
    ViewMaps& vm = view(space, v);
    if (vm.slot) continue;
    // SAFETY: private anonymous memory of our own. The kernel hands it out
    // zero-filled on first touch, and zero is kNil: a fresh index is empty
    // and only the host pages behind linear pages in use get committed.
    void* p = mmap(nullptr, kPagesPerView * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw Error(errno_message("allocate a shadow page index"));
    vm.slot = static_cast<uint32_t*>(p);
  }
}

bool MappingTable::insert(const Mapping& m) {
  uint32_t ref;
  if (free_ != kNil) {
    ref = free_;
    free_ = nodes_[ref].next;
  } else if (unused_ <= capacity_) {
    ref = unused_++;
  } else {
    return false;
  }
  Node& n = nodes_[ref];
  n.m = m;
  uint32_t& head = head_of(m);
  n.prev = kNil, n.next = head;
  if (head != kNil) nodes_[head].prev = ref;
  head = ref;
  uint32_t& frame_head = frame_head_[frame_slot(m.frame)];
  n.prev_frame = kNil, n.next_frame = frame_head;
  if (frame_head != kNil) nodes_[frame_head].prev_frame = ref;
  frame_head = ref;
  ViewMaps& vm = view(m.space, m.view);
  vm.slot[page_number(m.page)] = ref;
  ++vm.in_region[m.page.value >> 22];
  if (++size_ > peak_) peak_ = size_;
  return true;
}

bool MappingTable::erase(unsigned space, View v, GuestLinear page) {
  ViewMaps& vm = view(space, v);
  uint32_t& slot = vm.slot[page_number(page)];
  const uint32_t ref = slot;
  if (ref == kNil) return false;
  slot = kNil;
  Node& n = nodes_[ref];
  (n.prev != kNil ? nodes_[n.prev].next : head_of(n.m)) = n.next;
  if (n.next != kNil) nodes_[n.next].prev = n.prev;
  (n.prev_frame != kNil ? nodes_[n.prev_frame].next_frame : frame_head_[frame_slot(n.m.frame)]) =
      n.next_frame;
  if (n.next_frame != kNil) nodes_[n.next_frame].prev_frame = n.prev_frame;
  --vm.in_region[page.value >> 22];
  --size_;
  n.next = free_;
  free_ = ref;
  return true;
}

// Touches only what is in use: the index slots and frame heads of live
// mappings (a flush of a few mappings costs a few stores).
void MappingTable::clear() {
  for (ViewMaps& vm : views_) {
    if (!vm.slot) continue;
    for (uint32_t head : {vm.local, vm.global}) {
      for (uint32_t r = head; r != kNil; r = nodes_[r].next) {
        vm.slot[page_number(nodes_[r].m.page)] = kNil;
        frame_head_[frame_slot(nodes_[r].m.frame)] = kNil;
      }
    }
    vm.local = vm.global = kNil;
    vm.in_region.fill(0);
  }
  unused_ = 1, free_ = kNil, size_ = 0;
}

}  // namespace tv::mmu
