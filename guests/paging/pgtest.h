/* paging guest: the shared pieces. The kernel runs with CR0.PG and CR0.WP
 * set on one page directory (kernel_pd) that maps RAM 1:1 (4 KiB pages
 * below 4 MiB, 4 MiB pages above) and leaves the linear areas below to
 * the tests. Every test builds its own mappings there and flushes what it
 * changed: the checks assert only what the SDM guarantees after an
 * invalidation, never that a stale TLB entry survives. */
#pragma once

#include "guest.h"
#include "paging.h"
#include "tss.h"

/* Linear areas the tests own (each its own PDE). */
#define TEST_BASE 0x40000000u     /* 4 KiB test pages: test_page(k) */
#define PDE_TEST_BASE 0x40400000u /* a table whose PDE the tests restrict */
#define PT_EDGE 0x40800000u       /* straddles the PDEs at 0x40400000/0x40800000 */
#define DEMAND_BASE 0x50000000u   /* supervisor demand-paged area, no PDE at start */
#define USER_DEMAND_BASE 0x54000000u
#define LARGE_TEST 0x80000000u /* 4 MiB test mappings */
#define LARGE_TEST2 0x80400000u
#define PSE_OFF_TEST 0x84000000u
#define HIGH_LARGE 0xC0000000u     /* alias of [0, 4 MiB) by one 4 MiB page */
#define HIGH_SMALL 0xD0000000u     /* the same through the kernel's page table */
#define UNMAPPED 0xE0000000u       /* no PDE, ever */
#define USER_STACK_TOP 0x7FFFF000u /* one user stack page below this */
#define RECURSIVE_SLOT 1023u
#define RECURSIVE_BASE 0xFFC00000u /* page tables seen through PDE 1023 */

extern uint32_t *kernel_pd;
extern uint32_t big_frame[2]; /* two 4 MiB-aligned frames outside the pool */

static inline uint32_t test_page(unsigned k) { return TEST_BASE + k * PAGE_SIZE; }

/* Sets the PTE of a TEST_BASE page and flushes it: entry = frame | flags. */
void set_test_pte(uint32_t linear, uint32_t frame, uint32_t flags);
uint32_t *test_pte(uint32_t linear);

/* One access from ring 0 or ring 3, and what came of it. */
enum access_mode { MODE_SUPERVISOR, MODE_USER };
enum access_kind { ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC };

struct access_result {
  bool faulted;
  uint32_t error, cr2, eip; /* of the #PF, if faulted */
  uint32_t want_eip;        /* where the fault must point: the access */
  uint32_t value;           /* read or executed value, if not faulted */
};

/* Reads, writes `value` to, or executes at `addr`. For an execute the test
 * first stores "mov $value, %eax" and a return (RET, or INT 0x80 for
 * ring 3) at addr through the frame's 1:1 mapping. */
struct access_result access_probe(enum access_mode mode, enum access_kind kind, uint32_t addr,
                                  uint32_t value);

/* Checks a result: no fault (and for reads/executes `value`), or a fault
 * with `error`, CR2 = addr and EIP at the access. `what` names the case. */
void check_no_fault(const char *what, const struct access_result *r, enum access_kind kind,
                    uint32_t value);
void check_fault(const char *what, const struct access_result *r, uint32_t error, uint32_t addr);

/* Demand paging: while armed, a not-present #PF inside [base, end) gets a
 * zeroed frame mapped with `pte_flags` (and a page table if needed) and the
 * access is retried. The handler never flushes: a PTE going from not
 * present to present needs no invalidation (SDM Vol. 3A 4.10.4.3). */
#define DEMAND_LOG 8
struct demand_fault {
  uint32_t error, cr2, eip;
};
struct demand_area {
  uint32_t base, end, pte_flags;
  unsigned faults;
  struct demand_fault log[DEMAND_LOG]; /* the first faults */
};
void demand_arm(struct demand_area *area);
void demand_disarm(void);

/* Asm helpers (stubs.S). */
uint32_t hh_where(void);
uint32_t rep_movsb_probe(uint32_t dst, uint32_t src, uint32_t count);
extern char hh_where_label[];
extern char user_text_start[], user_text_end[];
extern char user_read_stub[], user_write_stub[];
extern char user_demand_stub[], user_demand_push[], user_demand_load[];

/* The groups, in the order kmain runs them. */
void test_page_sizes(void);
void test_higher_half(void);
void test_recursive(void);
void test_accessed_dirty(void);
void test_write_protect(void);
void test_error_codes(void);
void test_global(void);
void test_invlpg(void);
void test_demand(void);
void test_pg_toggle(void);
