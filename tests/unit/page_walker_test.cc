// IA-32 32-bit page walker: present/absent at both levels, 4 KiB and PSE
// 4 MiB pages, the full U/S x R/W x present matrix against user/supervisor,
// read/write and CR0.WP with exact #PF error codes (SDM Vol. 3A 4.6, 4.7),
// accessed/dirty updates (4.8), PSE-36 reserved bits, the G bit, the top
// of the linear address space, the entries a walk reports, and the page
// arithmetic of base/address.h it relies on.
#include "shadow_mmu/page_walker.h"

#include <gtest/gtest.h>

namespace tv::mmu {
namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint32_t kDir = 0x1000, kTable = 0x2000, kTableTop = 0x3000;
constexpr uint64_t kRamSize = 8 << 20;

// Expected outcome per access; index = wp * 4 + user * 2 + write. kOk means
// the access is permitted, otherwise the exact #PF error code.
constexpr int kOk = -1;
struct RightsRow {
  uint32_t flags;  // P/RW/US of the level under test (the other level allows all)
  int expect[8];
};
// SDM Vol. 3A 4.6.1 and 4.7; columns: {sup R, sup W, user R, user W} x {WP=0, WP=1}.
constexpr RightsRow kRights[] = {
    {P | RW | US, {kOk, kOk, kOk, kOk, kOk, kOk, kOk, kOk}},
    {P | US, {kOk, kOk, kOk, 7, kOk, 3, kOk, 7}},
    {P | RW, {kOk, kOk, 5, 7, kOk, kOk, 5, 7}},
    {P, {kOk, kOk, 5, 7, kOk, 3, 5, 7}},
    {RW | US, {0, 2, 4, 6, 0, 2, 4, 6}},
    {US, {0, 2, 4, 6, 0, 2, 4, 6}},
    {RW, {0, 2, 4, 6, 0, 2, 4, 6}},
    {0, {0, 2, 4, 6, 0, 2, 4, 6}},
};

int expected(uint32_t flags, int index) {
  for (const RightsRow& row : kRights) {
    if (row.flags == (flags & (P | RW | US))) return row.expect[index];
  }
  ADD_FAILURE() << "no row for flags " << flags;
  return 0;
}

class PageWalkerTest : public ::testing::Test {
 protected:
  uint64_t pde_addr(uint32_t linear) const { return kDir + (linear >> 22) * 4; }
  uint64_t pte_addr(uint32_t table, uint32_t linear) const {
    return table + ((linear >> 12) & 0x3FF) * 4;
  }
  void set_pde(uint32_t linear, uint32_t v) { ram.store(GuestPhys{pde_addr(linear)}, v); }
  void set_pte(uint32_t table, uint32_t linear, uint32_t v) {
    ram.store(GuestPhys{pte_addr(table, linear)}, v);
  }
  uint32_t pde(uint32_t linear) const { return ram.load<uint32_t>(GuestPhys{pde_addr(linear)}); }
  uint32_t pte(uint32_t table, uint32_t linear) const {
    return ram.load<uint32_t>(GuestPhys{pte_addr(table, linear)});
  }
  // Maps `linear` to the 4 KiB frame `frame` through kTable.
  void map_4k(uint32_t linear, uint32_t frame, uint32_t pde_flags, uint32_t pte_flags) {
    set_pde(linear, kTable | pde_flags);
    set_pte(kTable, linear, frame | pte_flags);
  }
  Translation go(uint32_t linear, AccessType access, bool user, bool set_ad = true) {
    return walk(ram, mode, GuestLinear{linear}, access, user, set_ad);
  }

