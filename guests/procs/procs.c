/* procs: three ring-3 processes, each with its own page directory, run
 * round-robin by the PIT's IRQ0. The handler saves the interrupted
 * register frame, loads the next process's frame and writes its CR3 (a
 * context switch as SDM Vol. 3A 6.12.1 and 4.10.4.1 make it: IRET restores
 * the frame, MOV to CR3 drops the old process's non-global translations).
 * Every process has private memory at the same linear address
 * (PRIVATE_BASE) with different contents; it checks that its header names
 * it, that the kernel agrees who runs (INT 0x80 getpid), and that a sum
 * over its data pages matches the sum it keeps, then changes one word.
 * After SWITCHES switches the kernel checks that every process ran and
 * that no check failed.
 *
 * Two rounds, one group each: kernel pages global with CR4.PGE = 1 (they
 * survive the CR3 writes), and CR4.PGE = 0 (everything is re-read). */
#include "guest.h"
#include "paging.h"
#include "pic.h"
#include "tss.h"

#define NPROCS 3
#define SWITCHES 300
#define PRIVATE_BASE 0x40000000u
#define DATA_PAGES 4
#define STACK_TOP (PRIVATE_BASE + 0x10000u)
#define SYS_GETPID 1
#define SYS_GIVE_UP 2

/* The header page at PRIVATE_BASE; offsets match user.S. */
struct proc_header {
  uint32_t id, iterations, sum_failures, expected, pid_failures, id_failures, slice_iterations;
};

struct proc {
  uint32_t *pd;
  uint32_t header_frame, data_frames[DATA_PAGES];
  struct trap_frame frame; /* saved while not running */
  unsigned slices;
};

extern char user_text_start[], user_text_end[], proc_main[];

static uint32_t *kernel_pd;
static struct proc procs[NPROCS];
static unsigned current, switches, kernel_ticks;
static bool gave_up;

static struct proc_header *header(const struct proc *p) {
  return (struct proc_header *)p->header_frame;
}

static void eoi(void) { outb(PIC1_CMD, PIC_EOI); }

static void stop_round(void) {
  write_cr3((uint32_t)kernel_pd);
  user_return(0);
}

/* IRQ0: switch to the next process, if ring 3 was interrupted. */
static void tick(struct trap_frame *frame) {
  eoi();
  if (!(frame->cs & 3)) {
    kernel_ticks++;
    return;
  }
  struct proc *p = &procs[current];
  p->frame = *frame;
  p->slices++;
  if (++switches >= SWITCHES) stop_round();
  current = (current + 1) % NPROCS;
  p = &procs[current];
  header(p)->slice_iterations = 0;
  write_cr3((uint32_t)p->pd);
  *frame = p->frame;
}

/* INT 0x80 (interrupt gate, DPL 3, so IRQ0 cannot nest in it). */
static void syscall(struct trap_frame *frame) {
  if (frame->eax == SYS_GETPID) {
    frame->eax = current;
  } else if (frame->eax == SYS_GIVE_UP) {
    gave_up = true;
    stop_round();
  } else {
    frame->eax = 0xFFFFFFFF;
  }
}

static uint32_t data_word(unsigned id, unsigned i) {
  return (id + 1) * 0x01010101u ^ (i * 2654435761u);
}

/* A fresh address space: the kernel's PDEs (its page tables are shared)
 * plus private pages at PRIVATE_BASE. */
