// Chaining: the rel32 patches and the lists that make them undoable.
#include "bt/cache/chaining.h"

#include <algorithm>

#include "bt/emit/code_writer.h"

namespace tv::bt {

void Chaining::chain(ExitSlot* slot, Block* target, bool cross_page) {
  if (slot->chained_to || !slot->block->valid || !target->valid) return;
  CodeWriter::patch_rel32(slot->jmp_field, target->host);
  slot->chained_to = target;
  target->incoming.push_back(slot);
  if (cross_page) {
    auto& by_page = cross_page_[target->global];
    by_page[target->linear_page].push_back(slot);
    if (target->pages[1] != kNoFrame) by_page[target->linear_page + 0x1000].push_back(slot);
  }
  ++stats_.chains;
}

void Chaining::unlink(ExitSlot* slot, std::vector<ExitSlot*>& incoming) {
  incoming.erase(std::remove(incoming.begin(), incoming.end(), slot), incoming.end());
  slot->chained_to = nullptr;
}

void Chaining::unchain(ExitSlot* slot) {
  Block* target = slot->chained_to;
  if (!target) return;  // already undone (invalidation, or listed twice)
  CodeWriter::patch_rel32(slot->jmp_field, slot->stub);
  unlink(slot, target->incoming);
  ++stats_.unchains;
}

void Chaining::unchain_all(CrossPage& by_page) {
  for (auto& [page, slots] : by_page)
    for (ExitSlot* slot : slots) unchain(slot);
  by_page.clear();
}

void Chaining::unchain_cross_page() {
  unchain_cross_page_nonglobal();
  unchain_all(cross_page_[1]);
}

void Chaining::unchain_cross_page_nonglobal() { unchain_all(cross_page_[0]); }

void Chaining::unchain_cross_page_into(uint32_t linear_page) {
  for (auto& by_page : cross_page_) {
    auto it = by_page.find(linear_page);
    if (it == by_page.end()) continue;
    for (ExitSlot* slot : it->second) unchain(slot);
    by_page.erase(it);
  }
}

void Chaining::unchain_incoming(Block* b) {
  for (ExitSlot* slot : b->incoming) {
    CodeWriter::patch_rel32(slot->jmp_field, slot->stub);
    slot->chained_to = nullptr;
    ++stats_.unchains;
  }
  b->incoming.clear();
}

void Chaining::unchain_outgoing(Block* b) {
  for (unsigned i = 0; i < b->num_exits; ++i) {
    ExitSlot& slot = b->exits[i];
    if (slot.chained_to) unlink(&slot, slot.chained_to->incoming);
  }
}

void Chaining::clear() {
  for (auto& by_page : cross_page_) by_page.clear();
}

}  // namespace tv::bt