  // Runs the 8 accesses of kRights at `lin`, calling `reset` before each so
  // that A/D from one access do not leak into the next.
  template <typename Reset>
  void check_matrix(uint32_t lin, uint32_t flags, Reset reset) {
    for (int i = 0; i < 8; ++i) {
      mode.wp = i & 4;
      const bool user = i & 2, write = i & 1;
      reset();
      Translation r = go(lin, write ? AccessType::kWrite : AccessType::kRead, user);
      const int want = expected(flags, i);
      SCOPED_TRACE(testing::Message() << "flags=" << flags << " wp=" << mode.wp << " user=" << user
                                      << " write=" << write);
      EXPECT_EQ(r.ok, want == kOk);
      if (want != kOk) {
        EXPECT_EQ(r.error_code, uint32_t(want));
      } else {
        EXPECT_EQ(r.writable, (flags & RW) || (!user && !mode.wp));
      }
    }
  }

  GuestMemory ram{kRamSize};
  PagingMode mode{kDir, true, true};
};

TEST_F(PageWalkerTest, AbsentDirectoryEntryFaultsWithPZeroAndAccessBits) {
  const uint32_t lin = 0x00401000;
  EXPECT_EQ(go(lin, AccessType::kRead, false).error_code, 0u);
  EXPECT_EQ(go(lin, AccessType::kWrite, false).error_code, 2u);
  EXPECT_EQ(go(lin, AccessType::kRead, true).error_code, 4u);
  EXPECT_EQ(go(lin, AccessType::kWrite, true).error_code, 6u);
  Translation t = go(lin, AccessType::kFetch, true);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, 4u);  // no I/D bit without NX
  EXPECT_EQ(t.pte_addr.value, pde_addr(lin));
}

TEST_F(PageWalkerTest, AbsentTableEntryFaultsAndLeavesDirectoryUntouched) {
  const uint32_t lin = 0x00401000;
  set_pde(lin, kTable | P | RW | US);
  Translation t = go(lin, AccessType::kWrite, true);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, 6u);
  EXPECT_EQ(t.pte_addr.value, pte_addr(kTable, lin));
  EXPECT_EQ(pde(lin), kTable | P | RW | US);  // no A on a faulting walk
}

TEST_F(PageWalkerTest, Translates4KPageWithOffset) {
  map_4k(0x00401000, 0x123000, P | RW | US, P | RW | US);
  Translation t = go(0x00401ABC, AccessType::kRead, true);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.phys.value, 0x123ABCu);
  EXPECT_EQ(t.page_size, 4096u);
  EXPECT_TRUE(t.writable);
  EXPECT_TRUE(t.user);
  EXPECT_EQ(t.pte_addr.value, pte_addr(kTable, 0x00401000));
  EXPECT_EQ(go(0x00401FFF, AccessType::kRead, true).phys.value, 0x123FFFu);
  EXPECT_FALSE(go(0x00402000, AccessType::kRead, true).ok);  // the next PTE is empty
}

TEST_F(PageWalkerTest, Translates4MPageWithOffsetUnderPse) {
  set_pde(0x00800000, 0x00C00000 | PS | P | RW);  // frame beyond RAM is fine (MMIO)
  Translation t = go(0x00923456, AccessType::kWrite, false);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.phys.value, 0x00D23456u);
  EXPECT_EQ(t.page_size, 4u << 20);
  EXPECT_FALSE(t.user);
  EXPECT_EQ(t.pte_addr.value, pde_addr(0x00800000));
}

TEST_F(PageWalkerTest, PsBitIsIgnoredWithoutPse) {
  const uint32_t lin = 0x00C05000;
  set_pde(lin, 0x00400000 | PS | P | RW | US);
  ram.store(GuestPhys{0x00400000 + 5 * 4}, uint32_t{0x7000 | P | RW | US});
  Translation big = go(lin + 0x12, AccessType::kRead, false);
  ASSERT_TRUE(big.ok);
  EXPECT_EQ(big.phys.value, 0x00405012u);
  EXPECT_EQ(big.page_size, 4u << 20);

  mode.pse = false;  // the same PDE now points to a page table at 0x400000
  Translation small = go(lin + 0x12, AccessType::kRead, false);
  ASSERT_TRUE(small.ok);
  EXPECT_EQ(small.phys.value, 0x7012u);
  EXPECT_EQ(small.page_size, 4096u);
  EXPECT_EQ(small.pte_addr.value, 0x00400000u + 5 * 4);
}

