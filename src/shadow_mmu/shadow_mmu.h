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
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shadow_mmu/page_walker.h"
#include "shadow_mmu/shadow_window.h"
#include "base/guest_memory.h"

namespace tv::mmu {

enum class View : uint8_t { kSupervisor = 0, kUser = 1 };

struct PagingState {
  bool enabled = false;
  uint32_t cr3 = 0;
  bool pse = false;
  bool pge = false;
  bool wp = false;
  bool operator==(const PagingState&) const = default;
};

struct FaultOutcome {
  enum class Kind { kRetry, kPageFault, kCodeWrite, kNotRam } kind;
  uint32_t error_code = 0;  // kPageFault
  uint64_t phys = 0;        // kCodeWrite: the frame; kNotRam: the physical address
};

struct MmuStats {
  uint64_t hidden_faults = 0, guest_page_faults = 0, flushes = 0, invlpgs = 0, enomem_flushes = 0;
  uint64_t protections = 0;  // mappings made read-only for code tracing
  uint64_t cr3_switches = 0;
  uint64_t spaces_reused = 0;     // CR3 switches that found the space cached
  uint64_t stale_dropped = 0;     // cached mappings dropped because their PDE/PTE changed
};

class ShadowMmu {
 public:
  explicit ShadowMmu(GuestMemory& ram);
  ~ShadowMmu();

  // The active space's windows.
  ShadowWindow& window(View v) { return active_->window(v); }
  // Which view of the active space `host` lies in, and its window offset
  // (the linear address).
  bool locate(const void* host, View& view, uint64_t& offset) const;

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
  bool invalidate_page(uint32_t linear);

  // A host fault at `linear` in view `v` (write: the host error code's W bit).
  // Async-signal-safe apart from the bookkeeping maps (the fault handler runs
  // it only when translated code, never C++, was interrupted).
  FaultOutcome handle_fault(View v, uint32_t linear, bool write);

  // Maps a page whose guest-physical address nothing decodes to a page of
  // all-ones, read-only: reads see an open PC bus at full speed; writes
  // still fault and are dropped by the fault handler.
  void map_open_bus(View v, uint32_t linear);

  // Lets one write through `linear` in view `v` reach traced `frame` (the
  // written bytes hold no translated code), or closes that again.
  void open_for_write(View v, uint32_t linear, uint64_t frame);
  void close_after_write(View v, uint32_t linear, uint64_t frame);

  // Code tracing by physical frame.
  void trace_frame(uint64_t frame);
  void untrace_frame(uint64_t frame);
  bool traced(uint64_t frame) const {
    uint64_t n = frame >> 12;
    return n < traced_bits_.size() * 64 && (traced_bits_[n >> 6] >> (n & 63)) & 1;
  }

  // Software translation for helpers and the translator.
  Translation translate(uint32_t linear, AccessType access, bool user, bool set_ad = true) {
    return walk(ram_, {paging_.cr3, paging_.pse, paging_.wp}, linear, access, user, set_ad);
  }
  // Reads and fetches through a small software TLB (the dispatcher walks
  // for every block lookup); returns false if the walk faults (`error`
  // holds the #PF error code then). Entries go with every invalidation.
  bool translate_read(uint32_t linear, bool user, uint64_t& phys, uint32_t& error) {
    return translate_cached(linear, user, false, phys, error);
  }
  // Writes hit the TLB only for pages already walked for a write (so A and
  // D are set and the guest allows it); the first write walks and sets D.
  bool translate_write(uint32_t linear, bool user, uint64_t& phys, uint32_t& error) {
    return translate_cached(linear, user, true, phys, error);
  }
  // The TLB alone: true with `phys` on a hit.
  bool tlb_lookup(uint32_t linear, bool user, bool write, uint64_t& phys) const {
    const TlbEntry& e = tlb_[user + 2 * write][(linear >> 12) % kTlbSize];
    if (e.page != (linear >> 12) + 1) return false;
    phys = e.frame | (linear & 0xFFF);
    return true;
  }
  bool translate_cached(uint32_t linear, bool user, bool write, uint64_t& phys, uint32_t& error) {
    TlbEntry& e = tlb_[user + 2 * write][(linear >> 12) % kTlbSize];
    if (e.page == (linear >> 12) + 1) {
      phys = e.frame | (linear & 0xFFF);
      return true;
    }
    Translation t = translate(linear, write ? AccessType::kWrite : AccessType::kRead, user);
    if (!t.ok) {
      error = t.error_code;
      return false;
    }
    e = {(linear >> 12) + 1, t.phys & ~0xFFFull};
    phys = t.phys;
    return true;
  }

