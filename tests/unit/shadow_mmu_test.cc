// Shadow address spaces cached per CR3 (shadow_mmu.h): mappings survive a
// switch away and back when the guest's entries are unchanged, go when a
// PDE or PTE changed meanwhile (also on a reload of the same CR3), global
// mappings survive CR3 writes and INVLPG drops them in every space. The
// bookkeeping stays within its preallocated capacity (a full table flushes
// rather than grows), code tracing reaches every alias, and host mapping
// failures come back as values on the fault handler's path.
#include "shadow_mmu/shadow_mmu.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "base/error.h"

namespace tv::mmu {
namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint32_t kUserPage = 0x00400000, kOtherPage = 0x00401000;

class ShadowMmuTest : public ::testing::Test {
 protected:
  ShadowMmuTest() : ram_(16 << 20), mmu_(std::make_unique<ShadowMmu>(ram_)) {}

  ShadowMmu& mmu() { return *mmu_; }
  // A fresh shadow MMU whose mapping table holds `capacity` mappings.
  void with_capacity(uint32_t capacity) {
    mmu_.reset();
    mmu_ = std::make_unique<ShadowMmu>(ram_, capacity);
  }

  void poke(uint64_t phys, uint32_t v) { std::memcpy(ram_.physmap() + phys, &v, 4); }
  uint32_t through_window(View v, uint32_t linear) {
    uint32_t x;
    std::memcpy(&x, mmu().window(v).base() + linear, 4);
    return x;
  }
  // Whether the host lets a write through the window reach `linear`,
  // asked without a signal: read(2) into a read-only page fails with
  // EFAULT. The byte written is the one already there.
  bool host_writable(View v, uint32_t linear) {
    uint8_t* p = mmu().window(v).base() + linear;
    int fds[2];
    if (pipe(fds) != 0) return false;
    uint8_t byte = *p;
    bool ok = write(fds[1], &byte, 1) == 1 && read(fds[0], p, 1) == 1;
    close(fds[0]), close(fds[1]);
    return ok;
  }
  // A page directory at `pd` with one page table at `pt` for 0x00400000.
  void directory(uint32_t pd, uint32_t pt) {
    poke(pd + (kUserPage >> 22) * 4, pt | P | RW | US | A);
  }
  void map(uint32_t pt, uint32_t linear, uint32_t frame, uint32_t flags = P | RW | US | A | D) {
    poke(pt + ((linear >> 12) & 0x3FF) * 4, frame | flags);
  }
  void enable(uint32_t cr3, bool pge = false, bool pse = false) {
    PagingState p;
    p.enabled = true;
    p.cr3 = cr3;
    p.pge = pge;
    p.pse = pse;
    mmu().set_paging(p);
  }
  bool mapped(uint32_t linear, View v = View::kUser) {
    return mmu().mapped(v, GuestLinear{linear});
  }
  FaultOutcome fault(uint32_t linear, bool write, View v = View::kUser) {
    return mmu().handle_fault(v, GuestLinear{linear}, write);
  }
  // A guest read of `linear`: the hidden fault maps it, then the window shows it.
  uint32_t touch(uint32_t linear, View v = View::kUser) {
    if (!mapped(linear, v)) {
      EXPECT_EQ(fault(linear, false, v).kind, FaultOutcome::Kind::kRetry);
    }
    return through_window(v, linear);
  }

