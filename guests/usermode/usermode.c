/* usermode: ring 3 and the ways in and out of it, the acceptance test for
 * privilege handling in Transvisor's backends. Groups, each printing
 * "<group>: ok": IRET to ring 3 and the frame an interrupt from ring 3
 * pushes on the TSS's SS0:ESP0 stack (SDM Vol. 3A 6.12.1), INT 0x80 round
 * trips through a DPL-3 trap gate, SYSENTER/SYSEXIT round trips (Vol. 2B),
 * the PIT's IRQ0 taken in ring 3, privileged instructions from ring 3
 * (#GP(0)), the TSS I/O permission bitmap with IOPL = 0, and #PF for user
 * accesses to supervisor pages.
 *
 * This file holds the setup, the handlers and the first two groups;
 * fast.c has SYSENTER and the IRQ, priv.c the faults. */
#include "um.h"

struct trap_frame snap;
uint32_t snap_frame_addr, snap_handler_eflags;
struct user_fault last_fault;
unsigned syscall_bad_frames, syscall_if_mismatches;

uint32_t run_user(uint32_t eip, uint32_t eflags, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  struct user_regs regs = {
      .eip = eip, .esp = USER_STACK_TOP, .eflags = eflags, .ebx = ebx, .ecx = ecx, .edx = edx};
  return user_call(&regs);
}

/* INT 0x80 (trap gate, DPL 3): services for ring 3. */
static void syscall(struct trap_frame *frame) {
  if ((frame->cs & 0xFFFF) != GDT_USER_CS || (frame->user_ss & 0xFFFF) != GDT_USER_DS) {
    syscall_bad_frames++;
  }
  if (((read_eflags() ^ frame->eflags) & EFLAGS_IF) != 0) syscall_if_mismatches++;
  switch (frame->eax) {
    case SYS_EXIT: user_return(frame->ebx);
    case SYS_ADD: frame->eax = frame->ebx + 2 * frame->ecx + 3 * frame->edx; break;
    default: frame->eax = 0xFFFFFFFF;
  }
}

/* INT 0x81 (interrupt gate, DPL 3): records the frame and leaves. */
static void snapshot(struct trap_frame *frame) {
  snap = *frame;
  snap_frame_addr = (uint32_t)frame;
  snap_handler_eflags = read_eflags();
  user_return(RET_SNAPSHOT);
}

