// Chaining on its own (chaining.h): the rel32 field of an exit is patched
// to the target and back to the stub, chains that involve an invalid block
// are refused, and the cross-page lists undo exactly the chains a CR3
// write, a CR3 write with CR4.PGE, or an INVLPG of one page must undo.
#include "bt/cache/chaining.h"

#include <gtest/gtest.h>

#include <array>

#include "code_cache_fakes.h"

namespace tv::bt::test {
namespace {

class ChainingTest : public ::testing::Test {
 protected:
  // Block `i` at linear 0x10000 * (i + 1), on frame 0x1000 * (i + 1).
  Block* block(unsigned i, bool global = false) {
    blocks_.push_back(hand_block(code_.data() + 16 * i, 0x10000 * (i + 1), 0x1000 * (i + 1), 8));
    blocks_.back()->global = global;
    return blocks_.back().get();
  }
  void link(Block* from, Block* to, bool cross_page = false) {
    chaining_.chain(&from->exits[0], to, cross_page);
  }

  alignas(16) std::array<uint8_t, 256> code_{};
  std::vector<std::unique_ptr<Block>> blocks_;
  Stats stats_;
  Chaining chaining_{stats_};
  Block* a_ = block(0);  // linear 0x10000
  Block* b_ = block(1);  // 0x20000, 16 bytes after a_ in host code
  Block* c_ = block(2);  // 0x30000
};

TEST_F(ChainingTest, ChainPatchesTheRel32FieldAndUnchainRestoresIt) {
  EXPECT_TRUE(unchained(a_));
  link(a_, b_);
  EXPECT_TRUE(chained(a_, b_));
  int32_t rel;
  std::memcpy(&rel, a_->exits[0].jmp_field, 4);
  EXPECT_EQ(rel, 16 - 5);  // b_ is 16 bytes on; the field ends 5 bytes into a_
  EXPECT_EQ(b_->incoming, std::vector<ExitSlot*>{&a_->exits[0]});
  chaining_.unchain(&a_->exits[0]);
  EXPECT_TRUE(unchained(a_));
  EXPECT_TRUE(b_->incoming.empty());
  chaining_.unchain(&a_->exits[0]);  // twice: nothing more happens
  EXPECT_EQ(stats_.chains, 1u);
  EXPECT_EQ(stats_.unchains, 1u);
}

TEST_F(ChainingTest, AChainedSlotKeepsItsTarget) {
  link(a_, b_);
  link(a_, c_);
  EXPECT_TRUE(chained(a_, b_));
  EXPECT_TRUE(c_->incoming.empty());
  EXPECT_EQ(stats_.chains, 1u);
}

TEST_F(ChainingTest, NoChainFromOrIntoAnInvalidBlock) {
  b_->valid = false;
  link(a_, b_);
  link(b_, a_);
  EXPECT_TRUE(unchained(a_));
  EXPECT_TRUE(unchained(b_));
  EXPECT_EQ(stats_.chains, 0u);
}

TEST_F(ChainingTest, CrossPageChainsAreUndoneByKind) {
  Block* global = block(3, true);
  Block* from = block(4);
  link(a_, a_);        // same page: never listed
  link(b_, c_, true);  // into a non-global block
  link(from, global, true);
  chaining_.unchain_cross_page_nonglobal();
  EXPECT_TRUE(unchained(b_));
  EXPECT_TRUE(chained(from, global));
  chaining_.unchain_cross_page();
  EXPECT_TRUE(unchained(from));
  EXPECT_TRUE(chained(a_, a_));
  EXPECT_EQ(stats_.unchains, 2u);
}

TEST_F(ChainingTest, UnchainIntoOnePageIncludesTargetsRunningIntoIt) {
  c_->pages[1] = 0x9000;           // linear 0x30000, runs into 0x31000
  Block* global = block(3, true);  // 0x40000
  link(a_, c_, true);
  link(b_, global, true);
  chaining_.unchain_cross_page_into(0x32000);  // no chain into it
  EXPECT_TRUE(chained(a_, c_));
  chaining_.unchain_cross_page_into(0x31000);
  EXPECT_TRUE(unchained(a_));
  EXPECT_TRUE(chained(b_, global));
  chaining_.unchain_cross_page_into(0x40000);
  EXPECT_TRUE(unchained(b_));
  chaining_.unchain_cross_page();  // a_ is still listed under 0x30000: harmless
  EXPECT_EQ(stats_.unchains, 2u);
}

TEST_F(ChainingTest, ClearForgetsTheListsButNotThePatches) {
  link(a_, b_, true);
  chaining_.clear();
  chaining_.unchain_cross_page();
  EXPECT_TRUE(chained(a_, b_));
  EXPECT_EQ(stats_.unchains, 0u);
}

TEST_F(ChainingTest, AnInvalidatedTargetLosesItsIncomingAndTheSourceForgetsIt) {
  link(a_, b_);
  link(b_, c_);
  chaining_.unchain_incoming(b_);
  chaining_.unchain_outgoing(b_);
  EXPECT_TRUE(unchained(a_));
  EXPECT_TRUE(b_->incoming.empty());
  EXPECT_EQ(b_->exits[0].chained_to, nullptr);
  EXPECT_EQ(jump_target(b_->exits[0].jmp_field), c_->host);  // left patched: b_ never runs again
  EXPECT_TRUE(c_->incoming.empty());
}

}  // namespace
}  // namespace tv::bt::test
