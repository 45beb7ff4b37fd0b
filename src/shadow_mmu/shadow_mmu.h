// The shadow MMU: shadow address spaces, each two shadow windows (a
// supervisor view and a user view that only maps user-accessible pages, so
// the host MMU enforces U/S), the guest paging state, hidden-fault handling
// (walk the guest tables, set A/D, map the frame), invalidation (CR3 writes,
// INVLPG, guest #PF), and code tracing by physical frame across every
// space, view and linear alias (DESIGN.md "Shadow MMU").
//
// With paging off the active space's views are identity views of
// guest-physical memory. With paging on they start empty and fill on
// demand. A mapping is read-only while the guest PTE is clean (so the first
// write sets D), while the guest may not write, or while the frame holds
// translated code.
//
// Spaces are cached per CR3 (kSpaces of them, least recently used goes).
// Every non-global mapping remembers the PDE and PTE it was made from; a
// CR3 write makes the space for the new CR3 active and drops exactly the
// mappings whose entries changed since (what a TLB flush followed by
// refaults would give, without the refaults). Global mappings survive CR3
// writes, as global TLB entries do, and so stay in a space that goes to
// another CR3; INVLPG drops them in every space.
//
// handle_fault() and map_open_bus() run in the fault handler, in signal
// context: they allocate nothing, throw nothing and report host failures
// as values. Everything else runs in the dispatcher or a callout and throws
// tv::Error for a host failure. When the mapping table is full, or the host
// runs out of mappings (vm.max_map_count), everything is flushed, as a TLB
// may drop entries whenever it likes.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/address.h"
#include "base/guest_memory.h"
#include "shadow_mmu/mapping_table.h"
#include "shadow_mmu/page_walker.h"
#include "shadow_mmu/shadow_window.h"

namespace tv::mmu {

struct PagingState {
  bool enabled = false;
  uint32_t cr3 = 0;
  bool pse = false;
  bool pge = false;
  bool wp = false;
  bool operator==(const PagingState&) const = default;
};

// Where a host address lies in the active space's windows.
struct WindowAddress {
  View view;
  uint64_t offset;  // the guest linear address; 4 GiB and up in a guard (below 0 wraps)
  bool in_guard() const { return offset >= ShadowWindow::kSpan; }
  GuestLinear linear() const { return {uint32_t(offset)}; }
};

struct FaultOutcome {
  enum class Kind { kRetry, kPageFault, kCodeWrite, kNotRam, kHostError } kind;
  uint32_t error_code = 0;  // kPageFault
  GuestPhys phys{};         // kCodeWrite: the frame; kNotRam: the physical address
  HostStatus host{};        // kHostError: a host call failed even after a flush
};

// A software translation: the guest-physical address, or the #PF error code.
struct PhysOrFault {
  bool ok;
  uint32_t error_code;  // !ok
  GuestPhys phys;       // ok
};

struct MmuStats {
  uint64_t hidden_faults = 0, guest_page_faults = 0, flushes = 0, invlpgs = 0, enomem_flushes = 0;
  uint64_t capacity_flushes = 0;  // flushes because the mapping table was full
  uint64_t protections = 0;       // mappings made read-only for code tracing
  uint64_t cr3_switches = 0;
  uint64_t spaces_reused = 0;  // CR3 switches that found the space cached
  uint64_t stale_dropped = 0;  // cached mappings dropped because their PDE/PTE changed
};

class ShadowMmu {
 public:
  static constexpr unsigned kSpaces = MappingTable::kMaxSpaces;
  // `mapping_capacity`: how many shadow mappings all spaces and views hold
  // together (0: the default for `ram`).
  explicit ShadowMmu(GuestMemory& ram, uint32_t mapping_capacity = 0);
  ~ShadowMmu();

  // The active space's windows.
  ShadowWindow& window(View v) { return active_->window(v); }
  // Which view of the active space `host` lies in, and where.
  std::optional<WindowAddress> locate(const void* host) const;

