#include "bt/cache/code_cache.h"

#include <sys/mman.h>

#include <algorithm>

#include "bt/emit/code_writer.h"
#include "base/error.h"

namespace tv::bt {

uint32_t Block::guest_eip_at(const uint8_t* host_pc) const {
  uint32_t off = uint32_t(host_pc - host);
  auto it = std::upper_bound(insn_map.begin(), insn_map.end(), off,
                             [](uint32_t o, const auto& e) { return o < e.first; });
  return it == insn_map.begin() ? eip : std::prev(it)->second;
}

CodeCache::CodeCache(size_t bytes, JumpCacheEntry* kernel_jump_cache, JumpCacheEntry* user_jump_cache,
                     Stats& stats)
    : jump_cache_{kernel_jump_cache, user_jump_cache}, stats_(stats) {
  // SAFETY: our own code memory. It is writable and executable because
  // chaining patches jumps in place while the block may run on the next
  // entry; only this class and the translator write to it.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error(errno_message("mmap translation cache"));
  base_ = code_start_ = cursor_ = static_cast<uint8_t*>(p);
  limit_ = base_ + bytes;
  scratch_ = reserve(kScratchBytes);
}

CodeCache::~CodeCache() { munmap(base_, size_t(limit_ - base_)); }

uint8_t* CodeCache::reserve(size_t bytes) {
  uint8_t* p = code_start_;
  code_start_ += (bytes + 63) & ~size_t(63);
  cursor_ = code_start_;
  return p;
}

Block* CodeCache::insert(std::unique_ptr<Block> block, uint8_t* code_end) {
  Block* b = block.get();
  cursor_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(code_end) + 15) & ~uintptr_t(15));
  by_host_[reinterpret_cast<uintptr_t>(b->host)] = b;
  by_key_.emplace(key(b->phys, b->eip, b->mode), b);
  for (uint64_t page : b->pages)
    if (page != ~0ull) by_page_[page].insert(b);
  blocks_[b->host] = std::move(block);
  return b;
}

Block* CodeCache::block_at_host(const uint8_t* host_pc) const {
  auto it = by_host_.upper_bound(reinterpret_cast<uintptr_t>(host_pc));
  if (it == by_host_.begin()) return nullptr;
  Block* b = std::prev(it)->second;
  return host_pc < b->host + b->host_len ? b : nullptr;
}

void CodeCache::chain(ExitSlot* slot, Block* target, bool cross_page) {
  if (slot->chained_to || !slot->block->valid || !target->valid) return;
  CodeWriter::patch_rel32(slot->jmp_field, target->host);
  slot->chained_to = target;
  target->incoming.push_back(slot);
  if (cross_page) {
    auto& by_page = cross_page_[target->global];
    by_page[target->linear_page].push_back(slot);
    if (target->pages[1] != ~0ull) by_page[target->linear_page + 0x1000].push_back(slot);
  }
  ++stats_.chains;
}

void CodeCache::unchain(ExitSlot* slot) {
  Block* target = slot->chained_to;
  if (!target) return;  // already undone (invalidation, or listed twice)
  CodeWriter::patch_rel32(slot->jmp_field, slot->stub);
  slot->chained_to = nullptr;
  auto& in = target->incoming;
  in.erase(std::remove(in.begin(), in.end(), slot), in.end());
  ++stats_.unchains;
}

void CodeCache::unchain_cross_page() {
  unchain_cross_page_nonglobal();
  for (auto& [page, slots] : cross_page_[1])
    for (ExitSlot* slot : slots) unchain(slot);
  cross_page_[1].clear();
}

void CodeCache::unchain_cross_page_nonglobal() {
  for (auto& [page, slots] : cross_page_[0])
    for (ExitSlot* slot : slots) unchain(slot);
  cross_page_[0].clear();
}

