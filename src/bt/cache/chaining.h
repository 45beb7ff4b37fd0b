// Chaining: patching a block's direct exit to jump straight into the block
// it leads to, and undoing it. A chain within one linear page holds as long
// as both blocks do; a chain to another page holds only while the linear
// mappings do, so those are listed by the target's linear page (and by
// whether the target is global) for CR3 writes and INVLPG to undo.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "bt/cache/block.h"
#include "bt/stats/stats.h"

namespace tv::bt {

class Chaining {
 public:
  using CrossPage = std::unordered_map<uint32_t, std::vector<ExitSlot*>>;  // by target page

  explicit Chaining(Stats& stats) : stats_(stats) {}

  // Patches `slot` to jump to `target`, unless it is chained already or
  // either block is invalid.
  void chain(ExitSlot* slot, Block* target, bool cross_page);
  // Points `slot` back at its stub; its code may still be running.
  void unchain(ExitSlot* slot);
  // Undoes cross-page chains: all, those into non-global blocks, or those
  // into one linear page.
  void unchain_cross_page();
  void unchain_cross_page_nonglobal();
  void unchain_cross_page_into(uint32_t linear_page);
  // For an invalidated block: unpatches the chains into it, and forgets
  // its own (its code is not run again, so they are left patched).
  void unchain_incoming(Block* b);
  void unchain_outgoing(Block* b);
  // The cross-page chains into non-global blocks (what a CR3 write parks).
  const CrossPage& cross_page_nonglobal() const { return cross_page_[0]; }
  // Forgets the cross-page lists (a flush: the slots go with their blocks).
  void clear();

 private:
  static void unlink(ExitSlot* slot, std::vector<ExitSlot*>& incoming);
  void unchain_all(CrossPage& by_page);

  Stats& stats_;
  CrossPage cross_page_[2];  // [target is global]
};

}  // namespace tv::bt