  const PagingState& paging() const { return paging_; }
  // CR0.PG/CR3/CR4.PSE/CR0.WP changed: every mapping goes.
  void set_paging(const PagingState& p);
  void flush_all();
  // A CR3 write (SDM Vol. 3A 4.10.4.1): activates the space cached for
  // `cr3` (or the least recently used one, emptied) and drops its
  // non-global mappings whose guest entries changed.
  void switch_cr3(uint32_t cr3);
  // INVLPG: drops the page in the active space, and global mappings of it
  // in every space. Returns true if a whole 4 MiB region was dropped (a
  // large page).
  bool invalidate_page(GuestLinear linear);

  // A host fault at `linear` in view `v` (write: the host error code's W
  // bit). Async-signal-safe.
  FaultOutcome handle_fault(View v, GuestLinear linear, bool write);
  // Maps a page whose guest-physical address nothing decodes to a page of
  // all-ones, read-only: reads see an open PC bus at full speed; writes
  // still fault and are dropped by the fault handler. Async-signal-safe.
  HostStatus map_open_bus(View v, GuestLinear linear);

  // One instruction single-stepped against a scratch page (the fault
  // handler's way to run device accesses it cannot emulate): the page of
  // `linear` in view `v` becomes a writable scratch page whose bytes the
  // caller sets and reads through scratch(); end_scratch() puts back what
  // the shadow MMU has for that page (its open-bus mapping, or nothing).
  // The scratch page is never recorded as a mapping. Async-signal-safe.
  HostStatus begin_scratch(View v, GuestLinear linear);
  HostStatus end_scratch(View v, GuestLinear linear);
  uint8_t* scratch() const { return scratch_; }

  // Lets one write through `linear` in view `v` reach traced `frame` (the
  // written bytes hold no translated code), or closes that again.
  void open_for_write(View v, GuestLinear linear, GuestPhys frame);
  void close_after_write(View v, GuestLinear linear, GuestPhys frame);

  // Code tracing by physical frame (frames of RAM only: nothing else holds code).
  void trace_frame(GuestPhys frame);
  void untrace_frame(GuestPhys frame);
  bool traced(GuestPhys frame) const {
    uint64_t n = page_number(frame);
    return n < traced_bits_.size() * 64 && (traced_bits_[n >> 6] >> (n & 63)) & 1;
  }

  // Software translation for helpers and the translator.
  Translation translate(GuestLinear linear, AccessType access, bool user, bool set_ad = true) {
    return walk(ram_, {paging_.cr3, paging_.pse, paging_.wp}, linear, access, user, set_ad);
  }
  // Reads and fetches through a small software TLB (the dispatcher walks
  // for every block lookup). Entries go with every invalidation.
  PhysOrFault translate_read(GuestLinear linear, bool user) {
    return translate_cached(linear, user, false);
  }
  // Writes hit the TLB only for pages already walked for a write (so A and
  // D are set and the guest allows it); the first write walks and sets D.
  PhysOrFault translate_write(GuestLinear linear, bool user) {
    return translate_cached(linear, user, true);
  }
  // The TLB alone.
  std::optional<GuestPhys> tlb_lookup(GuestLinear linear, bool user, bool write) const {
    const TlbEntry& e = tlb_[user + 2 * write][page_number(linear) % kTlbSize];
    if (e.tag != tlb_tag(linear)) return std::nullopt;
    return GuestPhys{e.frame.value | page_offset(linear)};
  }
  PhysOrFault translate_cached(GuestLinear linear, bool user, bool write) {
    TlbEntry& e = tlb_[user + 2 * write][page_number(linear) % kTlbSize];
    if (e.tag == tlb_tag(linear)) return {true, 0, GuestPhys{e.frame.value | page_offset(linear)}};
    Translation t = translate(linear, write ? AccessType::kWrite : AccessType::kRead, user);
    if (!t.ok) return {false, t.error_code, {}};
    e = {tlb_tag(linear), page_of(t.phys)};
    return {true, 0, t.phys};
  }

  const MmuStats& stats() const { return stats_; }
  // True if the active space maps the page of `linear` in view `v`.
  bool mapped(View v, GuestLinear linear) const {
    return table_.find(active_->index, v, page_of(linear)) != nullptr;
  }
  uint32_t mapping_count() const { return table_.size(); }
  uint32_t mapping_peak() const { return table_.peak(); }
  uint32_t mapping_capacity() const { return table_.capacity(); }