TEST_F(PageWalkerTest, Pse36BitsOfA4MPdeAreReserved) {
  const uint32_t lin = 0x00800000;
  for (uint32_t bit : {13u, 16u, 17u, 21u}) {
    const uint32_t v = 0x00400000 | (1u << bit) | PS | P | RW;  // supervisor-only page
    set_pde(lin, v);
    Translation t = go(lin, AccessType::kWrite, true);
    EXPECT_FALSE(t.ok) << bit;
    // RSVD wins over the U/S violation; P=1 since the entry is present.
    EXPECT_EQ(t.error_code, 0xFu) << bit;
    EXPECT_EQ(t.pte_addr.value, pde_addr(lin));
    EXPECT_EQ(go(lin, AccessType::kRead, false).error_code, 0x9u) << bit;
    EXPECT_EQ(pde(lin), v) << bit;  // no A/D
  }
  // Without PSE those bits are part of a page-table address.
  set_pde(lin, 0x00402000 | PS | P | RW);
  ram.store(GuestPhys{0x00402000}, uint32_t{0x9000 | P | RW});
  mode.pse = false;
  EXPECT_TRUE(go(lin, AccessType::kWrite, false).ok);
}

TEST_F(PageWalkerTest, RightsMatrixAtPteLevel) {
  const uint32_t lin = 0x00401000;
  for (const RightsRow& row : kRights) {
    check_matrix(lin, row.flags, [&] { map_4k(lin, 0x5000, P | RW | US, row.flags); });
  }
}

TEST_F(PageWalkerTest, RightsMatrixAtPdeLevel) {
  const uint32_t lin = 0x00401000;
  for (const RightsRow& row : kRights) {
    check_matrix(lin, row.flags, [&] { map_4k(lin, 0x5000, row.flags, P | RW | US); });
  }
}

TEST_F(PageWalkerTest, RightsMatrixFor4MPages) {
  const uint32_t lin = 0x00C01234;
  for (const RightsRow& row : kRights) {
    check_matrix(lin, row.flags, [&] { set_pde(lin, 0x00400000 | PS | row.flags); });
  }
}

// Every PDE x PTE combination: rights combine by AND once both are present,
// and a missing PDE hides the PTE entirely.
TEST_F(PageWalkerTest, RightsCombineAcrossLevels) {
  const uint32_t lin = 0x00401000;
  for (const RightsRow& d : kRights) {
    for (const RightsRow& e : kRights) {
      uint32_t combined = (d.flags & P) ? (e.flags & P) | (d.flags & e.flags & (RW | US)) : 0;
      check_matrix(lin, combined, [&] { map_4k(lin, 0x5000, d.flags, e.flags); });
    }
  }
}

TEST_F(PageWalkerTest, FetchIsCheckedLikeARead) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW | US, P);  // supervisor read-only
  EXPECT_TRUE(go(lin, AccessType::kFetch, false).ok);
  Translation t = go(lin, AccessType::kFetch, true);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, 5u);
}

TEST_F(PageWalkerTest, ReadSetsAccessedInBothLevelsButNotDirty) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW | US, P | RW | US);
  Translation t = go(lin, AccessType::kRead, true);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.dirty);
  EXPECT_EQ(pde(lin), kTable | P | RW | US | A);
  EXPECT_EQ(pte(kTable, lin), 0x5000 | P | RW | US | A);
}

TEST_F(PageWalkerTest, WriteSetsDirtyOnlyInTheFinalEntry) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW, P | RW);
  Translation t = go(lin, AccessType::kWrite, false);
  ASSERT_TRUE(t.ok);
  EXPECT_TRUE(t.dirty);
  EXPECT_EQ(pde(lin), kTable | P | RW | A);
  EXPECT_EQ(pte(kTable, lin), 0x5000 | P | RW | A | D);
  EXPECT_TRUE(go(lin, AccessType::kRead, false).dirty);  // stays dirty
}

