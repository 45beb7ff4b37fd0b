// The jump cache on its own (jump_cache.h): entries land where the inline
// probe of bt/emit/vcpu_layout.h reads them, CPL 3 blocks in the user
// table, clears empty what they must (the first one every entry, later
// ones only the filled slots), and INVLPG's drop_page one page of EIPs.
#include "bt/cache/jump_cache.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "code_cache_fakes.h"

namespace tv::bt::test {
namespace {

class JumpCacheTest : public ::testing::Test {
 protected:
  JumpCacheTest() : kernel_(kJumpCacheSize), user_(kJumpCacheSize) {
    std::memset(kernel_.data(), 0xAB, kernel_.size() * sizeof(JumpCacheEntry));
    std::memset(user_.data(), 0xAB, user_.size() * sizeof(JumpCacheEntry));
    jc_.set_miss_stub(&miss_);
    jc_.clear();
  }
  const Block* block(uint32_t eip, uint32_t mode = 0, bool global = false) {
    blocks_.push_back(hand_block(code_.data() + 8 * blocks_.size(), eip, 0x5000, 4, mode));
    blocks_.back()->global = global;
    jc_.put(blocks_.back().get());
    return blocks_.back().get();
  }
  bool empty(const JumpCacheEntry& e) const {
    return e.neg_eip == 0 && e.host == reinterpret_cast<uint64_t>(&miss_);
  }
  bool cached(const Block* b) const {
    return jc_.find(b->eip, JumpCache::table_of(*b) == 1) == b->host;
  }

  std::vector<JumpCacheEntry> kernel_, user_;
  JumpCache jc_{kernel_.data(), user_.data()};
  uint8_t miss_ = 0xC3;
  std::array<uint8_t, 256> code_{};
  std::vector<std::unique_ptr<Block>> blocks_;
};

TEST_F(JumpCacheTest, FirstClearEmptiesEveryEntry) {
  for (unsigned i = 0; i < kJumpCacheSize; ++i) ASSERT_TRUE(empty(kernel_[i]) && empty(user_[i]));
}

TEST_F(JumpCacheTest, PutFillsTheEntryTheProbeReads) {
  const Block* k = block(0x00101234);
  const Block* u = block(0x00101234, kUserMode);
  const Block* cpl1 = block(0x00205678, 1u << 3);
  const JumpCacheEntry& e = kernel_[jump_cache_index(0x00101234)];
  EXPECT_EQ(uint32_t(0x00101234 + e.neg_eip), 0u);  // the probe's add gives zero
  EXPECT_EQ(e.host, reinterpret_cast<uint64_t>(k->host));
  EXPECT_EQ(user_[jump_cache_index(0x00101234)].host, reinterpret_cast<uint64_t>(u->host));
  EXPECT_EQ(kernel_[jump_cache_index(0x00205678)].host, reinterpret_cast<uint64_t>(cpl1->host));
  EXPECT_EQ(jc_.find(0x00101234, false), k->host);
  EXPECT_EQ(jc_.find(0x00101234, true), u->host);
  EXPECT_EQ(jc_.find(0x00205678, true), nullptr);
  EXPECT_EQ(jc_.find(0x00101235, false), nullptr);
}

TEST_F(JumpCacheTest, LaterClearsTouchOnlyFilledSlots) {
  const Block* b = block(0x1000);
  const Block* u = block(0x2000, kUserMode, true);
  unsigned untouched = (jump_cache_index(0x1000) + 1) & (kJumpCacheSize - 1);
  kernel_[untouched].pad = 0x5A;  // a slot nothing filled
  jc_.clear();
  EXPECT_TRUE(empty(kernel_[jump_cache_index(b->eip)]));
  EXPECT_TRUE(empty(user_[jump_cache_index(u->eip)]));
  EXPECT_EQ(kernel_[untouched].pad, 0x5Au);
}

TEST_F(JumpCacheTest, ClearNonglobalKeepsGlobalBlocks) {
  const Block* g = block(0x1000, 0, true);
  const Block* n = block(0x2000);
  const Block* u = block(0x3000, kUserMode);
  jc_.clear_nonglobal();
  EXPECT_TRUE(cached(g));
  EXPECT_FALSE(cached(n));
  EXPECT_FALSE(cached(u));
  jc_.clear();
  EXPECT_FALSE(cached(g));
}

TEST_F(JumpCacheTest, DropPageTakesTheEipsOfThatPageInBothTables) {
  const Block* first = block(0x1000);
  const Block* last = block(0x1FFF);
  const Block* user = block(0x1800, kUserMode);
  const Block* next = block(0x2000);
  jc_.drop_page(0x3000);  // no entries there
  EXPECT_TRUE(cached(first) && cached(last) && cached(user) && cached(next));
  jc_.drop_page(0x1000);
  EXPECT_FALSE(cached(first));
  EXPECT_FALSE(cached(last));
  EXPECT_FALSE(cached(user));
  EXPECT_TRUE(cached(next));
  jc_.put(first);  // the page's bit is set again
  jc_.drop_page(0x1000);
  EXPECT_FALSE(cached(first));
}

TEST_F(JumpCacheTest, DropEmptiesOnlyAnEntryStillHoldingTheBlock) {
  uint32_t other = 0x1001;
  while (jump_cache_index(other) != jump_cache_index(0x1000)) ++other;
  const Block* a = block(0x1000);
  const Block* b = block(other);  // takes a's slot
  EXPECT_FALSE(cached(a));
  jc_.drop(a);
  EXPECT_TRUE(cached(b));
  jc_.drop(b);
  EXPECT_FALSE(cached(b));
  EXPECT_EQ(kernel_[jump_cache_index(other)].host, reinterpret_cast<uint64_t>(&miss_));
}

TEST_F(JumpCacheTest, ForEachNonglobalListsTheFilledSlotsOfNonglobalBlocks) {
  const Block* n = block(0x1000);
  block(0x2000, 0, true);
  const Block* u = block(0x3000, kUserMode);
  std::vector<const uint8_t*> seen;
  jc_.for_each_nonglobal([&](const uint8_t* host) { seen.push_back(host); });
  EXPECT_EQ(seen, (std::vector<const uint8_t*>{n->host, u->host}));
}

}  // namespace
}  // namespace tv::bt::test
