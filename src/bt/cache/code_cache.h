// The translation cache: host code memory, the blocks translated into it,
// their lookup by (guest-physical start, EIP, mode), the per-vCPU jump cache
// that translated code probes inline for indirect branches, chaining of
// direct exits, link parking across CR3 writes, and invalidation by
// guest-physical page. The cache has a fixed size and is flushed whole when
// full (DESIGN.md "BT: translation").
//
// CodeCache is the facade the runtime and the translator use; each concept
// is its own class (code_memory, block_index, chaining, jump_cache,
// link_parking). The facade's forwards are inline so that the split costs
// no call; it does only what spans several parts (invalidation, flush).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "bt/cache/block.h"
#include "bt/cache/block_index.h"
#include "bt/cache/chaining.h"
#include "bt/cache/code_memory.h"
#include "bt/cache/jump_cache.h"
#include "bt/cache/link_parking.h"
#include "bt/emit/vcpu_layout.h"
#include "bt/stats/stats.h"
#include "bt/x86/cpu_state.h"

namespace tv::bt {

class CodeCache {
 public:
  // `jump_caches` are the kernel-mode and user-mode tables (see bt/emit/vcpu_layout.h).
  CodeCache(size_t bytes, JumpCacheEntry* kernel_jump_cache, JumpCacheEntry* user_jump_cache,
            Stats& stats);
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  // Code memory for a new block; nullptr if the cache is full (flush, retry).
  uint8_t* code_cursor() const { return code_.cursor(); }
  uint8_t* code_limit() const { return code_.limit(); }
  // The shared stub that indirect-branch misses jump to (set by the backend).
  void set_miss_stub(uint8_t* stub) { jump_cache_.set_miss_stub(stub); }
  uint8_t* miss_stub() const { return jump_cache_.miss_stub(); }
  // Reserves space for shared stubs at the start of the cache.
  uint8_t* reserve(size_t bytes) { return code_.reserve(bytes); }

  // The block for (phys, eip, mode) for which `valid(block)` holds.
  template <typename Pred>
  Block* lookup(uint64_t phys, uint32_t eip, uint32_t mode, Pred valid) const {
    return index_.lookup(phys, eip, mode, valid);
  }
  // Takes ownership of a translated block whose code ends at `code_end`.
  Block* insert(std::unique_ptr<Block> block, uint8_t* code_end) {
    code_.commit(code_end);
    return index_.insert(std::move(block));
  }
  Block* block_at_host(const uint8_t* host_pc) const { return index_.at_host(host_pc); }
  // True if `host_pc` lies in the cache's code memory (cheaper than the
  // block lookup, which a hidden fault does not need).
  bool holds(const uint8_t* host_pc) const { return code_.holds(host_pc); }

  // Patches `slot` to jump to `target`. A jump to another page is only
  // valid while the linear mappings do not change: those are remembered
  // and undone by unchain_cross_page() (CR3 writes, INVLPG).
  void chain(ExitSlot* slot, Block* target, bool cross_page = false) {
    chaining_.chain(slot, target, cross_page);
  }
  // Undoes cross-page chains: all, those into non-global blocks (a CR3
  // write with CR4.PGE), or those into one linear page (INVLPG).
  void unchain_cross_page() { chaining_.unchain_cross_page(); }
  void unchain_cross_page_nonglobal() { chaining_.unchain_cross_page_nonglobal(); }
  void unchain_cross_page_into(uint32_t linear_page) {
    chaining_.unchain_cross_page_into(linear_page);
  }
  void jump_cache_put(const Block* block) { jump_cache_.put(block); }
  // The host code the inline probe would find for `eip` in the table of
  // CPL 3 (`user`) or the others; nullptr on a miss.
  const uint8_t* jump_cache_find(uint32_t eip, bool user) const {
    return jump_cache_.find(eip, user);
  }
  // Empties both tables; only the entries filled since the last clear are
  // touched, so this is cheap enough for every CR3 write.
  void jump_cache_clear() { jump_cache_.clear(); }
  // Drops entries of non-global blocks (a CR3 write with CR4.PGE), or the
  // entries for the EIPs of one page (INVLPG; `eip_page` = linear - CS base).
  void jump_cache_clear_nonglobal() { jump_cache_.clear_nonglobal(); }
  void jump_cache_drop_page(uint32_t eip_page) { jump_cache_.drop_page(eip_page); }
  // A CR3 write with CR4.PGE parks the links into non-global blocks, and a
  // lookup in their page puts back those still mapped (link_parking.h).
  void park_nonglobal(uint32_t cs_base) { parking_.park_nonglobal(cs_base); }
  bool has_parked() const { return parking_.has_parked(); }
  template <typename Mapped>
  void unpark(const Block& b, uint32_t mode, uint32_t cs_base, Mapped mapped) {
    parking_.unpark(b, mode, cs_base, mapped);
  }

  bool page_has_code(uint64_t frame) const { return index_.page_has_code(frame); }
  // Invalidates every block with code in `frame`; returns how many.
  unsigned invalidate_page(uint64_t frame) { return invalidate_range(frame, 0, 0x1000); }
  // Invalidates the blocks whose code overlaps bytes [lo, hi) of `frame`.
  unsigned invalidate_range(uint64_t frame, uint32_t lo, uint32_t hi);
  // The scratch area for one-instruction blocks, and their registration
  // (for the fault handler only; never looked up, chained or cached).
  std::pair<uint8_t*, uint8_t*> scratch() const { return code_.scratch(); }
  Block* insert_scratch(std::unique_ptr<Block> block) {
    return index_.insert_scratch(std::move(block));
  }
  // Drops a block that is not in the lookup tables (a one-instruction block).
  void retire(Block* block) { index_.retire(block); }
  // Drops every block; returns the frames that had code.
  std::vector<uint64_t> flush();

  size_t used_bytes() const { return code_.used_bytes(); }
  size_t capacity() const { return code_.capacity(); }
  size_t block_count() const { return index_.size(); }
  const BlockIndex::Owned& blocks() const { return index_.blocks(); }

 private:
  void invalidate(Block* b);

  Stats& stats_;
  CodeMemory code_;
  BlockIndex index_;
  JumpCache jump_cache_;
  Chaining chaining_;
  LinkParking parking_{index_, jump_cache_, chaining_};
};

}  // namespace tv::bt