TEST_F(PageWalkerTest, FourMegPdeGetsAccessedAndDirty) {
  const uint32_t lin = 0x00800000;
  set_pde(lin, 0x00400000 | PS | P | RW);
  go(lin, AccessType::kFetch, false);
  EXPECT_EQ(pde(lin), 0x00400000 | PS | P | RW | A);
  go(lin, AccessType::kWrite, false);
  EXPECT_EQ(pde(lin), 0x00400000 | PS | P | RW | A | D);
}

TEST_F(PageWalkerTest, DeniedAccessSetsNothing) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW | US, P | US);  // read-only user page
  EXPECT_FALSE(go(lin, AccessType::kWrite, true).ok);
  EXPECT_EQ(pde(lin), kTable | P | RW | US);
  EXPECT_EQ(pte(kTable, lin), 0x5000 | P | US);

  set_pde(0x00800000, 0x00400000 | PS | P);  // supervisor-only 4 MiB page
  EXPECT_FALSE(go(0x00800000, AccessType::kRead, true).ok);
  EXPECT_EQ(pde(0x00800000), 0x00400000 | PS | P);
}

TEST_F(PageWalkerTest, SetAdFalseLeavesEntriesAlone) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW, P | RW);
  Translation t = go(lin, AccessType::kWrite, false, /*set_ad=*/false);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.dirty);
  EXPECT_EQ(pde(lin), kTable | P | RW);
  EXPECT_EQ(pte(kTable, lin), 0x5000 | P | RW);
}

TEST_F(PageWalkerTest, ReportsGlobalBitOfTheFinalEntryOnly) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW | G, P | RW | G);
  EXPECT_TRUE(go(lin, AccessType::kRead, false).global);
  map_4k(lin, 0x5000, P | RW | G, P | RW);  // G in a table-pointing PDE is ignored
  EXPECT_FALSE(go(lin, AccessType::kRead, false).global);
  set_pde(0x00800000, 0x00400000 | PS | G | P);
  EXPECT_TRUE(go(0x00800000, AccessType::kRead, false).global);
}

TEST_F(PageWalkerTest, TopOfTheLinearAddressSpace) {
  set_pde(0xFFFFF000, kTableTop | P | RW | US);
  set_pte(kTableTop, 0xFFFFF000, 0x6000 | P | RW | US);
  Translation t = go(0xFFFFFFFF, AccessType::kWrite, true);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.phys.value, 0x6FFFu);
  EXPECT_EQ(t.pte_addr.value, kTableTop + 1023u * 4);
  EXPECT_EQ(pde(0xFFFFF000), kTableTop | P | RW | US | A);
  EXPECT_EQ(go(0xFFFFF000, AccessType::kRead, false).phys.value, 0x6000u);

  set_pde(0xFFC00000, 0xFFC00000 | PS | P | RW);
  Translation big = go(0xFFFFFFFF, AccessType::kRead, false);
  ASSERT_TRUE(big.ok);
  EXPECT_EQ(big.phys.value, 0xFFFFFFFFu);
  EXPECT_EQ(big.pte_addr.value, kDir + 1023u * 4);
}

TEST_F(PageWalkerTest, TablesOutsideRamReadAsNotPresent) {
  mode.cr3 = 0xFEE00000;  // directory in MMIO space
  Translation t = go(0x1000, AccessType::kRead, false);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, 0u);
  EXPECT_EQ(t.pte_addr.value, 0xFEE00000u);

  mode.cr3 = kDir;
  set_pde(0x1000, 0xF0000000 | P | RW | US);  // page table beyond RAM
  t = go(0x1000, AccessType::kWrite, true);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, 6u);
  EXPECT_EQ(t.pte_addr.value, 0xF0000004u);
}