void CodeCache::unchain_cross_page_into(uint32_t linear_page) {
  for (auto& by_page : cross_page_) {
    auto it = by_page.find(linear_page);
    if (it == by_page.end()) continue;
    for (ExitSlot* slot : it->second) unchain(slot);
    by_page.erase(it);
  }
}

void CodeCache::unchain_incoming(Block* b) {
  for (ExitSlot* slot : b->incoming) {
    CodeWriter::patch_rel32(slot->jmp_field, slot->stub);
    slot->chained_to = nullptr;
    ++stats_.unchains;
  }
  b->incoming.clear();
}

void CodeCache::unchain_outgoing(Block* b) {
  for (unsigned i = 0; i < b->num_exits; ++i) {
    ExitSlot& slot = b->exits[i];
    if (!slot.chained_to) continue;
    auto& in = slot.chained_to->incoming;
    in.erase(std::remove(in.begin(), in.end(), &slot), in.end());
    slot.chained_to = nullptr;
  }
}

void CodeCache::jump_cache_put(const Block* b) {
  unsigned t = table_of(b), index = jump_cache_index(b->eip);
  JumpCacheEntry& e = jump_cache_[t][index];
  if (e.host == reinterpret_cast<uint64_t>(miss_stub_)) jump_cache_used_[t][b->global].push_back(index);
  uint32_t page = b->eip >> 12;
  uint64_t bit = 1ull << (page & 63);
  if (!(jc_pages_[page >> 6] & bit)) {
    jc_pages_[page >> 6] |= bit;
    jc_pages_set_.push_back(page);
  }
  e.neg_eip = uint32_t(0u - b->eip);
  e.host = reinterpret_cast<uint64_t>(b->host);
}

void CodeCache::park_nonglobal(uint32_t cs_base) {
  // Bounded: a page whose links are never looked up again keeps at most
  // kMaxParked of each kind, and the pool at most kMaxPages pages.
  constexpr size_t kMaxParked = 1024, kMaxPages = 4096;
  if (cs_base != parked_cs_base_ || parked_.size() > kMaxPages) parked_.clear();
  parked_cs_base_ = cs_base;
  for (unsigned t = 0; t < 2; ++t)
    for (uint32_t i : jump_cache_used_[t][0]) {
      auto it = blocks_.find(reinterpret_cast<const uint8_t*>(jump_cache_[t][i].host));
      if (it == blocks_.end() || it->second->global) continue;
      auto& entries = parked_[park_key(*it->second)].entries;
      if (entries.size() < kMaxParked) entries.push_back(it->second.get());
    }
  for (const auto& [page, slots] : cross_page_[0])
    for (ExitSlot* slot : slots) {
      Block* target = slot->chained_to;
      if (!target || target->global || target->linear_page != page) continue;
      auto& chains = parked_[park_key(*target)].chains;
      if (chains.size() < kMaxParked) chains.emplace_back(slot, target);
    }
  jump_cache_clear_nonglobal();
  unchain_cross_page_nonglobal();
}

void CodeCache::jump_cache_drop(const Block* b) {
  JumpCacheEntry& e = jump_cache_[table_of(b)][jump_cache_index(b->eip)];
  if (e.host == reinterpret_cast<uint64_t>(b->host)) e.host = reinterpret_cast<uint64_t>(miss_stub_);
}

void CodeCache::jump_cache_clear() {
  const JumpCacheEntry empty{0, 0, reinterpret_cast<uint64_t>(miss_stub_)};
  for (unsigned t = 0; t < 2; ++t) {
    if (!jump_cache_cleared_) {
      for (unsigned i = 0; i < kJumpCacheSize; ++i) jump_cache_[t][i] = empty;
    } else {
      for (auto& used : jump_cache_used_[t])
        for (uint32_t i : used) jump_cache_[t][i] = empty;
    }
    for (auto& used : jump_cache_used_[t]) used.clear();
  }
  jump_cache_cleared_ = true;
  jc_pages_reset();
}