static void make_process(struct proc *p, unsigned id) {
  p->pd = pd_create();
  memcpy(p->pd, kernel_pd, PAGE_SIZE);
  const uint32_t user_rw = PTE_P | PTE_RW | PTE_US;
  p->header_frame = page_alloc();
  map_page(p->pd, PRIVATE_BASE, p->header_frame, user_rw);
  uint32_t sum = 0;
  for (unsigned k = 0; k < DATA_PAGES; k++) {
    p->data_frames[k] = page_alloc();
    map_page(p->pd, PRIVATE_BASE + (k + 1) * PAGE_SIZE, p->data_frames[k], user_rw);
    uint32_t *words = (uint32_t *)p->data_frames[k];
    for (unsigned i = 0; i < PAGE_SIZE / 4; i++) {
      words[i] = data_word(id, k * 1024 + i);
      sum += words[i];
    }
  }
  map_page(p->pd, STACK_TOP - PAGE_SIZE, page_alloc(), user_rw);
  *header(p) = (struct proc_header){.id = id, .expected = sum};
  p->frame = (struct trap_frame){.gs = GDT_USER_DS,
                                 .fs = GDT_USER_DS,
                                 .es = GDT_USER_DS,
                                 .ds = GDT_USER_DS,
                                 .ebp = id,
                                 .eip = (uint32_t)proc_main,
                                 .cs = GDT_USER_CS,
                                 .eflags = EFLAGS_FIXED | EFLAGS_IF,
                                 .user_esp = STACK_TOP,
                                 .user_ss = GDT_USER_DS};
  p->slices = 0;
}

/* Starts process 0 with IRET; the scheduler does the rest. */
static void run_round(void) {
  current = switches = kernel_ticks = 0;
  gave_up = false;
  const struct trap_frame *f = &procs[0].frame;
  struct user_regs regs = {.ebp = f->ebp, .eip = f->eip, .esp = f->user_esp, .eflags = f->eflags};
  write_cr3((uint32_t)procs[0].pd);
  pic_mask(0xFE);
  user_call(&regs);
  pic_mask(0xFF);
}

/* Sums a process's data pages through their physical frames. */
static uint32_t frame_sum(const struct proc *p) {
  uint32_t sum = 0;
  for (unsigned k = 0; k < DATA_PAGES; k++) {
    const uint32_t *words = (const uint32_t *)p->data_frames[k];
    for (unsigned i = 0; i < PAGE_SIZE / 4; i++) sum += words[i];
  }
  return sum;
}

static void check_process(unsigned id) {
  const struct proc *p = &procs[id];
  const struct proc_header *h = header(p);
  printf("proc %u: %u slices, %u iterations\n", id, p->slices, h->iterations);
  check(p->slices >= SWITCHES / NPROCS - 1, "proc %u: %u slices, want %u", id, p->slices,
        SWITCHES / NPROCS - 1);
  check(h->iterations > 0, "proc %u made no progress", id);
  check_eq(h->id_failures, 0, "header not the process's own (id check)");
  check_eq(h->pid_failures, 0, "getpid named another process");
  check_eq(h->sum_failures, 0, "data sum differed from the process's own");
  check_eq(frame_sum(p), h->expected, "data pages against the kept sum");
  /* The same linear address in each address space shows its own header. */
  write_cr3((uint32_t)p->pd);
  uint32_t seen = peek(PRIVATE_BASE);
  write_cr3((uint32_t)kernel_pd);
  check_eq(seen, id, "header id at PRIVATE_BASE under the process's CR3");
}

static void round_group(const char *name, bool global) {
  unsigned before = check_failures();
  uint32_t cr4 = read_cr4();
  write_cr4(global ? cr4 | CR4_PGE : cr4 & ~CR4_PGE);
  for (unsigned i = 0; i < NPROCS; i++) make_process(&procs[i], i);
  run_round();
  check(!gave_up, "a process saw no switch for 2^20 iterations (%u switches)", switches);
  check_eq(switches, SWITCHES, "switches");
  for (unsigned i = 0; i < NPROCS; i++) check_process(i);
  write_cr4(cr4);
  group_done(name, before);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  tss_init();
  pic_init();
  pit_start(PIT_MODE2, PIT_1KHZ);
  set_irq_handler(0, tick);
  idt_set_gate(0x80, idt_stub(0x80), GDT_KERNEL_CS, IDT_INTERRUPT_GATE | IDT_DPL3);
  set_exception_handler(0x80, syscall);
  uint32_t end = ram_end(info);
  page_pool_init_default(end);
  kernel_pd = pd_create();
  map_kernel(kernel_pd, end, PTE_P | PTE_RW | PTE_G);
  map_update(kernel_pd, (uint32_t)user_text_start, (uint32_t)user_text_end, PTE_US, 0);
  paging_enable(kernel_pd);
  write_cr0(read_cr0() | CR0_WP);
  round_group("procs with global kernel pages", true);
  round_group("procs without global pages", false);
}
