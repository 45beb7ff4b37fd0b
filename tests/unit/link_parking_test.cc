// Link parking through the cache (link_parking.h): a CR3 write with
// CR4.PGE drops the jump-cache entries and cross-page chains of non-global
// blocks and parks them; the first lookup in the target's page puts back
// those whose target is still valid, of the same mode but for the CPL,
// under the same CS base, and mapped to the same frames.
#include "bt/cache/link_parking.h"

#include <gtest/gtest.h>

#include "code_cache_fakes.h"

namespace tv::bt::test {
namespace {

constexpr uint32_t kPagingMode = 1u << 0;  // any mode bit other than the CPL

class LinkParkingTest : public CodeCacheTest {
 protected:
  LinkParkingTest() {
    target_ = add(0x40001000, 0x7000, 16, kPagingMode);
    neighbour_ = add(0x40001100, 0x7100, 16, kPagingMode);  // same page: same parking
    source_ = add(0x08048000, 0x5000, 16, kPagingMode);
    cache_.jump_cache_put(target_);
    cache_.chain(&source_->exits[0], target_, true);
  }
  // The first lookup in the target's page, with the mappings as `mapped` says.
  void look_up_neighbour(uint32_t mode, uint32_t cs_base, bool mapped) {
    cache_.unpark(*neighbour_, mode, cs_base, [mapped](const Block&) { return mapped; });
  }
  bool target_cached() { return cache_.jump_cache_find(target_->eip, false) == target_->host; }

  Block* target_;
  Block* neighbour_;
  Block* source_;
};

TEST_F(LinkParkingTest, ParkDropsTheLinksAndUnparkPutsThemBack) {
  cache_.park_nonglobal(0);
  EXPECT_TRUE(cache_.has_parked());
  EXPECT_FALSE(target_cached());
  EXPECT_TRUE(unchained(source_));
  look_up_neighbour(kPagingMode, 0, true);
  EXPECT_TRUE(target_cached());
  EXPECT_TRUE(chained(source_, target_));
  EXPECT_FALSE(cache_.has_parked());
}

TEST_F(LinkParkingTest, AnotherCplOfTheSameModeStillUnparks) {
  cache_.park_nonglobal(0);
  look_up_neighbour(kPagingMode | kUserMode, 0, true);
  EXPECT_TRUE(target_cached());  // in the table of the target's own CPL
  EXPECT_TRUE(chained(source_, target_));
}

TEST_F(LinkParkingTest, UnmappedTargetsAreNotRestoredAndTheParkedLinksGo) {
  cache_.park_nonglobal(0);
  look_up_neighbour(kPagingMode, 0, false);
  EXPECT_FALSE(target_cached());
  EXPECT_TRUE(unchained(source_));
  EXPECT_FALSE(cache_.has_parked());
  look_up_neighbour(kPagingMode, 0, true);  // nothing left to restore
  EXPECT_FALSE(target_cached());
}

TEST_F(LinkParkingTest, OtherModeOrCsBaseRestoresNothing) {
  cache_.park_nonglobal(0);
  look_up_neighbour(0, 0, true);
  EXPECT_FALSE(target_cached());
  EXPECT_TRUE(unchained(source_));
  cache_.jump_cache_put(target_);
  cache_.chain(&source_->exits[0], target_, true);
  cache_.park_nonglobal(0);
  look_up_neighbour(kPagingMode, 0x1000, true);
  EXPECT_FALSE(target_cached());
  EXPECT_TRUE(unchained(source_));
}

TEST_F(LinkParkingTest, AnInvalidatedTargetIsNotRestored) {
  cache_.park_nonglobal(0);
  EXPECT_EQ(cache_.invalidate_page(0x7000), 2u);  // target and neighbour
  look_up_neighbour(kPagingMode, 0, true);
  EXPECT_EQ(cache_.jump_cache_find(target_->eip, false), nullptr);
  EXPECT_TRUE(unchained(source_));
}

TEST_F(LinkParkingTest, GlobalBlocksKeepTheirLinks) {
  Block* global = add(0xC0100000, 0x9000, 16, kPagingMode);
  global->global = true;
  Block* from = add(0x08049000, 0x6000, 16, kPagingMode);
  cache_.jump_cache_put(global);
  cache_.chain(&from->exits[0], global, true);
  cache_.park_nonglobal(0);
  EXPECT_EQ(cache_.jump_cache_find(global->eip, false), global->host);
  EXPECT_TRUE(chained(from, global));
}

TEST_F(LinkParkingTest, OnlyTheLookedUpPageIsRestored) {
  Block* elsewhere = add(0x40005000, 0x8000, 16, kPagingMode);
  cache_.jump_cache_put(elsewhere);
  cache_.park_nonglobal(0);
  look_up_neighbour(kPagingMode, 0, true);
  EXPECT_TRUE(target_cached());
  EXPECT_EQ(cache_.jump_cache_find(elsewhere->eip, false), nullptr);
  EXPECT_TRUE(cache_.has_parked());  // 0x40005000 still waits
  cache_.flush();
  EXPECT_FALSE(cache_.has_parked());
}

}  // namespace
}  // namespace tv::bt::test
