// The translation cache: host code memory, the blocks translated into it,
// their lookup by (guest-physical start, mode), the per-vCPU jump cache that
// translated code probes inline for indirect branches, chaining of direct
// exits, and invalidation by guest-physical page. The cache has a fixed size
// and is flushed whole when full (DESIGN.md "BT: translation").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bt/x86/callout.h"
#include "bt/x86/cpu_state.h"
#include "bt/emit/vcpu_layout.h"
#include "bt/stats/stats.h"

namespace tv::bt {

struct Block;

// A patchable direct exit of a block: a `jmp rel32` that first points at
// the block's own exit stub and, once chained, at the target block.
struct ExitSlot {
  uint8_t* jmp_field = nullptr;  // the rel32 field to patch
  uint8_t* stub = nullptr;       // the unchained destination
  uint32_t target_eip = 0;
  Block* block = nullptr;        // owner
  Block* chained_to = nullptr;
  bool chainable = true;  // false for exits that must reach the dispatcher (STI shadow)
};

// A Block::pages entry that names no frame: the block lies in one page
// (pages[1]), or it is a one-instruction block outside the cache.
inline constexpr uint64_t kNoFrame = ~0ull;

struct Block {
  uint32_t eip = 0;       // guest linear start
  uint32_t guest_len = 0;
  uint32_t mode = 0;
  uint64_t phys = 0;              // guest-physical address of eip
  uint64_t pages[2] = {kNoFrame, kNoFrame};  // guest-physical frames the code came from
  uint8_t* host = nullptr;
  uint32_t host_len = 0;
  uint32_t insn_count = 0;
  bool valid = true;
  // With paging: the linear page of eip, and whether every page the block
  // was fetched through is global (its lookups and chains survive CR3 writes).
  uint32_t linear_page = 0;
  bool global = false;
  uint64_t exec_count = 0;  // with --profile
  // Conditional branches continue the block on their fall-through path, so
  // a block may have several taken exits plus its final one.
  static constexpr unsigned kMaxExits = 8;
  ExitSlot exits[kMaxExits];
  unsigned num_exits = 0;
  std::vector<ExitSlot*> incoming;   // chained jumps into this block
  std::vector<std::pair<uint32_t, uint32_t>> insn_map;  // (host offset, guest eip) per instruction
  std::vector<std::unique_ptr<CalloutSite>> callouts;

  // The guest EIP of the instruction whose host code contains `host_pc`.
  uint32_t guest_eip_at(const uint8_t* host_pc) const;
};

class CodeCache {
 public:
  // `jump_caches` are the kernel-mode and user-mode tables (see bt/emit/vcpu_layout.h).
  CodeCache(size_t bytes, JumpCacheEntry* kernel_jump_cache, JumpCacheEntry* user_jump_cache, Stats& stats);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  // Code memory for a new block; nullptr if the cache is full (flush, retry).
  uint8_t* code_cursor() const { return cursor_; }
  uint8_t* code_limit() const { return limit_; }
  // The shared stub that indirect-branch misses jump to (set by the backend).
  void set_miss_stub(uint8_t* stub) { miss_stub_ = stub; }
  uint8_t* miss_stub() const { return miss_stub_; }
  // Reserves space for shared stubs at the start of the cache.
  uint8_t* reserve(size_t bytes);

  // The block for (phys, eip, mode) for which `valid(block)` holds.
  template <typename Pred>
  Block* lookup(uint64_t phys, uint32_t eip, uint32_t mode, Pred valid) const {
    auto [it, end] = by_key_.equal_range(key(phys, eip, mode));
    for (; it != end; ++it)
      if (valid(*it->second)) return it->second;
    return nullptr;
  }
  // Takes ownership of a translated block whose code ends at `code_end`.
  Block* insert(std::unique_ptr<Block> block, uint8_t* code_end);
  Block* block_at_host(const uint8_t* host_pc) const;
  // True if `host_pc` lies in the cache's code memory (cheaper than the
  // block lookup, which a hidden fault does not need).
  bool holds(const uint8_t* host_pc) const { return host_pc >= base_ && host_pc < limit_; }

  // Patches `slot` to jump to `target`. A jump to another page is only
  // valid while the linear mappings do not change: those are remembered
  // and undone by unchain_cross_page() (CR3 writes, INVLPG).
  void chain(ExitSlot* slot, Block* target, bool cross_page = false);
  // Undoes cross-page chains: all, those into non-global blocks (a CR3
  // write with CR4.PGE), or those into one linear page (INVLPG).
  void unchain_cross_page();
  void unchain_cross_page_nonglobal();
  void unchain_cross_page_into(uint32_t linear_page);
  void jump_cache_put(const Block* block);
  // The host code the inline probe would find for `eip` in the table of
  // CPL 3 (`user`) or the others; nullptr on a miss.
  const uint8_t* jump_cache_find(uint32_t eip, bool user) const {
    const JumpCacheEntry& e = jump_cache_[user][jump_cache_index(eip)];
    if (e.neg_eip != uint32_t(0u - eip) || e.host == reinterpret_cast<uint64_t>(miss_stub_)) return nullptr;
    return reinterpret_cast<const uint8_t*>(e.host);
  }
  // Empties both tables; only the entries filled since the last clear are
  // touched, so this is cheap enough for every CR3 write.
  void jump_cache_clear();
  // Drops entries of non-global blocks (a CR3 write with CR4.PGE), or the
  // entries for the EIPs of one page (INVLPG; `eip_page` = linear - CS base).
  void jump_cache_clear_nonglobal();
  void jump_cache_drop_page(uint32_t eip_page);
  // A CR3 write drops the jump-cache entries of non-global blocks and the
  // cross-page chains into them, as the TLB entries they stand for go. They
  // are parked by the target's linear page, and the first lookup of a block
  // in that page (unpark) puts back those whose code frames the page maps
  // now: a process switched back to, or a new one running the same program
  // (whose pages only get mapped by demand faults after the switch), would
  // otherwise send every return and every jump to another page through the
  // dispatcher again.
  void park_nonglobal(uint32_t cs_base);
  bool has_parked() const { return !parked_.empty(); }
  template <typename Mapped>
  void unpark(const Block& b, uint32_t mode, uint32_t cs_base, Mapped mapped) {
    auto it = parked_.find(park_key(b));
    if (it == parked_.end()) return;
    Parked p = std::move(it->second);
    parked_.erase(it);
    if (cs_base != parked_cs_base_) return;
    constexpr uint32_t kCplBits = 3u << 3;
    auto ok = [&](const Block& t) { return t.valid && ((t.mode ^ mode) & ~kCplBits) == 0 && mapped(t); };
    for (const Block* e : p.entries)
      if (ok(*e)) jump_cache_put(e);
    for (auto [slot, target] : p.chains)
      if (!slot->chained_to && ok(*target)) chain(slot, target, true);
  }

