/* ubenchguest: microbenchmarks of the operations a shadow MMU and a
 * privilege-switching backend make expensive. The command line picks one:
 * "bench=NAME iters=N" with NAME one of
 *   syscall_int80     INT 0x80 from ring 3 to a handler that does nothing
 *   syscall_sysenter  the same through SYSENTER/SYSEXIT
 *   pagefault         ring 3 writes N absent pages; the #PF handler maps
 *                     and zeroes a frame for each (one fault per page),
 *                     a syscall unmaps the 1024-page window when used up
 *   ctxswitch         N round trips between two address spaces (CR3) via
 *                     a syscall, each side writing 4 of its pages per turn
 *   hiddenfault       ring 0 maps N pages one by one (present, accessed,
 *                     dirty PTEs) and writes each right after: no guest
 *                     fault, but a shadow MMU maps each on its first use
 *                     (the window is cleared with a CR3 reload when used up)
 *   apic_eoi          ring 0 writes the local APIC's EOI register N times
 *                     (nothing in service: the write changes nothing; a
 *                     VMM pays its device-memory path each time)
 *   none              set up and exit: bench/run_ubench's baseline
 *   all               each of the above in turn (a smoke test)
 * Each prints "ubench NAME iterations N cycles C" (TSC delta of the timed
 * loop), then "ubench done", and checks its own counts; finish() prints
 * PASS and exits 0. A bad option prints "ubench: ..." and exits 2.
 * Setup (paging, the frames the benchmarks use) happens in every run,
 * bench=none included, so that the baseline covers it. */
#include "guest.h"
#include "paging.h"
#include "pic.h"
#include "tss.h"

#define EXIT_BAD_OPTIONS 2
#define SYS_EXIT 0
#define SYS_NOP 1
#define SYS_UNMAP 2
#define SYS_SWITCH 3
#define USER_STACK_TOP 0x7FFFF000u
#define PF_WINDOW 0x50000000u
#define PF_WINDOW_PAGES 1024
#define PRIVATE_BASE 0x40000000u
#define TOUCH_PAGES 4
#define APIC_REGION 0xFEC00000u /* 4 MiB-aligned: I/O APIC, HPET, local APIC */
#define LAPIC_BASE 0xFEE00000u

extern char user_text_start[], user_text_end[];
extern char user_int80_loop[], user_sysenter_loop[], user_pf_loop[], user_switch_loop[];

static char cmdline[256];
static uint32_t *kernel_pd;
static uint32_t pf_frames[PF_WINDOW_PAGES];
static uint32_t *pf_table; /* the window's page table */
static uint32_t *side_pd[2], side_pages[2][TOUCH_PAGES];
static struct trap_frame side_frame[2];
static unsigned side;
static volatile uint32_t nops, faults, unmaps;
static uint8_t sysenter_stack[4096] __attribute__((aligned(16)));

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static void syscall(struct trap_frame *frame) {
  switch (frame->eax) {
    case SYS_EXIT: user_return(0);
    case SYS_NOP: nops++; break;
    case SYS_UNMAP: /* like munmap: drop the window, flush it */
      memset(pf_table, 0, PAGE_SIZE);
      reload_cr3();
      unmaps++;
      break;
    case SYS_SWITCH:
      side_frame[side] = *frame;
      side ^= 1;
      write_cr3((uint32_t)side_pd[side]);
      *frame = side_frame[side];
      break;
  }
}

static void sysenter_dispatch(struct sysenter_frame *frame) {
  if (frame->eax == SYS_EXIT) user_return(0);
  nops++;
}

