// Link parking. A CR3 write drops the jump-cache entries of non-global
// blocks and the cross-page chains into them, as the TLB entries they stand
// for go. They are parked by the target's linear page, and the first lookup
// of a block in that page (unpark) puts back those whose code frames the
// page maps now: a process switched back to, or a new one running the same
// program (whose pages only get mapped by demand faults after the switch),
// would otherwise send every return and every jump to another page through
// the dispatcher again. A parked link may name a block invalidated since:
// that stays allocated (the graveyard) until a flush, which also clears the
// parked links, and fails the validity test on unpark.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bt/cache/block.h"
#include "bt/cache/block_index.h"
#include "bt/cache/chaining.h"
#include "bt/cache/jump_cache.h"

namespace tv::bt {

class LinkParking {
 public:
  LinkParking(const BlockIndex& index, JumpCache& jump_cache, Chaining& chaining)
      : index_(index), jump_cache_(jump_cache), chaining_(chaining) {}

  // Parks the non-global links, then drops them (a CR3 write with CR4.PGE).
  void park_nonglobal(uint32_t cs_base);
  bool has_parked() const { return !parked_.empty(); }
  // Restores the links parked for `b`'s page whose targets are valid, of
  // `mode` but for the CPL, and `mapped(target)` as they were; the rest go.
  template <typename Mapped>
  void unpark(const Block& b, uint32_t mode, uint32_t cs_base, Mapped mapped) {
    auto it = parked_.find(park_key(b));
    if (it == parked_.end()) return;
    Parked p = std::move(it->second);
    parked_.erase(it);
    if (cs_base != parked_cs_base_) return;
    constexpr uint32_t kCplBits = 3u << 3;
    auto ok = [&](const Block& t) {
      return t.valid && ((t.mode ^ mode) & ~kCplBits) == 0 && mapped(t);
    };
    for (const Block* e : p.entries)
      if (ok(*e)) jump_cache_.put(e);
    for (auto [slot, target] : p.chains)
      if (!slot->chained_to && ok(*target)) chaining_.chain(slot, target, true);
  }
  void clear() { parked_.clear(); }

 private:
  struct Parked {
    std::vector<const Block*> entries;
    std::vector<std::pair<ExitSlot*, Block*>> chains;
  };
  static uint32_t park_key(const Block& b) { return b.linear_page | JumpCache::table_of(b); }
  void park_entries();
  void park_chains();

  const BlockIndex& index_;
  JumpCache& jump_cache_;
  Chaining& chaining_;
  std::unordered_map<uint32_t, Parked> parked_;  // by park_key of the target
  uint32_t parked_cs_base_ = 0;
};

}  // namespace tv::bt
