// A translated block and its patchable direct exits: what every part of the
// cache (index, chaining, jump cache, link parking) keeps pointers to. A
// block stays at one address from insertion until the next flush, as
// translated code, exit slots and CpuState::exit_slot point into it.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "bt/x86/callout.h"

namespace tv::bt {

struct Block;

// A patchable direct exit of a block: a `jmp rel32` that first points at
// the block's own exit stub and, once chained, at the target block.
struct ExitSlot {
  uint8_t* jmp_field = nullptr;  // the rel32 field to patch
  uint8_t* stub = nullptr;       // the unchained destination
  uint32_t target_eip = 0;
  Block* block = nullptr;  // owner
  Block* chained_to = nullptr;
  bool chainable = true;  // false for exits that must reach the dispatcher (STI shadow)
};

// A Block::pages entry that names no frame: the block lies in one page
// (pages[1]), or it is a one-instruction block outside the cache.
inline constexpr uint64_t kNoFrame = ~0ull;

struct Block {
  uint32_t eip = 0;  // guest linear start
  uint32_t guest_len = 0;
  uint32_t mode = 0;
  uint64_t phys = 0;                         // guest-physical address of eip
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
  std::vector<ExitSlot*> incoming;                      // chained jumps into this block
  std::vector<std::pair<uint32_t, uint32_t>> insn_map;  // (host offset, guest eip) per instruction
  std::vector<std::unique_ptr<CalloutSite>> callouts;

  // The guest EIP of the instruction whose host code contains `host_pc`.
  uint32_t guest_eip_at(const uint8_t* host_pc) const;
};

}  // namespace tv::bt