/* Demand-zero paging for the window: map the page's frame, zero it. */
static void page_fault(struct trap_frame *frame) {
  uint32_t cr2 = read_cr2();
  if (!(frame->cs & 3) || (frame->error_code & PF_P) ||
      cr2 - PF_WINDOW >= PF_WINDOW_PAGES * PAGE_SIZE) {
    printf("unexpected #PF at EIP 0x%08x err 0x%x cr2 0x%08x\n", frame->eip, frame->error_code,
           cr2);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  uint32_t i = (cr2 - PF_WINDOW) / PAGE_SIZE, f = pf_frames[i];
  uint32_t n = PAGE_SIZE / 4;
  __asm__ volatile("rep stosl" : "+D"(f), "+c"(n) : "a"(0) : "memory");
  pf_table[i] = pf_frames[i] | PTE_P | PTE_RW | PTE_US;
  faults++;
}

static uint32_t run_user(uint32_t eip, uint32_t ecx, uint32_t ebx) {
  struct user_regs regs = {
      .eip = eip, .ecx = ecx, .ebx = ebx, .esp = USER_STACK_TOP, .eflags = EFLAGS_FIXED};
  return user_call(&regs);
}

/* An address space for one side of ctxswitch: the kernel's PDEs plus
 * TOUCH_PAGES private pages and a stack. */
static void reset_side(unsigned s);

static void make_side(unsigned s) {
  side_pd[s] = pd_create();
  memcpy(side_pd[s], kernel_pd, PAGE_SIZE);
  const uint32_t user_rw = PTE_P | PTE_RW | PTE_US;
  for (unsigned k = 0; k < TOUCH_PAGES; k++) {
    side_pages[s][k] = page_alloc();
    map_page(side_pd[s], PRIVATE_BASE + k * PAGE_SIZE, side_pages[s][k], user_rw);
  }
  /* The copied PDE shares the kernel's user-stack table: take a new one. */
  side_pd[s][pd_index(USER_STACK_TOP - PAGE_SIZE)] = 0;
  map_page(side_pd[s], USER_STACK_TOP - PAGE_SIZE, page_alloc(), user_rw);
  reset_side(s);
}

/* Side s's starting registers, and its pages' counters at 0. */
static void reset_side(unsigned s) {
  for (unsigned k = 0; k < TOUCH_PAGES; k++) poke(side_pages[s][k], 0);
  side_frame[s] = (struct trap_frame){.gs = GDT_USER_DS,
                                      .fs = GDT_USER_DS,
                                      .es = GDT_USER_DS,
                                      .ds = GDT_USER_DS,
                                      .eip = (uint32_t)user_switch_loop,
                                      .cs = GDT_USER_CS,
                                      .eflags = EFLAGS_FIXED,
                                      .user_esp = USER_STACK_TOP,
                                      .user_ss = GDT_USER_DS};
}

static void setup(const struct multiboot_info *info) {
  descriptor_tables_init();
  tss_init();
  pic_mask(0xFF); /* nothing wanted */
  idt_set_gate(0x80, idt_stub(0x80), GDT_KERNEL_CS, IDT_INTERRUPT_GATE | IDT_DPL3);
  set_exception_handler(0x80, syscall);
  set_exception_handler(VEC_PF, page_fault);
  sysenter_handler = sysenter_dispatch;
  wrmsr(MSR_SYSENTER_CS, GDT_KERNEL_CS);
  wrmsr(MSR_SYSENTER_ESP, (uint32_t)sysenter_stack + sizeof sysenter_stack);
  wrmsr(MSR_SYSENTER_EIP, (uint32_t)sysenter_entry);
  uint32_t end = ram_end(info);
  page_pool_init_default(end);
  kernel_pd = pd_create();
  map_kernel(kernel_pd, end, PTE_P | PTE_RW | PTE_G);
  map_update(kernel_pd, (uint32_t)user_text_start, (uint32_t)user_text_end, PTE_US, 0);
  map_page(kernel_pd, USER_STACK_TOP - PAGE_SIZE, page_alloc(), PTE_P | PTE_RW | PTE_US);
  /* The 4 MiB holding the I/O APIC, the HPET and the local APIC, uncached. */
  map_large(kernel_pd, APIC_REGION, APIC_REGION, PTE_P | PTE_RW | PTE_PCD);
  pf_table = pt_for(kernel_pd, PF_WINDOW);
  for (unsigned i = 0; i < PF_WINDOW_PAGES; i++) pf_frames[i] = page_alloc();
  make_side(0);
  make_side(1);
  write_cr4(read_cr4() | CR4_PGE);
  paging_enable(kernel_pd);
  write_cr0(read_cr0() | CR0_WP);
}

static void report(const char *name, uint32_t iters, uint64_t cycles) {
  printf("ubench %s iterations %u cycles %llu\n", name, iters, cycles);
}

/* N system calls through the ring-3 loop at `loop`; each must reach the
 * kernel once. */
static void bench_syscall(const char *name, const char *loop, uint32_t iters) {
  nops = 0;
  uint64_t t0 = rdtsc();
  run_user((uint32_t)loop, iters, 0);
  uint64_t t1 = rdtsc();
  check(nops == iters, "%s: syscalls seen: got 0x%x want 0x%x", name, nops, iters);
  report(name, iters, t1 - t0);
}

static void bench_int80(uint32_t iters) { bench_syscall("syscall_int80", user_int80_loop, iters); }

static void bench_sysenter(uint32_t iters) {
  bench_syscall("syscall_sysenter", user_sysenter_loop, iters);
}

static void bench_pagefault(uint32_t iters) {
  faults = unmaps = 0;
  memset(pf_table, 0, PAGE_SIZE);
  reload_cr3();
  uint64_t t0 = rdtsc();
  run_user((uint32_t)user_pf_loop, iters, PF_WINDOW);
  uint64_t t1 = rdtsc();
  check_eq(faults, iters, "pagefault: faults");
  check_eq(unmaps, iters / PF_WINDOW_PAGES, "pagefault: window unmaps");
  report("pagefault", iters, t1 - t0);
}

static void bench_ctxswitch(uint32_t iters) {
  reset_side(0);
  reset_side(1);
  side = 0;
  write_cr3((uint32_t)side_pd[0]);
  uint64_t t0 = rdtsc();
  run_user((uint32_t)user_switch_loop, iters, 0);
  uint64_t t1 = rdtsc();
  write_cr3((uint32_t)kernel_pd);
  for (unsigned s = 0; s < 2; s++) {
    for (unsigned k = 0; k < TOUCH_PAGES; k++) {
      check(peek(side_pages[s][k]) == iters, "ctxswitch: side %u page %u written %u times, want %u",
            s, k, peek(side_pages[s][k]), iters);
    }
  }
  report("ctxswitch", iters, t1 - t0);
}

static void bench_hiddenfault(uint32_t iters) {
  memset(pf_table, 0, PAGE_SIZE);
  reload_cr3();
  uint32_t reloads = 0;
  uint64_t t0 = rdtsc();
  for (uint32_t n = 0; n < iters; n++) {
    uint32_t i = n % PF_WINDOW_PAGES;
    if (i == 0 && n != 0) {
      memset(pf_table, 0, PAGE_SIZE);
      reload_cr3();
      reloads++;
    }
    pf_table[i] = pf_frames[i] | PTE_P | PTE_RW | PTE_A | PTE_D;
    *(volatile uint32_t *)(PF_WINDOW + i * PAGE_SIZE) = n;
  }
  uint64_t t1 = rdtsc();
  check_eq(reloads, (iters - 1) / PF_WINDOW_PAGES, "hiddenfault: window reloads");
  uint32_t last = (iters - 1) % PF_WINDOW_PAGES;
  check_eq(peek(pf_frames[last]), iters - 1, "hiddenfault: last page written");
  memset(pf_table, 0, PAGE_SIZE);
  reload_cr3();
  report("hiddenfault", iters, t1 - t0);
}

static void bench_apic_eoi(uint32_t iters) {
  volatile uint32_t *eoi = (volatile uint32_t *)(LAPIC_BASE + 0xB0);
  uint64_t t0 = rdtsc();
  for (uint32_t n = 0; n < iters; n++) *eoi = 0;
  uint64_t t1 = rdtsc();
  uint32_t version = *(volatile uint32_t *)(LAPIC_BASE + 0x30);
  check_eq(version & 0xFF, 0x14, "apic_eoi: local APIC version");
  report("apic_eoi", iters, t1 - t0);
}

static const struct {
  const char *name;
  void (*run)(uint32_t iters);
} benches[] = {
    {"syscall_int80", bench_int80},     {"syscall_sysenter", bench_sysenter},
    {"pagefault", bench_pagefault},     {"ctxswitch", bench_ctxswitch},
    {"hiddenfault", bench_hiddenfault}, {"apic_eoi", bench_apic_eoi},
};
#define NBENCHES (sizeof benches / sizeof benches[0])

/* The value of "key=" in the command line, up to the next space. */
static bool option(const char *key, char *out, size_t size) {
  const char *p = strstr(cmdline, key);
  if (!p) return false;
  p += strlen(key);
  size_t n = 0;
  while (p[n] && p[n] != ' ' && n + 1 < size) out[n] = p[n], n++;
  out[n] = '\0';
  return true;
}

static void bad_options(const char *why, const char *what) {
  printf("ubench: %s '%s'\n", why, what);
  exit_guest(EXIT_BAD_OPTIONS);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  if (info->flags & MULTIBOOT_INFO_CMDLINE) {
    const char *from = (const char *)info->cmdline;
    size_t n = 0;
    for (; from[n] && n + 1 < sizeof cmdline; n++) cmdline[n] = from[n];
    cmdline[n] = '\0';
  }
  char name[32] = "none", iters_text[16] = "1000";
  option("bench=", name, sizeof name);
  option("iters=", iters_text, sizeof iters_text);
  uint32_t iters = 0;
  for (const char *p = iters_text; *p; p++) {
    if (*p < '0' || *p > '9' || iters > 100000000) bad_options("bad iters", iters_text);
    iters = iters * 10 + (uint32_t)(*p - '0');
  }
  if (iters == 0) bad_options("bad iters", iters_text);
  bool all = strcmp(name, "all") == 0, found = all || strcmp(name, "none") == 0;
  for (unsigned i = 0; i < NBENCHES && !found; i++) found = strcmp(name, benches[i].name) == 0;
  if (!found) bad_options("unknown bench", name);
  setup(info);
  for (unsigned i = 0; i < NBENCHES; i++) {
    if (all || strcmp(name, benches[i].name) == 0) benches[i].run(iters);
  }
  printf("ubench done\n");
}
