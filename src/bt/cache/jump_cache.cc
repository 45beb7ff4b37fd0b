// JumpCache: filling and emptying the inline-probed tables.
#include "bt/cache/jump_cache.h"

namespace tv::bt {

void JumpCache::put(const Block* b) {
  unsigned t = table_of(*b), index = jump_cache_index(b->eip);
  JumpCacheEntry& e = table_[t][index];
  if (e.host == reinterpret_cast<uint64_t>(miss_stub_)) used_[t][b->global].push_back(index);
  uint32_t page = b->eip >> 12;
  uint64_t bit = 1ull << (page & 63);
  if (!(pages_[page >> 6] & bit)) {
    pages_[page >> 6] |= bit;
    pages_set_.push_back(page);
  }
  e.neg_eip = uint32_t(0u - b->eip);
  e.host = reinterpret_cast<uint64_t>(b->host);
}

void JumpCache::drop(const Block* b) {
  JumpCacheEntry& e = table_[table_of(*b)][jump_cache_index(b->eip)];
  if (e.host == reinterpret_cast<uint64_t>(b->host))
    e.host = reinterpret_cast<uint64_t>(miss_stub_);
}

void JumpCache::clear() {
  const JumpCacheEntry e = empty();
  for (unsigned t = 0; t < 2; ++t) {
    if (!cleared_) {
      for (unsigned i = 0; i < kJumpCacheSize; ++i) table_[t][i] = e;
    } else {
      for (auto& used : used_[t])
        for (uint32_t i : used) table_[t][i] = e;
    }
    for (auto& used : used_[t]) used.clear();
  }
  cleared_ = true;
  pages_reset();
}

void JumpCache::clear_nonglobal() {
  const JumpCacheEntry e = empty();
  for (unsigned t = 0; t < 2; ++t) {
    for (uint32_t i : used_[t][0]) table_[t][i] = e;
    used_[t][0].clear();
  }
}

void JumpCache::drop_page(uint32_t eip_page) {
  uint32_t page = eip_page >> 12;
  uint64_t bit = 1ull << (page & 63);
  if (!(pages_[page >> 6] & bit)) return;
  pages_[page >> 6] &= ~bit;  // (its entry in pages_set_ stays; harmless)
  const uint64_t miss = reinterpret_cast<uint64_t>(miss_stub_);
  for (unsigned t = 0; t < 2; ++t)
    for (uint32_t k = 0; k < 0x1000; ++k) {
      uint32_t eip = eip_page + k;
      JumpCacheEntry& e = table_[t][jump_cache_index(eip)];
      if (e.host != miss && e.neg_eip == uint32_t(0u - eip)) e.host = miss;
    }
}

}  // namespace tv::bt
