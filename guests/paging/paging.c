/* paging: 32-bit paging as the SDM defines it (Vol. 3A chapter 4), the
 * acceptance test for a shadow MMU. Groups, each printing "<group>: ok":
 * 4 KiB and 4 MiB pages (page-crossing accesses, PS ignored without
 * CR4.PSE, reserved bits), a higher-half alias that code runs through, a
 * recursive page directory, accessed/dirty bits, CR0.WP, the #PF error
 * code, CR2 and saved EIP for every present x U/S x R/W combination and
 * access from ring 0 and ring 3, global pages, INVLPG, demand paging from a
 * #PF handler that retries the access, and CR0.PG off and on again.
 *
 * This file holds the setup, the #PF and INT 0x80 handlers and the access
 * probes the groups share; the groups live in translate.c, protect.c,
 * tlb.c and demand.c. */
#include "pgtest.h"

uint32_t *kernel_pd;
uint32_t big_frame[2];

/* The last #PF a probe took. */
static struct {
  unsigned count;
  uint32_t error, cr2, eip;
} fault;

static volatile bool exec_armed;
static uint32_t exec_target;
static uint32_t user_eax; /* EAX at the INT 0x80 that left ring 3 */
static struct demand_area *armed_area;

uint32_t *test_pte(uint32_t linear) { return pte_for(kernel_pd, linear); }

void set_test_pte(uint32_t linear, uint32_t frame, uint32_t flags) {
  *test_pte(linear) = (frame & PAGE_MASK) | flags;
  invlpg(linear);
}

void demand_arm(struct demand_area *area) {
  area->faults = 0;
  armed_area = area;
}

void demand_disarm(void) { armed_area = 0; }

/* Maps a zeroed frame at a not-present page of the armed area. */
static bool demand_fix(const struct trap_frame *frame, uint32_t cr2) {
  struct demand_area *a = armed_area;
  if (!a || (frame->error_code & PF_P) || cr2 < a->base || cr2 >= a->end) return false;
  if (a->faults < DEMAND_LOG) {
    a->log[a->faults] = (struct demand_fault){frame->error_code, cr2, frame->eip};
  }
  a->faults++;
  *pte_for((uint32_t *)(read_cr3() & PAGE_MASK), cr2) = page_alloc() | a->pte_flags;
  return true;
}

/* Resumes a kernel probe past its faulting instruction. */
static bool skip_probe(struct trap_frame *frame) {
  if (frame->eip == (uint32_t)probe_read_insn) {
    frame->eip = (uint32_t)probe_read_done;
  } else if (frame->eip == (uint32_t)probe_write_insn) {
    frame->eip = (uint32_t)probe_write_done;
  } else if (exec_armed && frame->eip == exec_target) {
    frame->eip = (uint32_t)probe_exec_done;
  } else {
    return false;
  }
  return true;
}

static void page_fault(struct trap_frame *frame) {
  uint32_t cr2 = read_cr2();
  if (demand_fix(frame, cr2)) return; /* IRET retries the access */
  fault.count++;
  fault.error = frame->error_code;
  fault.cr2 = cr2;
  fault.eip = frame->eip;
  if (frame->cs & 3) user_return(1);
  if (skip_probe(frame)) return;
  printf("unexpected #PF at EIP 0x%08x err 0x%x cr2 0x%08x\n", frame->eip, frame->error_code, cr2);
  exit_guest(EXIT_UNEXPECTED_TRAP);
}

