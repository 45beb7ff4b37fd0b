/* paging guest: demand paging. A #PF handler maps a zeroed frame at the
 * faulting page (and a page table when the PDE is missing too) and returns;
 * IRET re-executes the faulting instruction, which must then complete as
 * if nothing happened (SDM Vol. 3A 6.6, faults are restartable). The
 * handler does not flush: a not-present entry is never cached, so making
 * it present needs no invalidation (4.10.4.3). Covered: reads and writes
 * from ring 0 (error 0 and 2), a REP MOVSB whose destination runs through
 * four absent pages (the string instruction resumes mid-way with its
 * registers updated), a dword split over two absent pages, and from ring 3
 * a PUSH onto an absent stack page and a load from an absent page. */
#include "pgtest.h"

#define DEMAND_PAGES 8

static struct demand_area area;

static void check_log(unsigned i, uint32_t error, uint32_t cr2, uint32_t eip, const char *what) {
  if (!check(area.faults > i, "%s: no fault #%u", what, i)) return;
  const struct demand_fault *f = &area.log[i];
  check(f->error == error, "%s: err 0x%x want 0x%x", what, f->error, error);
  check(f->cr2 == cr2, "%s: cr2 0x%08x want 0x%08x", what, f->cr2, cr2);
  if (eip) check(f->eip == eip, "%s: eip 0x%08x want 0x%08x", what, f->eip, eip);
}

static void arm(uint32_t base, uint32_t pages, uint32_t flags) {
  area.base = base;
  area.end = base + pages * PAGE_SIZE;
  area.pte_flags = flags;
  demand_arm(&area);
}

/* Reads then writes each page; only the read faults. */
static void check_reads(void) {
  arm(DEMAND_BASE, DEMAND_PAGES, PTE_P | PTE_RW);
  unsigned nonzero = 0;
  for (unsigned i = 0; i < DEMAND_PAGES; i++) {
    uint32_t a = DEMAND_BASE + i * PAGE_SIZE + 4 * i;
    nonzero += probe_read(a) != 0;
    probe_write(a, i + 1);
  }
  check_eq(area.faults, DEMAND_PAGES, "faults for first reads");
  check_eq(nonzero, 0, "demand-zero pages read nonzero");
  check_log(0, 0, DEMAND_BASE, (uint32_t)probe_read_insn, "first read (no page table yet)");
  check_log(3, 0, DEMAND_BASE + 3 * PAGE_SIZE + 12, (uint32_t)probe_read_insn, "fourth read");
  for (unsigned i = 0; i < DEMAND_PAGES; i++) {
    check_eq(peek(DEMAND_BASE + i * PAGE_SIZE + 4 * i), i + 1, "value after demand fault");
  }
  demand_disarm();
}

static void check_writes(void) {
  uint32_t base = DEMAND_BASE + 0x100000;
  arm(base, 2, PTE_P | PTE_RW);
  probe_write(base + 0x10, 0xD1);
  probe_write(base + PAGE_SIZE + 0x20, 0xD2);
  check_eq(area.faults, 2, "faults for first writes");
  check_log(0, PF_W, base + 0x10, (uint32_t)probe_write_insn, "first write");
  check_log(1, PF_W, base + PAGE_SIZE + 0x20, (uint32_t)probe_write_insn, "second write");
  check_eq(peek(base + 0x10), 0xD1, "first write landed");
  check_eq(peek(base + PAGE_SIZE + 0x20), 0xD2, "second write landed");
  demand_disarm();
}

static void check_rep_movsb(void) {
  static uint8_t src[3 * PAGE_SIZE + 100];
  for (unsigned i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 7 + 3);
  uint32_t base = DEMAND_BASE + 0x200000, dst = base + 0x800;
  arm(base, 4, PTE_P | PTE_RW);
  uint32_t left = rep_movsb_probe(dst, (uint32_t)src, sizeof src);
  check_eq(left, 0, "REP MOVSB: ECX at the end");
  check_eq(area.faults, 4, "REP MOVSB: faults");
  for (unsigned i = 1; i < 4 && i < area.faults; i++) {
    check_eq(area.log[i].cr2, base + i * PAGE_SIZE, "REP MOVSB: cr2 at the next page");
  }
  check_log(0, PF_W, dst, 0, "REP MOVSB: first fault");
  check(memcmp((void *)dst, src, sizeof src) == 0, "REP MOVSB: copy differs");
  demand_disarm();
}

/* A dword over two absent pages faults on each; every CR2 is one of the
 * access's bytes, one in each page (which page faults first, and which
 * byte of it CR2 names, the SDM leaves open). */
static void check_split(void) {
  uint32_t base = DEMAND_BASE + 0x300000, a = base + PAGE_SIZE - 2;
  arm(base, 2, PTE_P | PTE_RW);
  probe_write(a, 0xAABBCCDD);
  check_eq(area.faults, 2, "split write: faults");
  uint32_t pages = 0;
  for (unsigned i = 0; i < 2 && i < area.faults; i++) {
    uint32_t cr2 = area.log[i].cr2;
    check(cr2 >= a && cr2 <= a + 3, "split write: cr2 0x%08x outside the access", cr2);
    pages |= 1u << ((cr2 - base) / PAGE_SIZE);
    check_eq(area.log[i].error, PF_W, "split write: error");
  }
  check_eq(pages, 3, "split write: pages that faulted");
  check_eq(peek(a), 0xAABBCCDD, "split write: value");
  demand_disarm();
}

/* Ring 3: PUSH to an absent stack page (W|U), a load from an absent data
 * page (U), then a store to it (no fault). */
static void check_user(void) {
  uint32_t stack_top = USER_DEMAND_BASE + 2 * PAGE_SIZE, data = USER_DEMAND_BASE + 0x5010;
  arm(USER_DEMAND_BASE, 8, PTE_P | PTE_RW | PTE_US);
  struct user_regs regs = {.eip = (uint32_t)user_demand_stub,
                           .esp = stack_top,
                           .ebx = data,
                           .edx = 0xFFFF,
                           .eflags = EFLAGS_FIXED};
  uint32_t faulted = user_call(&regs);
  check_eq(faulted, 0, "ring 3: a #PF was not fixed");
  check_eq(area.faults, 2, "ring 3: faults");
  check_log(0, PF_W | PF_U, stack_top - 4, (uint32_t)user_demand_push, "ring 3 push");
  check_log(1, PF_U, data, (uint32_t)user_demand_load, "ring 3 load");
  check_eq(peek(data), 0x12345678, "ring 3: pushed, popped and stored value");
  check_eq(peek(stack_top - 4), 0x12345678, "ring 3: pushed value in the stack page");
  demand_disarm();
}

void test_demand(void) {
  unsigned before = check_failures();
  check_reads();
  check_writes();
  check_rep_movsb();
  check_split();
  check_user();
  group_done("demand paging", before);
}