  GuestMemory ram_;
  std::unique_ptr<ShadowMmu> mmu_;
};

constexpr uint32_t kDirA = 0x10000, kTableA = 0x11000, kDirB = 0x12000, kTableB = 0x13000;
constexpr uint32_t kFrame1 = 0x20000, kFrame2 = 0x21000, kFrame3 = 0x22000;

TEST_F(ShadowMmuTest, SwitchingBackKeepsUnchangedMappings) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1), map(kTableB, kUserPage, kFrame2);
  poke(kFrame1, 0x1111), poke(kFrame2, 0x2222);
  enable(kDirA);
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  mmu().switch_cr3(kDirB);
  EXPECT_FALSE(mapped(kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x2222u);
  uint64_t faults = mmu().stats().hidden_faults;
  mmu().switch_cr3(kDirA);
  EXPECT_TRUE(mapped(kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  EXPECT_EQ(mmu().stats().hidden_faults, faults);
  EXPECT_EQ(mmu().stats().spaces_reused, 1u);
}

TEST_F(ShadowMmuTest, AnEntryChangedWhileAwayDropsTheMapping) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1);
  poke(kFrame1, 0x1111), poke(kFrame3, 0x3333);
  enable(kDirA);
  EXPECT_EQ(touch(kUserPage), 0x1111u);
  mmu().switch_cr3(kDirB);
  map(kTableA, kUserPage, kFrame3);  // the guest remaps A's page while B runs
  mmu().switch_cr3(kDirA);
  EXPECT_FALSE(mapped(kUserPage));
  EXPECT_EQ(touch(kUserPage), 0x3333u);
  EXPECT_EQ(mmu().stats().stale_dropped, 1u);
}

TEST_F(ShadowMmuTest, AReloadDropsOnlyWhatChanged) {
  directory(kDirA, kTableA);
  map(kTableA, kUserPage, kFrame1), map(kTableA, kOtherPage, kFrame2);
  enable(kDirA);
  touch(kUserPage), touch(kOtherPage);
  map(kTableA, kOtherPage, kFrame2, P | US | A | D);  // now read-only
  mmu().switch_cr3(kDirA);
  EXPECT_TRUE(mapped(kUserPage));
  EXPECT_FALSE(mapped(kOtherPage));
  // A cleared accessed bit also counts: the next access must set it again.
  map(kTableA, kUserPage, kFrame1, P | RW | US | D);
  mmu().switch_cr3(kDirA);
  EXPECT_FALSE(mapped(kUserPage));
}

TEST_F(ShadowMmuTest, GlobalMappingsSurviveCr3WritesAndInvlpgDropsThemEverywhere) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1, P | RW | US | A | D | G);
  map(kTableA, kOtherPage, kFrame2);
  enable(kDirA, true);
  touch(kUserPage), touch(kOtherPage);
  mmu().switch_cr3(kDirA);  // a reload keeps the global page
  EXPECT_TRUE(mapped(kUserPage));
  mmu().switch_cr3(kDirB);
  mmu().invalidate_page(GuestLinear{kUserPage});  // while A is not active
  mmu().switch_cr3(kDirA);
  EXPECT_FALSE(mapped(kUserPage));
  EXPECT_TRUE(mapped(kOtherPage));
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
    mmu().switch_cr3(pd);
    if (k == 8) {
      EXPECT_TRUE(mapped(kUserPage)) << "the global mapping went with the space";
      EXPECT_FALSE(mapped(kOtherPage));
    }
  }
}

// Pages of the user table at kTableA: 0x00400000 + i * 4 KiB -> frame kFrame1 + i * 4 KiB.
uint32_t nth_page(uint32_t i) { return kUserPage + i * 0x1000; }

TEST_F(ShadowMmuTest, AFullTableFlushesInsteadOfGrowing) {
  with_capacity(4);
  directory(kDirA, kTableA);
  for (uint32_t i = 0; i < 5; ++i) map(kTableA, nth_page(i), kFrame1 + i * 0x1000);
  enable(kDirA);
  for (uint32_t i = 0; i < 4; ++i) touch(nth_page(i));
  EXPECT_EQ(mmu().mapping_count(), 4u);
  EXPECT_EQ(mmu().stats().capacity_flushes, 0u);

  poke(kFrame1 + 4 * 0x1000, 0x5555);
  EXPECT_EQ(touch(nth_page(4)), 0x5555u);  // the fifth: everything goes, then it is mapped
  EXPECT_EQ(mmu().stats().capacity_flushes, 1u);
  EXPECT_EQ(mmu().mapping_count(), 1u);
  EXPECT_EQ(mmu().mapping_peak(), 4u);
  EXPECT_TRUE(mapped(nth_page(4)));
  EXPECT_FALSE(mapped(nth_page(0)));
}