 private:
  struct TlbEntry {
    uint32_t tag;  // tlb_tag() of the linear page; kEmptyTag: nothing
    GuestPhys frame;
  };
  static constexpr unsigned kTlbSize = 256;
  static constexpr uint32_t kEmptyTag = 0;
  static uint32_t tlb_tag(GuestLinear linear) { return page_number(linear) + 1; }
  void clear_tlb() {
    for (auto& t : tlb_) t.fill({});
  }
  void clear_tlb_page(GuestLinear linear) {
    for (auto& t : tlb_) t[page_number(linear) % kTlbSize] = {};
  }

  struct Space {
    Space(GuestMemory& ram, unsigned i) : sup(ram), user(ram), index(i) {}
    ShadowWindow& window(View v) { return v == View::kUser ? user : sup; }
    const ShadowWindow& window(View v) const { return v == View::kUser ? user : sup; }
    ShadowWindow sup, user;
    const unsigned index;
    bool in_use = false;
    uint32_t cr3 = 0;
    uint64_t last_used = 0;
    // 4 MiB regions (linear >> 22) with mappings made from a 4 MiB guest
    // page: INVLPG of any address in such a region drops the whole region,
    // as it drops the large TLB entry.
    std::bitset<1024> large_regions;
  };
  static uint32_t region_of(GuestLinear linear) { return linear.value >> 22; }

  // Maps `m` in the active space (replacing what maps that page), flushing
  // everything once if the table is full or the host is out of mappings.
  // Async-signal-safe.
  HostStatus install(Mapping m, bool writable);
  HostStatus try_install(Mapping& m, bool writable);
  HostStatus map_into(ShadowWindow& w, const Mapping& m, bool writable) const;
  // Empties every space; the identity views come back with paging off.
  // Async-signal-safe.
  HostStatus flush();
  HostStatus identity_views();
  // Forgets one mapping and (unless the caller already did) unmaps it.
  void drop(Space& s, View v, GuestLinear page, bool unmap = true);
  void drop_pages(Space& s, View v, const std::vector<GuestLinear>& pages);
  void drop_stale(Space& s, bool all);
  bool entries_changed(uint32_t cr3, const Mapping& m) const;
  std::optional<uint32_t> entry_at(GuestPhys addr) const;
  Space& new_space();
  // A failed unmap or protect in the dispatcher's paths: noted, and settled
  // once the operation is done (a flush for the mapping limit, else tv::Error).
  void note(HostStatus s) {
    if (!s.ok() && deferred_.ok()) deferred_ = s;
  }
  void settle();

  void set_traced_bit(GuestPhys frame, bool on) {
    uint64_t n = page_number(frame);
    if (n >= traced_bits_.size() * 64) return;
    if (on)
      traced_bits_[n >> 6] |= 1ull << (n & 63);
    else
      traced_bits_[n >> 6] &= ~(1ull << (n & 63));
  }

  // The open-bus page's bookkeeping frame: above any guest-physical address.
  static constexpr GuestPhys kOpenBusFrame{1ull << 62};
  GuestMemory& ram_;
  std::vector<std::unique_ptr<Space>> spaces_;  // created as needed, up to kSpaces
  Space* active_;
  uint64_t clock_ = 0;
  int open_bus_fd_ = -1;
  int scratch_fd_ = -1;
  uint8_t* scratch_ = nullptr;  // the scratch page's own mapping
  PagingState paging_;
  MappingTable table_;
  std::vector<uint64_t> traced_bits_;  // one bit per RAM frame (hot: every helper write)
  MmuStats stats_;
  HostStatus deferred_{};
  // drop_stale's scratch, sized up front: the stale pages of one view and
  // per-region counts.
  std::vector<GuestLinear> stale_;
  std::array<uint16_t, 1024> stale_in_region_{};
  std::bitset<1024> region_seen_, region_whole_;
  std::array<std::array<TlbEntry, kTlbSize>, 4> tlb_{};  // [user + 2 * write]
};

}  // namespace tv::mmu
