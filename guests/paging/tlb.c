/* paging guest: TLB invalidation (SDM Vol. 3A 4.10). A test changes an
 * entry the TLB may hold, performs the operation the SDM says invalidates
 * it, and checks that the new translation is used. Where the SDM lets the
 * old translation live on (a changed global page after a CR3 reload, an
 * unflushed page next to a flushed one) nothing is asserted: QEMU TCG, for
 * one, flushes global pages on every CR3 write, real CPUs keep them.
 *
 * Operations: MOV to CR3 (non-global entries only, and all of them while
 * CR4.PGE = 0), a change of CR4.PGE (everything), INVLPG (one page, any
 * address within it, a 4 MiB page through any address in it -- INVLPG
 * drops every TLB entry for the translation, however the CPU split it --
 * and the paging-structure caches: a changed PDE), and CR0.PG going
 * 1 -> 0 (everything; 4.10.4.1). */
#include "pgtest.h"

#define MARK1 0x11110001u
#define MARK2 0x22220002u
#define MARK3 0x33330003u

/* Two frames whose first dwords differ. */
static void two_frames(uint32_t *f1, uint32_t *f2) {
  *f1 = page_alloc();
  *f2 = page_alloc();
  poke(*f1, MARK1);
  poke(*f2, MARK2);
}

/* Maps `t` to f1 with `flags`, loads the translation, then points the PTE
 * at f2 without invalidating anything. */
static void load_then_change(uint32_t t, uint32_t f1, uint32_t f2, uint32_t flags) {
  set_test_pte(t, f1, flags);
  check_eq(peek(t), MARK1, "translation before the change");
  *test_pte(t) = f2 | flags;
}

static void check_cr3_reload(uint32_t f1, uint32_t f2) {
  uint32_t t = test_page(16);
  load_then_change(t, f1, f2, PTE_P | PTE_RW);
  reload_cr3();
  check_eq(peek(t), MARK2, "non-global page after CR3 reload");

  load_then_change(t, f1, f2, PTE_P | PTE_RW | PTE_G);
  reload_cr3();
  uint32_t v = peek(t); /* either translation is allowed */
  check(v == MARK1 || v == MARK2, "global page after CR3 reload: 0x%x is neither frame", v);
  printf("note: a changed global page after a CR3 reload used the %s frame (either is allowed)\n",
         v == MARK1 ? "old" : "new");
  invlpg(t);
  check_eq(peek(t), MARK2, "global page after INVLPG");
}

static void check_pge_toggle(uint32_t f1, uint32_t f2) {
  uint32_t t = test_page(17), cr4 = read_cr4();
  load_then_change(t, f1, f2, PTE_P | PTE_RW | PTE_G);
  write_cr4(cr4 & ~CR4_PGE);
  write_cr4(cr4);
  check_eq(peek(t), MARK2, "global page after CR4.PGE off and on");

  /* With CR4.PGE = 0 the G bit is ignored (4.10.2.4): CR3 flushes it. */
  write_cr4(cr4 & ~CR4_PGE);
  load_then_change(t, f1, f2, PTE_P | PTE_RW | PTE_G);
  reload_cr3();
  check_eq(peek(t), MARK2, "G page with CR4.PGE=0 after CR3 reload");
  write_cr4(cr4);
}

/* A global 4 MiB page, flushed by INVLPG of an address inside it. */
static void check_global_large(void) {
  uint32_t *pde = &kernel_pd[pd_index(LARGE_TEST)];
  poke(big_frame[0] + 0x1000, MARK1);
  poke(big_frame[1] + 0x1000, MARK2);
  map_large(kernel_pd, LARGE_TEST, big_frame[0], PTE_P | PTE_RW | PTE_G);
  invlpg(LARGE_TEST);
  check_eq(peek(LARGE_TEST + 0x1000), MARK1, "global 4m page before the change");
  *pde = big_frame[1] | PTE_PS | PTE_P | PTE_RW | PTE_G;
  reload_cr3();
  invlpg(LARGE_TEST + 0x3FF000);
  check_eq(peek(LARGE_TEST + 0x1000), MARK2, "global 4m page after INVLPG elsewhere in it");
}

void test_global(void) {
  unsigned before = check_failures();
  uint32_t f1, f2;
  two_frames(&f1, &f2);
  check_cr3_reload(f1, f2);
  check_pge_toggle(f1, f2);
  check_global_large();
  group_done("global pages", before);
}

/* Replaces a 4 MiB page by a page table and back, and repoints a PDE at
 * another table: INVLPG of one address also drops cached PDEs. */