TEST_F(ShadowMmuTest, DroppedMappingsAreReusedWithoutAFlush) {
  with_capacity(2);
  directory(kDirA, kTableA);
  for (uint32_t i = 0; i < 64; ++i) map(kTableA, nth_page(i), kFrame1 + i * 0x1000);
  enable(kDirA);
  for (uint32_t i = 0; i < 64; ++i) {
    touch(nth_page(i));
    mmu().invalidate_page(GuestLinear{nth_page(i) + 0x123});  // any address in the page
    EXPECT_FALSE(mapped(nth_page(i)));
  }
  EXPECT_EQ(mmu().stats().capacity_flushes, 0u);
  EXPECT_EQ(mmu().mapping_count(), 0u);
  EXPECT_EQ(mmu().mapping_peak(), 1u);
}

TEST_F(ShadowMmuTest, AFullTableAlsoCountsTheOtherSpaces) {
  with_capacity(2);
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1), map(kTableA, kOtherPage, kFrame2);
  map(kTableB, kUserPage, kFrame3);
  enable(kDirA);
  touch(kUserPage), touch(kOtherPage);
  mmu().switch_cr3(kDirB);
  touch(kUserPage);  // A's two mappings fill the table: this flushes them
  EXPECT_EQ(mmu().stats().capacity_flushes, 1u);
  EXPECT_EQ(mmu().mapping_count(), 1u);
  mmu().switch_cr3(kDirA);  // A's space was emptied by the flush
  EXPECT_FALSE(mapped(kUserPage));
  mmu().switch_cr3(kDirB);  // B's is still cached
  EXPECT_TRUE(mapped(kUserPage));
  EXPECT_EQ(mmu().stats().spaces_reused, 1u);
}

TEST_F(ShadowMmuTest, TracingProtectsEveryAliasAndUntracingDropsThem) {
  directory(kDirA, kTableA), directory(kDirB, kTableB);
  map(kTableA, kUserPage, kFrame1), map(kTableA, kOtherPage, kFrame1);  // two aliases in A
  map(kTableB, kUserPage, kFrame1);
  enable(kDirA);
  touch(kUserPage), touch(kOtherPage), touch(kUserPage, View::kSupervisor);
  mmu().switch_cr3(kDirB);
  touch(kUserPage);
  EXPECT_TRUE(host_writable(View::kUser, kUserPage));

  mmu().trace_frame(GuestPhys{kFrame1});
  EXPECT_TRUE(mmu().traced(GuestPhys{kFrame1}));
  EXPECT_EQ(mmu().stats().protections, 4u);
  EXPECT_FALSE(host_writable(View::kUser, kUserPage));
  EXPECT_EQ(fault(kUserPage, true).kind, FaultOutcome::Kind::kCodeWrite);
  mmu().switch_cr3(kDirA);
  EXPECT_FALSE(host_writable(View::kUser, kOtherPage));
  EXPECT_FALSE(host_writable(View::kSupervisor, kUserPage));

  mmu().untrace_frame(GuestPhys{kFrame1});
  EXPECT_FALSE(mmu().traced(GuestPhys{kFrame1}));
  EXPECT_EQ(mmu().mapping_count(), 0u);  // in both spaces: they refault writable
  EXPECT_EQ(fault(kOtherPage, true).kind, FaultOutcome::Kind::kRetry);
  EXPECT_TRUE(host_writable(View::kUser, kOtherPage));
}