  const MmuStats& stats() const { return stats_; }
  // True if the active space maps the page of `linear` in view `v`.
  bool mapped(View v, uint32_t linear) { return find(*active_, v, linear & ~0xFFFu) != nullptr; }

 private:
  struct TlbEntry {
    uint32_t page;   // linear page number + 1; 0 = empty
    uint64_t frame;
  };
  static constexpr unsigned kTlbSize = 256;
  void clear_tlb() {
    for (auto& t : tlb_) t.fill({});
  }
  void clear_tlb_page(uint32_t linear) {
    for (auto& t : tlb_) t[(linear >> 12) % kTlbSize] = {};
  }

  // A shadow mapping and the guest entries it was made from (a 4 MiB page
  // has no PTE). kUnchecked entries never match: such a mapping goes at the
  // next check.
  static constexpr uint32_t kUnchecked = ~0u;
  struct Mapping {
    uint64_t frame;
    uint32_t pde, pte;
    bool large;
  };
  struct Space {
    Space(GuestMemory& ram, unsigned i) : sup(ram), user(ram), index(i) {}
    ShadowWindow& window(View v) { return v == View::kUser ? user : sup; }
    ShadowWindow sup, user;
    const unsigned index;
    bool in_use = false;
    uint32_t cr3 = 0;
    uint64_t last_used = 0;
    // Per view: page -> mapping, global and non-global apart (only the
    // latter are checked on a CR3 write).
    std::array<std::unordered_map<uint32_t, Mapping>, 2> global, local;
    // 4 MiB regions (linear >> 22) with mappings made from a 4 MiB guest
    // page: INVLPG of any address in such a region drops the whole region,
    // as it drops the large TLB entry.
    std::unordered_set<uint32_t> large_regions;
    // Mappings per view and 4 MiB region (whole regions go with one call).
    std::array<std::array<uint16_t, 1024>, 2> in_region{};
  };
  static constexpr unsigned kSpaces = 8;

  // (space, view, page) for mappings_of_.
  uint64_t key(unsigned space, View v, uint32_t page) const {
    return (uint64_t(space) << 33) | (uint64_t(v) << 32) | page;
  }
  const Mapping* find(Space& s, View v, uint32_t page) const;
  // `from` gives the guest entries; its frame is ignored.
  bool map(View v, uint32_t page, uint64_t frame, bool writable, bool global, const Mapping& from);
  // Unmaps (unless the caller already did) and forgets one mapping.
  void drop(Space& s, View v, uint32_t page, bool unmap = true);
  void empty_space(Space& s);
  void drop_stale(Space& s, bool all);
  // The guest entries behind a successful walk.
  Mapping entries_of(uint32_t linear, const Translation& t) const;
  void identity_views();

  static constexpr uint64_t kOpenBusFrame = 1ull << 62;  // bookkeeping key, never a real frame
  GuestMemory& ram_;
  std::vector<std::unique_ptr<Space>> spaces_;  // created as needed, up to kSpaces
  Space* active_;
  uint64_t clock_ = 0;
  int open_bus_fd_ = -1;
  PagingState paging_;
  std::unordered_map<uint64_t, std::vector<uint64_t>> mappings_of_;  // frame -> keys
  std::unordered_set<uint64_t> traced_;
  std::vector<uint64_t> traced_bits_;  // the same set, one bit per RAM frame (hot: every helper write)
  void set_traced_bit(uint64_t frame, bool on) {
    uint64_t n = frame >> 12;
    if (n >= traced_bits_.size() * 64) return;
    if (on) traced_bits_[n >> 6] |= 1ull << (n & 63);
    else traced_bits_[n >> 6] &= ~(1ull << (n & 63));
  }
  MmuStats stats_;
  std::array<std::array<TlbEntry, kTlbSize>, 4> tlb_{};  // [user + 2 * write]
};

}  // namespace tv::mmu