void CodeCache::jump_cache_clear_nonglobal() {
  const JumpCacheEntry empty{0, 0, reinterpret_cast<uint64_t>(miss_stub_)};
  for (unsigned t = 0; t < 2; ++t) {
    for (uint32_t i : jump_cache_used_[t][0]) jump_cache_[t][i] = empty;
    jump_cache_used_[t][0].clear();
  }
}

void CodeCache::jump_cache_drop_page(uint32_t eip_page) {
  uint32_t page = eip_page >> 12;
  uint64_t bit = 1ull << (page & 63);
  if (!(jc_pages_[page >> 6] & bit)) return;
  jc_pages_[page >> 6] &= ~bit;  // (its entry in jc_pages_set_ stays; harmless)
  const uint64_t miss = reinterpret_cast<uint64_t>(miss_stub_);
  for (unsigned t = 0; t < 2; ++t)
    for (uint32_t k = 0; k < 0x1000; ++k) {
      uint32_t eip = eip_page + k;
      JumpCacheEntry& e = jump_cache_[t][jump_cache_index(eip)];
      if (e.host != miss && e.neg_eip == uint32_t(0u - eip)) e.host = miss;
    }
}

unsigned CodeCache::invalidate_page(uint64_t frame) {
  return invalidate_range(frame, 0, 0x1000);
}

unsigned CodeCache::invalidate_range(uint64_t frame, uint32_t lo, uint32_t hi) {
  auto it = by_page_.find(frame);
  if (it == by_page_.end()) return 0;
  std::vector<Block*> victims;
  for (Block* b : it->second) {
    // The block's bytes within this frame: from its start on its first
    // page, or up to its end on its second.
    uint32_t start = uint32_t(b->phys & 0xFFF), end = start + b->guest_len;
    uint32_t from = b->pages[0] == frame ? start : 0;
    uint32_t to = b->pages[0] == frame ? std::min<uint32_t>(end, 0x1000) : end - 0x1000;
    if (from < hi && lo < to) victims.push_back(b);
  }
  for (Block* b : victims) invalidate(b);
  return unsigned(victims.size());
}

void CodeCache::invalidate(Block* b) {
  b->valid = false;
  unchain_incoming(b);
  unchain_outgoing(b);
  jump_cache_drop(b);
  for (uint64_t page : b->pages)
    if (page != ~0ull) {
      auto p = by_page_.find(page);
      if (p != by_page_.end()) {
        p->second.erase(b);
        if (p->second.empty()) by_page_.erase(p);
      }
    }
  auto [k, end] = by_key_.equal_range(key(b->phys, b->eip, b->mode));
  for (; k != end; ++k)
    if (k->second == b) {
      by_key_.erase(k);
      break;
    }
  by_host_.erase(reinterpret_cast<uintptr_t>(b->host));
  auto owned = blocks_.find(b->host);
  graveyard_.push_back(std::move(owned->second));
  blocks_.erase(owned);
}

Block* CodeCache::insert_scratch(std::unique_ptr<Block> block) {
  Block* b = block.get();
  by_host_[reinterpret_cast<uintptr_t>(b->host)] = b;
  scratch_block_ = std::move(block);
  return b;
}

void CodeCache::retire(Block* b) {
  by_host_.erase(reinterpret_cast<uintptr_t>(b->host));
  if (scratch_block_.get() == b) scratch_block_.reset();
}

std::vector<uint64_t> CodeCache::flush() {
  std::vector<uint64_t> frames;
  for (const auto& [frame, set] : by_page_) frames.push_back(frame);
  for (auto& by_page : cross_page_) by_page.clear();
  parked_.clear();
  blocks_.clear();
  graveyard_.clear();
  by_host_.clear();
  by_key_.clear();
  by_page_.clear();
  cursor_ = code_start_;
  jump_cache_clear();
  ++stats_.flushes;
  return frames;
}

}  // namespace tv::bt
