/* paging guest: what the CPU writes back and what it refuses. Accessed and
 * dirty bits as a guest sees them in its tables (SDM Vol. 3A 4.8), CR0.WP
 * for supervisor writes to read-only pages (4.6.1), and the #PF error code,
 * CR2 and saved EIP for every combination of present, U/S and R/W in the
 * PTE, and of U/S and R/W in the PDE, against reads, writes and
 * instruction fetches from ring 0 and ring 3 (4.6, 4.7). Without SMEP and
 * NX the I/D bit of the error code stays 0 (4.7). */
#include "pgtest.h"

static uint32_t ad_bits(uint32_t entry) { return entry & (PTE_A | PTE_D); }

static void check_ad(uint32_t entry, uint32_t want, const char *what) {
  check(ad_bits(entry) == want, "%s: A/D %s%s want %s%s", what, entry & PTE_A ? "A" : "-",
        entry & PTE_D ? "D" : "-", want & PTE_A ? "A" : "-", want & PTE_D ? "D" : "-");
}

static void check_ad_4k(void) {
  uint32_t t = test_page(8), f = page_alloc();
  uint32_t *pte = test_pte(t), *pde = &kernel_pd[pd_index(t)];
  set_test_pte(t, f, PTE_P | PTE_RW);
  *pde &= ~PTE_A;
  invlpg(t); /* also drops the paging-structure caches (SDM Vol. 3A 4.10.4.1) */
  (void)peek(t);
  check_ad(*pte, PTE_A, "read");
  check(*pde & PTE_A, "read: PDE accessed bit not set");
  poke(t, 1);
  check_ad(*pte, PTE_A | PTE_D, "write after read");
  set_test_pte(t, f, PTE_P | PTE_RW);
  poke(t, 2);
  check_ad(*pte, PTE_A | PTE_D, "first access a write");
  set_test_pte(t, f, PTE_P | PTE_RW | PTE_A);
  (void)peek(t + 4);
  check_ad(*pte, PTE_A, "read with A already set");
  poke(t + 4, 3);
  check_ad(*pte, PTE_A | PTE_D, "write with A already set");

  set_test_pte(t, f, PTE_P | PTE_RW);
  struct access_result r = access_probe(MODE_SUPERVISOR, ACCESS_EXEC, t + 0x100, 0xE0E0);
  check_no_fault("execute for A/D", &r, ACCESS_EXEC, 0xE0E0);
  check_ad(*pte, PTE_A, "instruction fetch");

  set_test_pte(t, f, PTE_P | PTE_RW | PTE_US);
  r = access_probe(MODE_USER, ACCESS_READ, t + 8, 0);
  check_ad(*pte, PTE_A, "user read");
  r = access_probe(MODE_USER, ACCESS_WRITE, t + 8, 9);
  check_ad(*pte, PTE_A | PTE_D, "user write");

  /* A write that faults writes nothing, so it sets no D (4.8). */
  set_test_pte(t, f, PTE_P | PTE_US);
  r = access_probe(MODE_USER, ACCESS_WRITE, t + 8, 10);
  check_fault("user write to read-only for A/D", &r, PF_P | PF_W | PF_U, t + 8);
  check(!(*pte & PTE_D), "faulting write set the dirty bit");
}

static void check_ad_4m(void) {
  uint32_t *pde = &kernel_pd[pd_index(LARGE_TEST)];
  map_large(kernel_pd, LARGE_TEST, big_frame[0], PTE_P | PTE_RW);
  invlpg(LARGE_TEST + 0x200000);
  (void)peek(LARGE_TEST + 0x200000);
  check_ad(*pde, PTE_A, "4m read");
  poke(LARGE_TEST + 0x3FF000, 1);
  check_ad(*pde, PTE_A | PTE_D, "4m write");
}

void test_accessed_dirty(void) {
  unsigned before = check_failures();
  check_ad_4k();
  check_ad_4m();
  group_done("accessed and dirty", before);
}

static void set_wp(bool on, uint32_t page) {
  uint32_t cr0 = read_cr0();
  write_cr0(on ? cr0 | CR0_WP : cr0 & ~CR0_WP);
  invlpg(page);
}

/* A read-only page, supervisor (us = 0) or user (us = PTE_US). */
static void check_wp_page(uint32_t us, const char *kind) {
  uint32_t t = test_page(9), f = page_alloc(), a = t + 0x40;
  char what[64];
  poke(f + 0x40, 0x0D0D);
  set_test_pte(t, f, PTE_P | us);
  struct access_result r = access_probe(MODE_SUPERVISOR, ACCESS_WRITE, a, 0xAAAA);
  snprintf(what, sizeof what, "WP=1: supervisor write to %s read-only", kind);
  check_fault(what, &r, PF_P | PF_W, a);
  check_eq(peek(f + 0x40), 0x0D0D, what);
  check(!(*test_pte(t) & PTE_D), "%s: dirty bit set", what);

  set_wp(false, t);
  r = access_probe(MODE_SUPERVISOR, ACCESS_WRITE, a, 0xBBBB);
  snprintf(what, sizeof what, "WP=0: supervisor write to %s read-only", kind);
  check_no_fault(what, &r, ACCESS_WRITE, 0);
  check_eq(peek(f + 0x40), 0xBBBB, what);
  check_ad(*test_pte(t), PTE_A | PTE_D, what);
  r = access_probe(MODE_USER, ACCESS_WRITE, a, 0xCCCC);
  snprintf(what, sizeof what, "WP=0: user write to %s read-only", kind);
  check_fault(what, &r, PF_P | PF_W | PF_U, a);
  set_wp(true, t);
}

