// CodeCache: the operations that span several parts of the cache.
#include "bt/cache/code_cache.h"

namespace tv::bt {

CodeCache::CodeCache(size_t bytes, JumpCacheEntry* kernel_jump_cache,
                     JumpCacheEntry* user_jump_cache, Stats& stats)
    : stats_(stats),
      code_(bytes),
      jump_cache_(kernel_jump_cache, user_jump_cache),
      chaining_(stats) {}

unsigned CodeCache::invalidate_range(uint64_t frame, uint32_t lo, uint32_t hi) {
  std::vector<Block*> victims = index_.overlapping(frame, lo, hi);
  for (Block* b : victims) invalidate(b);
  return unsigned(victims.size());
}

void CodeCache::invalidate(Block* b) {
  b->valid = false;
  chaining_.unchain_incoming(b);
  chaining_.unchain_outgoing(b);
  jump_cache_.drop(b);
  index_.remove(b);
}

std::vector<uint64_t> CodeCache::flush() {
  std::vector<uint64_t> frames = index_.clear();
  chaining_.clear();
  parking_.clear();
  code_.reset();
  jump_cache_.clear();
  ++stats_.flushes;
  return frames;
}

}  // namespace tv::bt
