// The translation cache as the runtime uses it (code_cache.h): lookup by
// (phys, EIP, mode) under the caller's validity test, host-address lookup,
// invalidation of only the blocks a write overlaps (chains into them put
// back on their stubs, jump-cache entries dropped), flush, and a cache
// filled to its last byte.
#include "bt/cache/code_cache.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "code_cache_fakes.h"

namespace tv::bt::test {
namespace {

TEST_F(CodeCacheTest, LookupNeedsPhysEipAndMode) {
  Block* b = add(0x1000, 0x5000);
  EXPECT_EQ(find(0x1000, 0x5000), b);
  EXPECT_EQ(find(0x1000, 0x6000), nullptr);
  EXPECT_EQ(find(0x1004, 0x5000), nullptr);
  EXPECT_EQ(find(0x1000, 0x5000, kUserMode), nullptr);
  EXPECT_EQ(cache_.lookup(0x5000, 0x1000, 0, [](const Block&) { return false; }), nullptr);
  EXPECT_EQ(cache_.block_count(), 1u);
  EXPECT_EQ(cache_.used_bytes(), 16u);  // six bytes, the next block 16-aligned
}

TEST_F(CodeCacheTest, ValidityPredicatePicksAmongBlocksOfOneKey) {
  // The same start whose code runs into two different second frames.
  Block* a = add(0x1FF8, 0x5FF8, 16, 0, 0x7000);
  Block* b = add(0x1FF8, 0x5FF8, 16, 0, 0x9000);
  auto second_frame_is = [&](uint64_t f) {
    return cache_.lookup(0x5FF8, 0x1FF8, 0, [f](const Block& x) { return x.pages[1] == f; });
  };
  EXPECT_EQ(second_frame_is(0x7000), a);
  EXPECT_EQ(second_frame_is(0x9000), b);
  EXPECT_EQ(second_frame_is(0x8000), nullptr);
}

TEST_F(CodeCacheTest, SamePhysAtTwoEipsIsTwoBlocks) {
  // A vDSO mapped at a new address by every exec.
  Block* a = add(0x00001000, 0x5000);
  Block* b = add(0xB7FF1000, 0x5000);
  EXPECT_NE(a, b);
  EXPECT_EQ(find(0x00001000, 0x5000), a);
  EXPECT_EQ(find(0xB7FF1000, 0x5000), b);
  EXPECT_EQ(cache_.invalidate_page(0x5000), 2u);
  EXPECT_EQ(find(0x00001000, 0x5000), nullptr);
  EXPECT_EQ(find(0xB7FF1000, 0x5000), nullptr);
}

TEST_F(CodeCacheTest, BlockAtHostCoversOnlyTheBlocksCode) {
  Block* a = add(0x1000, 0x5000);
  Block* b = add(0x1010, 0x5010);
  EXPECT_EQ(cache_.block_at_host(a->host), a);
  EXPECT_EQ(cache_.block_at_host(a->host + kHandBlockBytes - 1), a);
  EXPECT_EQ(cache_.block_at_host(a->host + kHandBlockBytes), nullptr);  // alignment padding
  EXPECT_EQ(cache_.block_at_host(b->host), b);
  EXPECT_EQ(cache_.block_at_host(miss_), nullptr);
}

TEST_F(CodeCacheTest, HoldsIsTheWholeCodeMemory) {
  uint8_t outside = 0;
  EXPECT_TRUE(cache_.holds(miss_));
  EXPECT_TRUE(cache_.holds(cache_.scratch().first));
  EXPECT_TRUE(cache_.holds(cache_.code_limit() - 1));
  EXPECT_FALSE(cache_.holds(cache_.code_limit()));
  EXPECT_FALSE(cache_.holds(cache_.scratch().first - 1));
  EXPECT_FALSE(cache_.holds(&outside));
  EXPECT_EQ(cache_.capacity(), size_t(1) << 20);
}

TEST_F(CodeCacheTest, ScratchBlockIsFoundByHostOnlyUntilRetired) {
  auto [begin, end] = cache_.scratch();
  EXPECT_EQ(end - begin, 4096);
  EXPECT_LE(end, cache_.code_cursor());  // blocks never overwrite it
  Block* s = cache_.insert_scratch(hand_block(begin, 0x1000, 0x5000, 1));
  EXPECT_EQ(cache_.block_at_host(begin + 2), s);
  EXPECT_EQ(find(0x1000, 0x5000), nullptr);
  EXPECT_FALSE(cache_.page_has_code(0x5000));
  cache_.retire(s);
  EXPECT_EQ(cache_.block_at_host(begin + 2), nullptr);
}

TEST_F(CodeCacheTest, InvalidateRangeTakesOnlyOverlappingBlocks) {
  Block* a = add(0x1100, 0x5100);                 // [0x100, 0x110) of 0x5000
  Block* b = add(0x1110, 0x5110);                 // [0x110, 0x120)
  Block* c = add(0x0FF8, 0x4FF8, 16, 0, 0x5000);  // [0, 8) of 0x5000, from 0x4000
  EXPECT_EQ(cache_.invalidate_range(0x5000, 0x108, 0x110), 1u);
  EXPECT_FALSE(a->valid);
  EXPECT_TRUE(b->valid && c->valid);
  EXPECT_EQ(find(0x1100, 0x5100), nullptr);
  EXPECT_EQ(cache_.block_at_host(a->host), nullptr);
  EXPECT_EQ(cache_.invalidate_range(0x5000, 0x8, 0x110), 0u);  // between c's end and b
  EXPECT_EQ(cache_.invalidate_range(0x5000, 0x7, 0x8), 1u);    // c's last byte
  EXPECT_FALSE(c->valid);
  EXPECT_FALSE(cache_.page_has_code(0x4000));
  EXPECT_TRUE(cache_.page_has_code(0x5000));
  EXPECT_EQ(cache_.invalidate_page(0x5000), 1u);
  EXPECT_FALSE(cache_.page_has_code(0x5000));
  EXPECT_EQ(cache_.invalidate_page(0x5000), 0u);
  EXPECT_EQ(cache_.block_count(), 0u);
}

TEST_F(CodeCacheTest, InvalidationPutsIncomingChainsBackOnTheirStubs) {
  Block* a = add(0x1000, 0x5000);
  Block* b = add(0x1010, 0x5010);
  Block* c = add(0x2000, 0x6000);
  cache_.chain(&a->exits[0], b);
  cache_.chain(&b->exits[0], c, true);
  cache_.jump_cache_put(a);
  cache_.jump_cache_put(b);
  EXPECT_EQ(cache_.invalidate_range(0x5000, 0x10, 0x11), 1u);
  EXPECT_TRUE(unchained(a));
  EXPECT_TRUE(b->incoming.empty());
  EXPECT_EQ(b->exits[0].chained_to, nullptr);  // b's own chain is forgotten...
  EXPECT_TRUE(c->incoming.empty());            // ...and c no longer lists it
  EXPECT_EQ(cache_.jump_cache_find(0x1010, false), nullptr);
  EXPECT_EQ(cache_.jump_cache_find(0x1000, false), a->host);
  EXPECT_EQ(stats_.chains, 2u);
  EXPECT_EQ(stats_.unchains, 1u);
  cache_.chain(&a->exits[0], b);  // into a dead block: refused
  EXPECT_TRUE(unchained(a));
  cache_.unchain_cross_page();  // b's slot was listed; it is not patched again
  EXPECT_EQ(stats_.unchains, 1u);
}

TEST_F(CodeCacheTest, FlushDropsEverythingAndReturnsTheFramesWithCode) {
  Block* a = add(0x1000, 0x5000);
  Block* b = add(0x2FF8, 0x6FF8, 16, 0, 0x8000);
  cache_.chain(&a->exits[0], b, true);
  cache_.jump_cache_put(a);
  uint8_t* start = a->host;
  std::vector<uint64_t> frames = cache_.flush();
  std::sort(frames.begin(), frames.end());
  EXPECT_EQ(frames, (std::vector<uint64_t>{0x5000, 0x6000, 0x8000}));
  EXPECT_EQ(cache_.block_count(), 0u);
  EXPECT_EQ(cache_.used_bytes(), 0u);
  EXPECT_EQ(cache_.code_cursor(), start);
  EXPECT_EQ(find(0x1000, 0x5000), nullptr);
  EXPECT_EQ(cache_.jump_cache_find(0x1000, false), nullptr);
  EXPECT_FALSE(cache_.page_has_code(0x5000));
  EXPECT_EQ(stats_.flushes, 1u);
  EXPECT_TRUE(cache_.flush().empty());
}

class FullCodeCacheTest : public CodeCacheTest {
 protected:
  FullCodeCacheTest() : CodeCacheTest(8192) {}
};

TEST_F(FullCodeCacheTest, FillsToTheLimitAndFlushStartsOver) {
  // 8 KiB less the 4 KiB scratch area and the 64-byte miss stub: 252
  // blocks of 16 bytes.
  uint8_t* start = cache_.code_cursor();
  EXPECT_EQ(size_t(cache_.code_limit() - start), 8192u - 4096 - 64);
  unsigned n = 0;
  while (cache_.code_limit() - cache_.code_cursor() >= kHandBlockBytes)
    add(0x1000 + 16 * n++, 0x5000);
  EXPECT_EQ(n, 252u);
  EXPECT_EQ(cache_.code_cursor(), cache_.code_limit());
  EXPECT_EQ(cache_.used_bytes(), 8192u - 4096 - 64);
  EXPECT_EQ(cache_.block_at_host(cache_.code_limit() - 16)->eip, 0x1000 + 16 * 251);
  EXPECT_EQ(cache_.flush(), std::vector<uint64_t>{0x5000});
  EXPECT_EQ(cache_.code_cursor(), start);
  EXPECT_EQ(add(0x1000, 0x5000)->host, start);
}

}  // namespace
}  // namespace tv::bt::test