/* The PDE's R/W = 0 write-protects its whole table. */
static void check_wp_pde(void) {
  uint32_t t = PDE_TEST_BASE, f = page_alloc(), a = t + 0x80;
  uint32_t *pde = &kernel_pd[pd_index(t)];
  set_test_pte(t, f, PTE_P | PTE_RW | PTE_US);
  *pde &= ~PTE_RW;
  invlpg(t);
  struct access_result r = access_probe(MODE_SUPERVISOR, ACCESS_WRITE, a, 1);
  check_fault("WP=1: supervisor write, PDE read-only", &r, PF_P | PF_W, a);
  r = access_probe(MODE_USER, ACCESS_WRITE, a, 2);
  check_fault("user write, PDE read-only", &r, PF_P | PF_W | PF_U, a);
  r = access_probe(MODE_USER, ACCESS_READ, a, 0);
  check_no_fault("user read, PDE read-only", &r, ACCESS_READ, 0);
  set_wp(false, t);
  r = access_probe(MODE_SUPERVISOR, ACCESS_WRITE, a, 3);
  check_no_fault("WP=0: supervisor write, PDE read-only", &r, ACCESS_WRITE, 0);
  check_eq(peek(f + 0x80), 3, "WP=0: supervisor write, PDE read-only");
  set_wp(true, t);
  *pde |= PTE_RW;
  invlpg(t);
}

void test_write_protect(void) {
  unsigned before = check_failures();
  check_wp_page(0, "supervisor");
  check_wp_page(PTE_US, "user");
  check_wp_pde();
  group_done("write protect", before);
}

static const char *const mode_names[] = {"supervisor", "user"};
static const char *const kind_names[] = {"read", "write", "execute"};

/* Whether one access faults when the combined rights of PDE and PTE are
 * `rights` and CR0.WP = 1, and with which error code (SDM Vol. 3A 4.6.1,
 * 4.7). */
static bool want_fault(uint32_t rights, enum access_mode mode, enum access_kind kind,
                       uint32_t *error) {
  bool user = mode == MODE_USER, write = kind == ACCESS_WRITE;
  *error = (user ? PF_U : 0) | (write ? PF_W : 0);
  if (!(rights & PTE_P)) return true;
  *error |= PF_P;
  if (user && !(rights & PTE_US)) return true;
  return write && !(rights & PTE_RW); /* CR0.WP = 1: ring 0 too */
}

/* Every access mode and kind against `addr`, whose frame is `frame`. */
static void check_all_accesses(uint32_t addr, uint32_t frame, uint32_t rights, const char *what) {
  for (unsigned m = MODE_SUPERVISOR; m <= MODE_USER; m++) {
    for (unsigned k = ACCESS_READ; k <= ACCESS_EXEC; k++) {
      char name[96];
      snprintf(name, sizeof name, "%s, %s %s", what, mode_names[m], kind_names[k]);
      uint32_t value = 0xC0DE0000 | (m << 8) | k, error;
      poke(frame + (addr & ~PAGE_MASK), k == ACCESS_READ ? value : 0);
      invlpg(addr);
      struct access_result r = access_probe(m, k, addr, value);
      if (want_fault(rights, m, k, &error)) {
        check_fault(name, &r, error, addr);
      } else {
        check_no_fault(name, &r, k, value);
        if (k == ACCESS_WRITE) check_eq(peek(frame + (addr & ~PAGE_MASK)), value, name);
      }
    }
  }
}

static void rights_name(char *buf, size_t size, const char *level, uint32_t rights) {
  snprintf(buf, size, "%s %s %s %s", level, rights & PTE_P ? "P" : "!P",
           rights & PTE_US ? "U" : "S", rights & PTE_RW ? "W" : "R");
}

void test_error_codes(void) {
  unsigned before = check_failures();
  uint32_t t = test_page(10), f = page_alloc();
  for (uint32_t rights = 0; rights < 8; rights++) {
    char what[48];
    rights_name(what, sizeof what, "pte", rights);
    set_test_pte(t, f, rights);
    check_all_accesses(t + 0x234, f, rights, what);
  }
  /* The PDE's U/S and R/W and present bit, with a fully open PTE: the
   * rights are the AND of both levels (SDM Vol. 3A 4.6.1). */
  uint32_t p = PDE_TEST_BASE + PAGE_SIZE;
  uint32_t *pde = &kernel_pd[pd_index(p)];
  set_test_pte(p, f, PTE_P | PTE_RW | PTE_US);
  uint32_t table = *pde & PAGE_MASK;
  for (uint32_t rights = 0; rights < 8; rights++) {
    char what[48];
    rights_name(what, sizeof what, "pde", rights);
    *pde = table | rights;
    invlpg(p);
    check_all_accesses(p + 0x568, f, rights, what);
  }
  *pde = table | PTE_P | PTE_RW | PTE_US;
  invlpg(p);
  group_done("fault error codes", before);
}