  bool page_has_code(uint64_t frame) const { return by_page_.count(frame) != 0; }
  // Invalidates every block with code in `frame`; returns how many.
  unsigned invalidate_page(uint64_t frame);
  // Invalidates the blocks whose code overlaps bytes [lo, hi) of `frame`.
  unsigned invalidate_range(uint64_t frame, uint32_t lo, uint32_t hi);
  // The scratch area for one-instruction blocks, and their registration
  // (for the fault handler only; never looked up, chained or cached).
  std::pair<uint8_t*, uint8_t*> scratch() const { return {scratch_, scratch_ + kScratchBytes}; }
  Block* insert_scratch(std::unique_ptr<Block> block);
  // Drops a block that is not in the lookup tables (a one-instruction block).
  void retire(Block* block);
  // Drops every block; returns the frames that had code.
  std::vector<uint64_t> flush();

  size_t used_bytes() const { return size_t(cursor_ - code_start_); }
  size_t capacity() const { return size_t(limit_ - base_); }
  size_t block_count() const { return blocks_.size(); }
  const std::unordered_map<const uint8_t*, std::unique_ptr<Block>>& blocks() const { return blocks_; }

 private:
  // Blocks are found by guest-physical start, EIP and mode: the same code
  // at several linear addresses (a vDSO placed anew by every exec) gets a
  // translation per address, and they must not share one hash chain.
  struct Key {
    uint64_t phys_mode;
    uint32_t eip;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return size_t((k.phys_mode ^ (uint64_t(k.eip) << 20)) * 0x9E3779B97F4A7C15ull >> 16); }
  };
  static Key key(uint64_t phys, uint32_t eip, uint32_t mode) { return {phys | (uint64_t(mode) << 40), eip}; }
  void unchain_incoming(Block* b);
  void unchain_outgoing(Block* b);
  void jump_cache_drop(const Block* b);
  void invalidate(Block* b);

  uint8_t* base_ = nullptr;
  uint8_t* code_start_ = nullptr;
  uint8_t* cursor_ = nullptr;
  uint8_t* limit_ = nullptr;
  uint8_t* miss_stub_ = nullptr;
  static constexpr size_t kScratchBytes = 4096;
  uint8_t* scratch_ = nullptr;
  JumpCacheEntry* jump_cache_[2];
  std::vector<uint32_t> jump_cache_used_[2][2];  // [table][block is global]
  // EIP pages (eip >> 12) that may have jump-cache entries, so that
  // jump_cache_drop_page() skips pages without any (most INVLPGs).
  std::vector<uint64_t> jc_pages_ = std::vector<uint64_t>(1u << 14);
  std::vector<uint32_t> jc_pages_set_;
  void jc_pages_reset() {
    for (uint32_t p : jc_pages_set_) jc_pages_[p >> 6] = 0;
    jc_pages_set_.clear();
  }
  bool jump_cache_cleared_ = false;  // the first clear writes every entry
  static unsigned table_of(const Block* b) { return ((b->mode >> 3) & 3) == 3 ? 1 : 0; }
  Stats& stats_;
  std::unordered_map<const uint8_t*, std::unique_ptr<Block>> blocks_;  // by host start
  std::map<uintptr_t, Block*> by_host_;
  std::unordered_multimap<Key, Block*, KeyHash> by_key_;
  std::unordered_map<uint64_t, std::unordered_set<Block*>> by_page_;
  std::vector<std::unique_ptr<Block>> graveyard_;
  std::unique_ptr<Block> scratch_block_;
  struct Parked {
    std::vector<const Block*> entries;
    std::vector<std::pair<ExitSlot*, Block*>> chains;
  };
  static uint32_t park_key(const Block& b) { return b.linear_page | (table_of(&b)); }
  std::unordered_map<uint32_t, Parked> parked_;  // by park_key of the target
  uint32_t parked_cs_base_ = 0;
  // Cross-page chains by the target's linear page, [target is global].
  std::unordered_map<uint32_t, std::vector<ExitSlot*>> cross_page_[2];
  void unchain(ExitSlot* slot);  // invalidated, code may still be running
};

}  // namespace tv::bt
