// LinkParking: what a CR3 write parks.
#include "bt/cache/link_parking.h"

namespace tv::bt {

namespace {
// Bounded: a page whose links are never looked up again keeps at most
// kMaxParked of each kind, and the pool at most kMaxPages pages.
constexpr size_t kMaxParked = 1024, kMaxPages = 4096;
}  // namespace

void LinkParking::park_nonglobal(uint32_t cs_base) {
  if (cs_base != parked_cs_base_ || parked_.size() > kMaxPages) parked_.clear();
  parked_cs_base_ = cs_base;
  park_entries();
  park_chains();
  jump_cache_.clear_nonglobal();
  chaining_.unchain_cross_page_nonglobal();
}

void LinkParking::park_entries() {
  jump_cache_.for_each_nonglobal([&](const uint8_t* host) {
    const Block* b = index_.starting_at(host);
    if (!b || b->global) return;
    auto& entries = parked_[park_key(*b)].entries;
    if (entries.size() < kMaxParked) entries.push_back(b);
  });
}

void LinkParking::park_chains() {
  for (const auto& [page, slots] : chaining_.cross_page_nonglobal())
    for (ExitSlot* slot : slots) {
      Block* target = slot->chained_to;
      if (!target || target->global || target->linear_page != page) continue;
      auto& chains = parked_[park_key(*target)].chains;
      if (chains.size() < kMaxParked) chains.emplace_back(slot, target);
    }
}

}  // namespace tv::bt