TEST_F(ShadowMmuTest, InvlpgInALargePageDropsTheWholeRegionEvenAfterAFlush) {
  with_capacity(1);
  constexpr uint32_t kBig = 0x00800000;
  poke(kDirA + (kBig >> 22) * 4, 0x00400000 | PS | P | RW | US | A | D);
  enable(kDirA, false, /*pse=*/true);
  touch(kBig);
  touch(kBig + 0x5000);  // the table is full: a flush, then the mapping
  EXPECT_EQ(mmu().stats().capacity_flushes, 1u);
  EXPECT_TRUE(mapped(kBig + 0x5000));
  EXPECT_TRUE(mmu().invalidate_page(GuestLinear{kBig}));  // the region is still known as large
  EXPECT_FALSE(mapped(kBig + 0x5000));
}

TEST_F(ShadowMmuTest, OpenBusPagesReadAllOnesAndGoAtTheNextCheck) {
  directory(kDirA, kTableA);
  enable(kDirA);
  constexpr uint32_t kHole = 0x00405000;
  EXPECT_TRUE(mmu().map_open_bus(View::kUser, GuestLinear{kHole + 0x10}).ok());
  EXPECT_EQ(through_window(View::kUser, kHole + 0xFFC), 0xFFFFFFFFu);
  EXPECT_TRUE(mapped(kHole));
  EXPECT_FALSE(host_writable(View::kUser, kHole));
  mmu().switch_cr3(kDirA);  // it was made from no guest entry: the check drops it
  EXPECT_FALSE(mapped(kHole));
}

// The guest-RAM fd swapped for a read-only one: every writable mapping of
// RAM now fails with EACCES, a host failure that is not the mapping limit.
class ShadowMmuHostFailureTest : public ShadowMmuTest {
 protected:
  void make_ram_fd_read_only() {
    std::string path = "/proc/self/fd/" + std::to_string(ram_.fd());
    int ro = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(ro, 0);
    ASSERT_EQ(dup2(ro, ram_.fd()), ram_.fd());
    close(ro);
  }
};

TEST_F(ShadowMmuHostFailureTest, AFailedMapIsReturnedNotThrown) {
  directory(kDirA, kTableA);
  map(kTableA, kUserPage, kFrame1);                    // dirty: mapped writable
  map(kTableA, kOtherPage, kFrame2, P | RW | US | A);  // clean: mapped read-only
  enable(kDirA);
  make_ram_fd_read_only();
  FaultOutcome r{};
  EXPECT_NO_THROW(r = fault(kUserPage, false));
  EXPECT_EQ(r.kind, FaultOutcome::Kind::kHostError);
  EXPECT_EQ(r.host.error, EACCES);
  ASSERT_NE(r.host.what, nullptr);
  EXPECT_FALSE(mapped(kUserPage));
  EXPECT_EQ(mmu().mapping_count(), 0u);
  EXPECT_EQ(fault(kOtherPage, false).kind, FaultOutcome::Kind::kRetry);  // read-only still works
}

TEST_F(ShadowMmuHostFailureTest, AFailureAfterAFlushIsReturnedToo) {
  with_capacity(1);
  directory(kDirA, kTableA);
  map(kTableA, kUserPage, kFrame1, P | RW | US | A), map(kTableA, kOtherPage, kFrame2);
  enable(kDirA);
  make_ram_fd_read_only();
  touch(kUserPage);
  FaultOutcome r = fault(kOtherPage, false);  // full: flushes, then the writable map fails
  EXPECT_EQ(r.kind, FaultOutcome::Kind::kHostError);
  EXPECT_EQ(r.host.error, EACCES);
  EXPECT_EQ(mmu().stats().capacity_flushes, 1u);
}

TEST_F(ShadowMmuHostFailureTest, OutsideTheFaultHandlerAFailureThrows) {
  directory(kDirA, kTableA);
  enable(kDirA);
  make_ram_fd_read_only();
  EXPECT_THROW(mmu().open_for_write(View::kUser, GuestLinear{kUserPage}, GuestPhys{kFrame1}),
               Error);
  EXPECT_THROW(mmu().set_paging(PagingState{}), Error);  // the identity views map RAM writable
}

}  // namespace
}  // namespace tv::mmu