TEST_F(PageWalkerTest, IgnoresCr3CacheControlBits) {
  map_4k(0x00401000, 0x5000, P | RW, P | RW);
  mode.cr3 = kDir | 0x18;  // PWT | PCD
  EXPECT_EQ(go(0x00401010, AccessType::kRead, false).phys.value, 0x5010u);
}

TEST_F(PageWalkerTest, DescribeNamesTheOutcome) {
  map_4k(0x00401000, 0x5000, P | RW | US, P | US | G);
  EXPECT_EQ(describe(go(0x00401234, AccessType::kRead, true)),
            "phys=0x5234 4K ro user global (pte @0x2004)");
  EXPECT_EQ(describe(go(0x00401234, AccessType::kWrite, true)),
            "#PF ec=0x7 protection write user (pte @0x2004)");
  EXPECT_EQ(describe(go(0x00C00000, AccessType::kRead, false)),
            "#PF ec=0x0 not present read supervisor (pte @0x100c)");
}

TEST_F(PageWalkerTest, ReportsTheEntriesAsTheWalkLeftThem) {
  const uint32_t lin = 0x00401000;
  map_4k(lin, 0x5000, P | RW | US, P | RW | US);
  Translation t = go(lin + 8, AccessType::kWrite, true);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.pde, kTable | P | RW | US | A);
  EXPECT_EQ(t.pte, 0x5000 | P | RW | US | A | D);
  EXPECT_EQ(t.pde, pde(lin));
  EXPECT_EQ(t.pte, pte(kTable, lin));
  EXPECT_FALSE(t.large());

  Translation peek = go(lin, AccessType::kRead, true, /*set_ad=*/false);
  EXPECT_EQ(peek.pte, pte(kTable, lin));  // unchanged: already accessed and dirty

  set_pde(0x00800000, 0x00400000 | PS | P | RW);
  Translation big = go(0x00800000, AccessType::kWrite, false);
  ASSERT_TRUE(big.ok);
  EXPECT_TRUE(big.large());
  EXPECT_EQ(big.pde, 0x00400000 | PS | P | RW | A | D);
  EXPECT_EQ(big.pte, 0u);  // a 4 MiB page has no PTE
}

TEST_F(PageWalkerTest, EntryAddressesIgnoreFlagBits) {
  // SDM Vol. 3A Figure 4-2: CR3 bits 31:12 and linear bits 31:22 locate the
  // PDE; PDE bits 31:12 and linear bits 21:12 the PTE.
  EXPECT_EQ(pde_address(0x12345018, GuestLinear{0xFFFFFFFF}).value, 0x12345FFCu);
  EXPECT_EQ(pde_address(0x12345000, GuestLinear{0x003FFFFF}).value, 0x12345000u);
  EXPECT_EQ(pte_address(0x00ABC067, GuestLinear{0xFFFFFFFF}).value, 0x00ABCFFCu);
  EXPECT_EQ(pte_address(0x00ABC067, GuestLinear{0x00400FFF}).value, 0x00ABC000u);
}

TEST(AddressTest, PageArithmeticAtTheEdges) {
  constexpr GuestLinear top{0xFFFFFFFF};
  static_assert(page_of(top) == GuestLinear{0xFFFFF000});
  static_assert(page_offset(top) == 0xFFFu);
  static_assert(page_number(top) == 0xFFFFFu);
  static_assert(page_of(top) + 0x1000 == GuestLinear{0});  // linear addresses wrap at 4 GiB
  constexpr GuestPhys high{0x1'2345'6789};
  static_assert(page_of(high) == GuestPhys{0x1'2345'6000});
  static_assert(page_offset(high) == 0x789u);
  static_assert(page_number(high) == 0x12'3456u);
  static_assert(high + 0x1000 > high);  // physical addresses do not wrap at 4 GiB
  EXPECT_EQ(page_of(GuestLinear{0x1000}).value, 0x1000u);
  EXPECT_EQ(page_offset(GuestPhys{0xFFF}), 0xFFFu);
}

}  // namespace
}  // namespace tv::mmu