static void check_invlpg_pde(uint32_t f1, uint32_t f2) {
  uint32_t *pde = &kernel_pd[pd_index(LARGE_TEST)];
  uint32_t pt = page_alloc(), a = LARGE_TEST + 5 * PAGE_SIZE;
  ((uint32_t *)pt)[5] = f1 | PTE_P | PTE_RW;
  poke(big_frame[0] + 5 * PAGE_SIZE, MARK3);
  map_large(kernel_pd, LARGE_TEST, big_frame[0], PTE_P | PTE_RW);
  invlpg(a);
  check_eq(peek(a), MARK3, "4m page before a table replaces it");
  *pde = pt | PTE_P | PTE_RW;
  invlpg(a);
  check_eq(peek(a), MARK1, "table replacing a 4m page");
  map_large(kernel_pd, LARGE_TEST, big_frame[0], PTE_P | PTE_RW);
  invlpg(a);
  check_eq(peek(a), MARK3, "4m page replacing a table");

  uint32_t p = PDE_TEST_BASE + 2 * PAGE_SIZE, other = page_alloc();
  uint32_t *ppde = &kernel_pd[pd_index(p)], old = *ppde;
  set_test_pte(p, f1, PTE_P | PTE_RW);
  check_eq(peek(p), MARK1, "PDE before repointing");
  ((uint32_t *)other)[pt_index(p)] = f2 | PTE_P | PTE_RW;
  *ppde = other | PTE_P | PTE_RW | PTE_US;
  invlpg(p);
  check_eq(peek(p), MARK2, "PDE repointed to another table");
  *ppde = old;
  invlpg(p);
}

void test_invlpg(void) {
  unsigned before = check_failures();
  uint32_t f1, f2, f3 = page_alloc();
  two_frames(&f1, &f2);
  poke(f3, MARK3);
  uint32_t t1 = test_page(20), t2 = test_page(21);
  load_then_change(t1, f1, f2, PTE_P | PTE_RW);
  load_then_change(t2, f1, f2, PTE_P | PTE_RW);
  invlpg(t1);
  check_eq(peek(t1), MARK2, "INVLPG of the changed page");
  (void)peek(t2); /* may still be the old frame: not checked */
  invlpg(t2);
  check_eq(peek(t2), MARK2, "INVLPG of the second page");

  load_then_change(t1, f1, f3, PTE_P | PTE_RW);
  invlpg(t1 + 0xFFF);
  check_eq(peek(t1), MARK3, "INVLPG of the page's last byte");

  /* INVLPG never faults, mapped or not (SDM Vol. 2A INVLPG). */
  invlpg(UNMAPPED + 0x123);
  set_test_pte(test_page(22), f1, 0);
  invlpg(test_page(22));

  poke(big_frame[0] + 0x2000, MARK1);
  poke(big_frame[1] + 0x2000, MARK2);
  map_large(kernel_pd, LARGE_TEST, big_frame[0], PTE_P | PTE_RW);
  invlpg(LARGE_TEST);
  check_eq(peek(LARGE_TEST + 0x2000), MARK1, "4m page before the change");
  kernel_pd[pd_index(LARGE_TEST)] = big_frame[1] | PTE_PS | PTE_P | PTE_RW;
  invlpg(LARGE_TEST + 0x234567);
  check_eq(peek(LARGE_TEST + 0x2000), MARK2, "4m page after INVLPG of another address in it");
  check_invlpg_pde(f1, f2);
  group_done("invlpg", before);
}

/* With CR0.PG = 0 linear is physical and nothing is checked; turning
 * paging back on starts from an empty TLB, global pages included. */
void test_pg_toggle(void) {
  unsigned before = check_failures();
  uint32_t f1, f2, ro = page_alloc();
  two_frames(&f1, &f2);
  uint32_t t = test_page(24), t_ro = test_page(25);
  set_test_pte(t_ro, ro, PTE_P);
  check_eq(peek(t_ro), 0, "read-only page before PG=0");
  load_then_change(t, f1, f1, PTE_P | PTE_RW | PTE_G);
  uint32_t cr0 = read_cr0(), cr3 = read_cr3();
  write_cr0(cr0 & ~CR0_PG);
  uint32_t cr0_off = read_cr0();
  *test_pte(t) = f2 | PTE_P | PTE_RW | PTE_G;
  poke(ro, 0x0FF0);     /* no paging: no write protection */
  poke(f1 + 4, 0x0FF1); /* the frame itself, by physical address */
  write_cr0(cr0);
  check(!(cr0_off & CR0_PG), "CR0.PG still set after clearing it");
  check_eq(read_cr3(), cr3, "CR3 across PG=0");
  check_eq(peek(t), MARK2, "global page changed while PG=0");
  check_eq(peek(t_ro), 0x0FF0, "read-only page written while PG=0");
  check_eq(peek(f1 + 4), 0x0FF1, "frame written while PG=0");
  struct access_result r = access_probe(MODE_SUPERVISOR, ACCESS_WRITE, t_ro, 1);
  check_fault("read-only page after PG=1 again", &r, PF_P | PF_W, t_ro);
  group_done("paging off and on", before);
}
