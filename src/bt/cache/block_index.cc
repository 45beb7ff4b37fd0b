// BlockIndex: keeping the by-key, by-host and by-page tables in step with
// the owning map, and the overlap test that decides what a code write kills.
#include "bt/cache/block_index.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace tv::bt {

Block* BlockIndex::insert(std::unique_ptr<Block> block) {
  Block* b = block.get();
  by_host_[reinterpret_cast<uintptr_t>(b->host)] = b;
  by_key_.emplace(key(b->phys, b->eip, b->mode), b);
  for (uint64_t page : b->pages)
    if (page != kNoFrame) by_page_[page].insert(b);
  blocks_[b->host] = std::move(block);
  return b;
}

Block* BlockIndex::at_host(const uint8_t* host_pc) const {
  auto it = by_host_.upper_bound(reinterpret_cast<uintptr_t>(host_pc));
  if (it == by_host_.begin()) return nullptr;
  Block* b = std::prev(it)->second;
  return host_pc < b->host + b->host_len ? b : nullptr;
}

std::vector<Block*> BlockIndex::overlapping(uint64_t frame, uint32_t lo, uint32_t hi) const {
  std::vector<Block*> victims;
  auto it = by_page_.find(frame);
  if (it == by_page_.end()) return victims;
  for (Block* b : it->second) {
    // The block's bytes within this frame: from its start on its first
    // page, or up to its end on its second.
    uint32_t start = uint32_t(b->phys & 0xFFF), end = start + b->guest_len;
    uint32_t from = b->pages[0] == frame ? start : 0;
    uint32_t to = b->pages[0] == frame ? std::min<uint32_t>(end, 0x1000) : end - 0x1000;
    if (from < hi && lo < to) victims.push_back(b);
  }
  return victims;
}

void BlockIndex::remove(Block* b) {
  unlist_pages(b);
  unlist_key(b);
  by_host_.erase(reinterpret_cast<uintptr_t>(b->host));
  auto owned = blocks_.find(b->host);
  graveyard_.push_back(std::move(owned->second));
  blocks_.erase(owned);
}

void BlockIndex::unlist_pages(Block* b) {
  for (uint64_t page : b->pages)
    if (page != kNoFrame) {
      auto p = by_page_.find(page);
      if (p != by_page_.end()) {
        p->second.erase(b);
        if (p->second.empty()) by_page_.erase(p);
      }
    }
}

void BlockIndex::unlist_key(Block* b) {
  auto [k, end] = by_key_.equal_range(key(b->phys, b->eip, b->mode));
  for (; k != end; ++k)
    if (k->second == b) {
      by_key_.erase(k);
      break;
    }
}

Block* BlockIndex::insert_scratch(std::unique_ptr<Block> block) {
  Block* b = block.get();
  by_host_[reinterpret_cast<uintptr_t>(b->host)] = b;
  scratch_block_ = std::move(block);
  return b;
}

void BlockIndex::retire(Block* b) {
  by_host_.erase(reinterpret_cast<uintptr_t>(b->host));
  if (scratch_block_.get() == b) scratch_block_.reset();
}

std::vector<uint64_t> BlockIndex::clear() {
  std::vector<uint64_t> frames;
  for (const auto& [frame, set] : by_page_) frames.push_back(frame);
  blocks_.clear();
  graveyard_.clear();
  by_host_.clear();
  by_key_.clear();
  by_page_.clear();
  return frames;
}

}  // namespace tv::bt
