// The blocks of the translation cache and the ways they are found: by
// (guest-physical start, EIP, mode) for the dispatcher, by host address for
// the fault handler, by guest-physical frame for invalidation. The index
// owns the blocks. An invalidated block leaves every table but is kept
// (the graveyard) until the next flush, as its code may still be running:
// a callout inside it can be what wrote to its page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bt/cache/block.h"

namespace tv::bt {

class BlockIndex {
 public:
  using Owned = std::unordered_map<const uint8_t*, std::unique_ptr<Block>>;  // by host start

  // The block for (phys, eip, mode) for which `valid(block)` holds.
  template <typename Pred>
  Block* lookup(uint64_t phys, uint32_t eip, uint32_t mode, Pred valid) const {
    auto [it, end] = by_key_.equal_range(key(phys, eip, mode));
    for (; it != end; ++it)
      if (valid(*it->second)) return it->second;
    return nullptr;
  }
  Block* insert(std::unique_ptr<Block> block);
  // The block (live, or the scratch one) whose host code contains `host_pc`.
  Block* at_host(const uint8_t* host_pc) const;
  // The live block whose host code starts at `host`; nullptr if none.
  Block* starting_at(const uint8_t* host) const {
    auto it = blocks_.find(host);
    return it == blocks_.end() ? nullptr : it->second.get();
  }
  bool page_has_code(uint64_t frame) const { return by_page_.count(frame) != 0; }
  // The live blocks whose guest code overlaps bytes [lo, hi) of `frame`.
  std::vector<Block*> overlapping(uint64_t frame, uint32_t lo, uint32_t hi) const;
  // Takes a live block out of every table, into the graveyard.
  void remove(Block* b);
  // The one-instruction block: found by host address only, until retired.
  Block* insert_scratch(std::unique_ptr<Block> block);
  void retire(Block* b);
  // Drops every live and dead block; returns the frames that had code.
  std::vector<uint64_t> clear();

  size_t size() const { return blocks_.size(); }
  const Owned& blocks() const { return blocks_; }

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
    size_t operator()(const Key& k) const {
      return size_t((k.phys_mode ^ (uint64_t(k.eip) << 20)) * 0x9E3779B97F4A7C15ull >> 16);
    }
  };
  static Key key(uint64_t phys, uint32_t eip, uint32_t mode) {
    return {phys | (uint64_t(mode) << 40), eip};
  }
  void unlist_pages(Block* b);
  void unlist_key(Block* b);

  Owned blocks_;
  std::map<uintptr_t, Block*> by_host_;
  std::unordered_multimap<Key, Block*, KeyHash> by_key_;
  std::unordered_map<uint64_t, std::unordered_set<Block*>> by_page_;
  std::vector<std::unique_ptr<Block>> graveyard_;
  std::unique_ptr<Block> scratch_block_;
};

}  // namespace tv::bt
