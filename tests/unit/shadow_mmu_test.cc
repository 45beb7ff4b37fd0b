// Shadow address spaces cached per CR3 (shadow_mmu.h): mappings survive a
// switch away and back when the guest's entries are unchanged, go when a
// PDE or PTE changed meanwhile (also on a reload of the same CR3), global
// mappings survive CR3 writes and INVLPG drops them in every space.
#include "shadow_mmu/shadow_mmu.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tv::mmu {
namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, G = 0x100;
constexpr uint32_t kUserPage = 0x00400000, kOtherPage = 0x00401000;

class ShadowMmuTest : public ::testing::Test {
 protected:
  ShadowMmuTest() : ram_(16 << 20), mmu_(ram_) {}

  void poke(uint64_t phys, uint32_t v) { std::memcpy(ram_.physmap() + phys, &v, 4); }
  uint32_t through_window(View v, uint32_t linear) {
    uint32_t x;
    std::memcpy(&x, mmu_.window(v).base() + linear, 4);
    return x;
  }
  // A page directory at `pd` with one page table at `pt` for 0x00400000.
  void directory(uint32_t pd, uint32_t pt) { poke(pd + (kUserPage >> 22) * 4, pt | P | RW | US | A); }
  void map(uint32_t pt, uint32_t linear, uint32_t frame, uint32_t flags = P | RW | US | A | D) {
    poke(pt + ((linear >> 12) & 0x3FF) * 4, frame | flags);
  }
  void enable(uint32_t cr3, bool pge = false) {
    PagingState p;
    p.enabled = true;
    p.cr3 = cr3;
    p.pge = pge;
    mmu_.set_paging(p);
  }
  // A guest read of `linear`: the hidden fault maps it, then the window shows it.
  uint32_t touch(uint32_t linear) {
    if (!mmu_.mapped(View::kUser, linear)) {
      FaultOutcome r = mmu_.handle_fault(View::kUser, linear, false);
      EXPECT_EQ(r.kind, FaultOutcome::Kind::kRetry);
    }
    return through_window(View::kUser, linear);
  }

  GuestMemory ram_;
  ShadowMmu mmu_;
};

constexpr uint32_t kDirA = 0x10000, kTableA = 0x11000, kDirB = 0x12000, kTableB = 0x13000;
constexpr uint32_t kFrame1 = 0x20000, kFrame2 = 0x21000, kFrame3 = 0x22000;

TEST_F(ShadowMmuTest, SwitchingBackKeepsUnchangedMappings) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1), map(kTableB, kUserPage, kFrame2);
  poke(kFrame1, 0x1111), poke(kFrame2, 0x2222);
  enable(kDirA);
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  mmu_.switch_cr3(kDirB);
  EXPECT_FALSE(mmu_.mapped(View::kUser, kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x2222u);
  uint64_t faults = mmu_.stats().hidden_faults;
  mmu_.switch_cr3(kDirA);
  EXPECT_TRUE(mmu_.mapped(View::kUser, kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  EXPECT_EQ(mmu_.stats().hidden_faults, faults);
  EXPECT_EQ(mmu_.stats().spaces_reused, 1u);
}

TEST_F(ShadowMmuTest, AnEntryChangedWhileAwayDropsTheMapping) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1);
  poke(kFrame1, 0x1111), poke(kFrame3, 0x3333);
  enable(kDirA);
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  mmu_.switch_cr3(kDirB);
  map(kTableA, kUserPage, kFrame3);  // the guest remaps A's page while B runs
  mmu_.switch_cr3(kDirA);
  EXPECT_FALSE(mmu_.mapped(View::kUser, kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x3333u);
  EXPECT_EQ(mmu_.stats().stale_dropped, 1u);
}

TEST_F(ShadowMmuTest, AReloadDropsOnlyWhatChanged) {
  directory(kDirA, kTableA);
  map(kTableA, kUserPage, kFrame1), map(kTableA, kOtherPage, kFrame2);
  enable(kDirA);
  touch(kUserPage), touch(kOtherPage);
  map(kTableA, kOtherPage, kFrame2, P | US | A | D);  // now read-only
  mmu_.switch_cr3(kDirA);
  EXPECT_TRUE(mmu_.mapped(View::kUser, kUserPage));
  EXPECT_FALSE(mmu_.mapped(View::kUser, kOtherPage));
  // A cleared accessed bit also counts: the next access must set it again.
  map(kTableA, kUserPage, kFrame1, P | RW | US | D);
  mmu_.switch_cr3(kDirA);
  EXPECT_FALSE(mmu_.mapped(View::kUser, kUserPage));
}

TEST_F(ShadowMmuTest, GlobalMappingsSurviveCr3WritesAndInvlpgDropsThemEverywhere) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1, P | RW | US | A | D | G);
  map(kTableA, kOtherPage, kFrame2);
  enable(kDirA, true);
  touch(kUserPage), touch(kOtherPage);
  mmu_.switch_cr3(kDirA);  // a reload keeps the global page
  EXPECT_TRUE(mmu_.mapped(View::kUser, kUserPage));
  mmu_.switch_cr3(kDirB);
  mmu_.invalidate_page(kUserPage);  // while A is not active
  mmu_.switch_cr3(kDirA);
  EXPECT_FALSE(mmu_.mapped(View::kUser, kUserPage));
  EXPECT_TRUE(mmu_.mapped(View::kUser, kOtherPage));
}

TEST_F(ShadowMmuTest, ASpaceHandedToAnotherCr3KeepsOnlyGlobalMappings) {
  directory(kDirA, kTableA);
  map(kTableA, kUserPage, kFrame1, P | RW | US | A | D | G);
  map(kTableA, kOtherPage, kFrame2);
  enable(kDirA, true);
  touch(kUserPage), touch(kOtherPage);
  // Eight more directories (all mapping nothing): the ninth CR3 takes the
  // least recently used space, A's.
  for (uint32_t k = 1; k <= 8; ++k) {
    uint32_t pd = kDirA + 0x100000 * k;
    mmu_.switch_cr3(pd);
    if (k == 8) {
      EXPECT_TRUE(mmu_.mapped(View::kUser, kUserPage)) << "the global mapping went with the space";
      EXPECT_FALSE(mmu_.mapped(View::kUser, kOtherPage));
    }
  }
}

}  // namespace
}  // namespace tv::mmu
