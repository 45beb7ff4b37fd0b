// Blocks made by hand for the translation-cache tests (code_cache_test,
// chaining_test, jump_cache_test, link_parking_test): six bytes of host
// code, a `jmp rel32` whose field first points at the `ret` after it (the
// block's exit stub). Nothing runs them; chaining only patches the field.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "bt/cache/code_cache.h"

namespace tv::bt::test {

constexpr uint32_t kHandBlockBytes = 6;
constexpr uint32_t kUserMode = 3u << 3;  // the CPL bits of a block's mode

// A block at `host` for guest code [eip, eip + guest_len) at `phys`, with
// one chainable exit to `target`. pages[1] is for the test to set.
inline std::unique_ptr<Block> hand_block(uint8_t* host, uint32_t eip, uint64_t phys,
                                         uint32_t guest_len, uint32_t mode = 0) {
  const uint8_t code[kHandBlockBytes] = {0xE9, 0, 0, 0, 0, 0xC3};
  std::memcpy(host, code, sizeof code);
  auto b = std::make_unique<Block>();
  b->eip = eip, b->phys = phys, b->guest_len = guest_len, b->mode = mode;
  b->pages[0] = phys & ~0xFFFull;
  b->linear_page = eip & ~0xFFFu;
  b->host = host, b->host_len = kHandBlockBytes;
  b->exits[0] = ExitSlot{host + 1, host + 5, eip + guest_len, b.get(), nullptr, true};
  b->num_exits = 1;
  return b;
}

// Where the jump whose rel32 field is at `field` leads now.
inline const uint8_t* jump_target(const uint8_t* field) {
  int32_t rel;
  std::memcpy(&rel, field, 4);
  return field + 4 + rel;
}

// Whether `from`'s exit is chained to `to`, in its slot and in its code.
inline bool chained(const Block* from, const Block* to) {
  return from->exits[0].chained_to == to && jump_target(from->exits[0].jmp_field) == to->host;
}
// Whether `b`'s exit leads to its own stub.
inline bool unchained(const Block* b) {
  return !b->exits[0].chained_to && jump_target(b->exits[0].jmp_field) == b->exits[0].stub;
}

// A CodeCache over two jump-cache tables of its own, with a miss stub at
// the start of its code memory as the runtime sets it up.
class CodeCacheTest : public ::testing::Test {
 protected:
  explicit CodeCacheTest(size_t bytes = 1 << 20)
      : kernel_(kJumpCacheSize),
        user_(kJumpCacheSize),
        cache_(bytes, kernel_.data(), user_.data(), stats_) {
    miss_ = cache_.reserve(64);
    *miss_ = 0xC3;
    cache_.set_miss_stub(miss_);
    cache_.jump_cache_clear();
  }

  // A block inserted at the code cursor.
  Block* add(uint32_t eip, uint64_t phys, uint32_t guest_len = 16, uint32_t mode = 0,
             uint64_t second_frame = ~0ull) {
    uint8_t* host = cache_.code_cursor();
    auto b = hand_block(host, eip, phys, guest_len, mode);
    b->pages[1] = second_frame;
    return cache_.insert(std::move(b), host + kHandBlockBytes);
  }
  Block* find(uint32_t eip, uint64_t phys, uint32_t mode = 0) {
    return cache_.lookup(phys, eip, mode, [](const Block&) { return true; });
  }

  std::vector<JumpCacheEntry> kernel_, user_;
  Stats stats_;
  CodeCache cache_;
  uint8_t* miss_ = nullptr;
};

}  // namespace tv::bt::test