static void syscall(struct trap_frame *frame) {
  if (!(frame->cs & 3)) {
    printf("INT 0x80 from ring 0 at 0x%08x\n", frame->eip);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  user_eax = frame->eax;
  user_return(0);
}

/* The entry that maps `addr` (PTE, or PDE of a 4 MiB page), present or
 * not, without creating tables as pte_for() would. */
static uint32_t final_entry(uint32_t addr) {
  uint32_t pde = kernel_pd[pd_index(addr)];
  if (pde & PTE_PS) return pde;
  if (!(pde & PAGE_MASK)) {
    printf("final_entry: no table for 0x%08x\n", addr);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  return ((uint32_t *)(pde & PAGE_MASK))[pt_index(addr)];
}

/* Stores "mov $value, %eax" and RET (ring 0) or INT 0x80 (ring 3) at
 * `addr`, through the 1:1 mapping of the frame behind it. */
static void put_exec_stub(uint32_t addr, uint32_t value, enum access_mode mode) {
  uint32_t entry = final_entry(addr);
  uint32_t phys = (entry & PTE_PS) ? (entry & LARGE_PAGE_MASK) | (addr & ~LARGE_PAGE_MASK)
                                   : (entry & PAGE_MASK) | (addr & ~PAGE_MASK);
  uint8_t *p = (uint8_t *)phys;
  p[0] = 0xB8;
  memcpy(p + 1, &value, 4);
  if (mode == MODE_SUPERVISOR) {
    p[5] = 0xC3;
  } else {
    p[5] = 0xCD;
    p[6] = 0x80;
  }
}

static struct access_result supervisor_access(enum access_kind kind, uint32_t addr,
                                              uint32_t value) {
  struct access_result r = {0};
  switch (kind) {
    case ACCESS_READ:
      r.want_eip = (uint32_t)probe_read_insn;
      r.value = probe_read(addr);
      break;
    case ACCESS_WRITE:
      r.want_eip = (uint32_t)probe_write_insn;
      probe_write(addr, value);
      break;
    case ACCESS_EXEC:
      r.want_eip = addr;
      exec_target = addr;
      exec_armed = true;
      r.value = probe_exec(addr);
      exec_armed = false;
      break;
  }
  return r;
}

static struct access_result user_access(enum access_kind kind, uint32_t addr, uint32_t value) {
  struct user_regs regs = {
      .ebx = addr, .ecx = value, .esp = USER_STACK_TOP, .eflags = EFLAGS_FIXED};
  regs.eip = kind == ACCESS_READ    ? (uint32_t)user_read_stub
             : kind == ACCESS_WRITE ? (uint32_t)user_write_stub
                                    : addr;
  struct access_result r = {0};
  r.want_eip = regs.eip;
  user_eax = 0;
  user_call(&regs);
  r.value = user_eax;
  return r;
}

struct access_result access_probe(enum access_mode mode, enum access_kind kind, uint32_t addr,
                                  uint32_t value) {
  if (kind == ACCESS_EXEC) put_exec_stub(addr, value, mode);
  fault.count = 0;
  struct access_result r = mode == MODE_SUPERVISOR ? supervisor_access(kind, addr, value)
                                                   : user_access(kind, addr, value);
  r.faulted = fault.count != 0;
  r.error = fault.error;
  r.cr2 = fault.cr2;
  r.eip = fault.eip;
  return r;
}

void check_no_fault(const char *what, const struct access_result *r, enum access_kind kind,
                    uint32_t value) {
  if (!check(!r->faulted, "%s: #PF err 0x%x cr2 0x%08x, want no fault", what, r->error, r->cr2)) {
    return;
  }
  if (kind != ACCESS_WRITE) {
    check(r->value == value, "%s: value 0x%x want 0x%x", what, r->value, value);
  }
}

void check_fault(const char *what, const struct access_result *r, uint32_t error, uint32_t addr) {
  if (!check(r->faulted, "%s: no #PF, want err 0x%x", what, error)) return;
  check(r->error == error, "%s: err 0x%x want 0x%x", what, r->error, error);
  check(r->cr2 == addr, "%s: cr2 0x%08x want 0x%08x", what, r->cr2, addr);
  check(r->eip == r->want_eip, "%s: eip 0x%08x want 0x%08x", what, r->eip, r->want_eip);
}

/* Kernel 1:1 map (global), user text and stack; two 4 MiB frames at the
 * top of RAM kept out of the frame pool for the 4 MiB page tests. */
static void setup_paging(const struct multiboot_info *info) {
  uint32_t end = ram_end(info);
  big_frame[1] = (end & LARGE_PAGE_MASK) - LARGE_PAGE_SIZE;
  big_frame[0] = big_frame[1] - LARGE_PAGE_SIZE;
  page_pool_init_default(big_frame[0]);
  kernel_pd = pd_create();
  map_kernel(kernel_pd, end, PTE_P | PTE_RW | PTE_G);
  map_update(kernel_pd, (uint32_t)user_text_start, (uint32_t)user_text_end, PTE_US, 0);
  map_page(kernel_pd, USER_STACK_TOP - PAGE_SIZE, page_alloc(), PTE_P | PTE_RW | PTE_US);
  write_cr4(read_cr4() | CR4_PGE);
  paging_enable(kernel_pd);
  write_cr0(read_cr0() | CR0_WP);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  tss_init();
  set_exception_handler(VEC_PF, page_fault);
  idt_set_gate(0x80, idt_stub(0x80), GDT_KERNEL_CS, IDT_TRAP_GATE | IDT_DPL3);
  set_exception_handler(0x80, syscall);
  setup_paging(info);
  test_page_sizes();
  test_higher_half();
  test_recursive();
  test_accessed_dirty();
  test_write_protect();
  test_error_codes();
  test_global();
  test_invlpg();
  test_demand();
  test_pg_toggle();
}