static void record_fault(struct trap_frame *frame, uint32_t ret) {
  if (!(frame->cs & 3)) {
    printf("unexpected exception %u in ring 0 at EIP 0x%08x err 0x%x cr2 0x%08x\n", frame->vector,
           frame->eip, frame->error_code, read_cr2());
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  last_fault = (struct user_fault){frame->vector, frame->error_code, read_cr2(), frame->eip};
  user_return(ret);
}

static void gp_fault(struct trap_frame *frame) { record_fault(frame, RET_GP); }
static void page_fault(struct trap_frame *frame) { record_fault(frame, RET_PF); }

static void setup_paging(const struct multiboot_info *info) {
  uint32_t end = ram_end(info);
  page_pool_init_default(end);
  uint32_t *pd = pd_create();
  map_kernel(pd, end, PTE_P | PTE_RW);
  map_update(pd, (uint32_t)user_text_start, (uint32_t)user_text_end, PTE_US, 0);
  for (uint32_t a = USER_STACK_TOP - 2 * PAGE_SIZE; a < USER_STACK_TOP; a += PAGE_SIZE) {
    map_page(pd, a, page_alloc(), PTE_P | PTE_RW | PTE_US);
  }
  map_page(pd, USER_DATA, page_alloc(), PTE_P | PTE_RW | PTE_US);
  uint32_t ro = page_alloc();
  poke(ro, 0x0123ABCD);
  map_page(pd, USER_RODATA, ro, PTE_P | PTE_US);
  paging_enable(pd);
  write_cr0(read_cr0() | CR0_WP);
}

/* IRET into ring 3 with chosen registers; INT 0x81 straight back. */
static void check_entry_frame(void) {
  struct user_regs regs = {.eax = 0x1111,
                           .ebx = 0x2222,
                           .ecx = 0x3333,
                           .edx = 0x4444,
                           .esi = 0x5555,
                           .edi = 0x6666,
                           .ebp = 0x7777};
  regs.eip = (uint32_t)user_snapshot;
  regs.esp = USER_STACK_TOP - 64;
  regs.eflags = EFLAGS_FIXED | EFLAGS_IF;
  /* 8 words below the user's ESP and 16 above it. */
  volatile uint32_t *canary = (volatile uint32_t *)(USER_STACK_TOP - 64 - 32);
  for (unsigned i = 0; i < 24; i++) canary[i] = 0xCAFE0000 + i;
  check_eq(user_call(&regs), RET_SNAPSHOT, "INT 0x81 from ring 3");
  check_eq(snap.eax, 0x1111, "EAX through IRET and INT");
  check_eq(snap.ebx, 0x2222, "EBX");
  check_eq(snap.ecx, 0x3333, "ECX");
  check_eq(snap.edx, 0x4444, "EDX");
  check_eq(snap.esi, 0x5555, "ESI");
  check_eq(snap.edi, 0x6666, "EDI");
  check_eq(snap.ebp, 0x7777, "EBP");
  check_eq(snap.eip, (uint32_t)user_snapshot_after, "saved EIP: after INT");
  check_eq(snap.cs & 0xFFFF, GDT_USER_CS, "saved CS (RPL 3)");
  check_eq(snap.user_ss & 0xFFFF, GDT_USER_DS, "saved SS");
  check_eq(snap.user_esp, USER_STACK_TOP - 64, "saved ESP");
  check_eq(snap.ds & 0xFFFF, GDT_USER_DS, "DS at entry");
  check_eq(snap.eflags & (EFLAGS_IF | EFLAGS_IOPL3), EFLAGS_IF, "saved EFLAGS IF/IOPL");
  check_eq(snap_frame_addr + sizeof snap, tss_esp0(), "frame at the top of SS0:ESP0");
  check_eq(snap_handler_eflags & EFLAGS_IF, 0, "IF inside an interrupt gate");
  unsigned clobbered = 0;
  for (unsigned i = 0; i < 24; i++) clobbered += canary[i] != 0xCAFE0000 + i;
  check_eq(clobbered, 0, "user stack words written by the ring switch");
}

void test_iret(void) {
  unsigned before = check_failures();
  check_entry_frame();
  check_eq(run_user((uint32_t)user_report_segs, EFLAGS_FIXED, 0, 0, 0), RET_SNAPSHOT, "segs");
  check_eq(snap.eax & 0xFFFF, GDT_USER_CS, "CS in ring 3");
  check_eq(snap.ebx & 0xFFFF, GDT_USER_DS, "SS in ring 3");
  check_eq(snap.ecx & 0xFFFF, GDT_USER_DS, "DS in ring 3");
  check_eq(snap.edx & 0xFFFF, GDT_USER_DS, "ES in ring 3");
  check_eq(snap.esi & 0xFFFF, GDT_USER_DS, "FS in ring 3");
  check_eq(snap.edi & 0xFFFF, GDT_USER_DS, "GS in ring 3");
  check_eq(run_user((uint32_t)user_report_flags, EFLAGS_FIXED | EFLAGS_IF, 0, 0, 0), RET_SNAPSHOT,
           "flags");
  check_eq(snap.eax & (EFLAGS_IF | EFLAGS_IOPL3 | EFLAGS_FIXED), EFLAGS_IF | EFLAGS_FIXED,
           "EFLAGS in ring 3");
  check_eq(snap.ebx, USER_STACK_TOP, "ESP in ring 3");

  /* A new ESP0 takes effect at the next ring switch. */
  static uint8_t alt_stack[4096] __attribute__((aligned(16)));
  uint32_t esp0 = tss_esp0(), alt_top = (uint32_t)alt_stack + sizeof alt_stack;
  tss_set_esp0(alt_top);
  run_user((uint32_t)user_snapshot, EFLAGS_FIXED, 0, 0, 0);
  tss_set_esp0(esp0);
  check_eq(snap_frame_addr + sizeof snap, alt_top, "frame at a changed ESP0");
  check_eq(snap.user_esp, USER_STACK_TOP, "saved ESP with a changed ESP0");
  group_done("iret to ring 3", before);
}

void test_int80(void) {
  unsigned before = check_failures();
  syscall_bad_frames = syscall_if_mismatches = 0;
  const uint32_t n = 1000;
  check_eq(run_user((uint32_t)user_syscall_loop, EFLAGS_FIXED | EFLAGS_IF, 0, n, 0), 0,
           "INT 0x80 round trips with a wrong result or clobbered EBP (IF=1)");
  check_eq(run_user((uint32_t)user_syscall_loop, EFLAGS_FIXED, 0, n, 0), 0,
           "INT 0x80 round trips with a wrong result or clobbered EBP (IF=0)");
  check_eq(syscall_bad_frames, 0, "INT 0x80 frames without ring-3 CS/SS");
  check_eq(syscall_if_mismatches, 0, "trap gate changed IF");
  /* A gate with DPL 0 is out of reach: #GP with the IDT bit and vector
   * in the error code (SDM Vol. 3A 6.12.1.1). */
  extern char priv_int82[];
  check_eq(run_user((uint32_t)priv_int82, EFLAGS_FIXED, 0, 0, 0), RET_GP, "INT 0x82 (DPL 0)");
  check_eq(last_fault.error, (0x82 << 3) | 2, "INT 0x82 error code");
  check_eq(last_fault.eip, (uint32_t)priv_int82, "INT 0x82 saved EIP");
  group_done("int 0x80", before);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  tss_init();
  pic_init();
  set_exception_handler(VEC_GP, gp_fault);
  set_exception_handler(VEC_PF, page_fault);
  idt_set_gate(0x80, idt_stub(0x80), GDT_KERNEL_CS, IDT_TRAP_GATE | IDT_DPL3);
  idt_set_gate(0x81, idt_stub(0x81), GDT_KERNEL_CS, IDT_INTERRUPT_GATE | IDT_DPL3);
  set_exception_handler(0x80, syscall);
  set_exception_handler(0x81, snapshot);
  setup_paging(info);
  test_iret();
  test_int80();
  test_sysenter();
  test_irq();
  test_privileged();
  test_io_bitmap();
  test_user_faults();
}
