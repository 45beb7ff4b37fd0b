/* segments and intn groups. segments: data segments with a non-zero base
 * loaded into DS, ES and FS (every access adds the base: SDM Vol. 3A 3.4.3),
 * the accessed bit the CPU sets on a load (3.4.5.1), null selectors in data
 * registers, far JMP/CALL/RET to a second code selector, direct and through
 * memory, including one whose base is not 0 so that EIP is segment-relative
 * (Vol. 2A "CALL": far call pushes CS and EIP). intn: INT n through
 * interrupt and trap gates and IRET (Vol. 3A 6.12.1: an interrupt gate
 * clears IF, a trap gate does not; IRET restores EFLAGS from the frame).
 * These need ring 0 and this guest's GDT, so the host never runs them. */
#include "cpu.h"

#define SEL_DATA_BASED 0x18 /* base = seg_window, limit 4 KiB */
#define SEL_CODE_FLAT 0x20
#define SEL_CODE_BASED 0x28 /* base 0x1000 */
#define CODE_BASED_BASE 0x1000
#define SEL_REWRITTEN 0x68 /* flat, then based, then not present */

static uint32_t seg_window[8];

SNIPPET(op_ds_based,
        "pushl %ds\n\t"
        "movl %ebx, %ds\n\t"
        "movl 4, %eax\n\t"        /* moffs form: DS:4 = seg_window[1] */
        "movl %ecx, 8\n\t"        /* DS:8 = seg_window[2] */
        "movl 12(%esi), %edx\n\t" /* ESI = 0: seg_window[3] */
        "movl %ds, %edi\n\t"
        "popl %ds");
SNIPPET(op_fs_es_based,
        "movl %ebx, %fs\n\t"
        "movl %fs:16, %eax\n\t"
        "movl %ebx, %es\n\t"
        "movl $20, %edi\n\t"
        "movl $0x55aa55aa, %eax\n\t"
        "stosl\n\t" /* ES:EDI = seg_window[5] */
        "movl %fs:16, %eax\n\t"
        "movl $0x10, %ecx\n\t"
        "movl %ecx, %es\n\t"
        "movl %ecx, %fs");
SNIPPET(op_null_fs,
        "xorl %eax, %eax\n\tmovl %eax, %fs\n\tmovl %fs, %ebx\n\t"
        "movl $0x10, %eax\n\tmovl %eax, %fs");

/* Loads FS twice from EBX and reads FS:16 into EAX. */
SNIPPET(op_fs_twice,
        "movl %ebx, %fs\n\tmovl %ebx, %fs\n\tmovl %fs:16, %eax\n\t"
        "movl $0x10, %ecx\n\tmovl %ecx, %fs");

/* A segment load reads the descriptor every time (SDM Vol. 3A 3.4.3): one
 * that loaded before and was rewritten since gives the new segment. */
static void check_rewritten_descriptor(void) {
  const uint8_t data = GDT_ACCESS_PRESENT | GDT_ACCESS_CODE_DATA | GDT_ACCESS_DATA_RW;
  for (unsigned i = 0; i < 8; i++) seg_window[i] = 0x2000 + i;
  gdt_set_segment(SEL_REWRITTEN >> 3, 0, 0, GDT_ACCESS_DATA_RW);
  struct regs r = {.ebx = SEL_REWRITTEN};
  run_regs(&r, op_fs_twice); /* flat: FS:16 is linear 16 */
  run_regs(&r, op_fs_twice);
  gdt_set_entry(SEL_REWRITTEN >> 3, (uint32_t)seg_window, 0xfff, data, GDT_FLAG_32);
  r = (struct regs){.ebx = SEL_REWRITTEN};
  run_regs(&r, op_fs_twice);
  check_eq(r.eax, 0x2004, "FS load after the descriptor was rewritten");
}

static void check_data_segments(void) {
  const uint8_t data = GDT_ACCESS_PRESENT | GDT_ACCESS_CODE_DATA | GDT_ACCESS_DATA_RW;
  gdt_set_entry(SEL_DATA_BASED >> 3, (uint32_t)seg_window, 0xfff, data, GDT_FLAG_32);
  for (unsigned i = 0; i < 8; i++) seg_window[i] = 0x1000 + i;
  struct regs r = {.ebx = SEL_DATA_BASED, .ecx = 0xc0ffee, .esi = 0};
  run_regs(&r, op_ds_based);
  check_eq(r.eax, 0x1001, "DS-based moffs load");
  check_eq(seg_window[2], 0xc0ffee, "DS-based store");
  check_eq(r.edx, 0x1003, "DS-based load through ESI");
  check_eq(r.edi & 0xffff, SEL_DATA_BASED, "mov from DS");
  check((gdt_get_entry(SEL_DATA_BASED >> 3) >> 40) & 1, "segment load sets the accessed bit");

  r = (struct regs){.ebx = SEL_DATA_BASED};
  run_regs(&r, op_fs_es_based);
  check_eq(seg_window[5], 0x55aa55aa, "STOS through an ES base");
  check_eq(r.eax, 0x1004, "FS-based load");
  run_regs(&r, op_null_fs);
  check_eq(r.ebx & 0xffff, 0, "null selector in FS");
}

/* Far JMP to the flat second code selector and back; far CALL to the
 * based one, where CALL pushes the offset relative to its base. */
SNIPPET(op_far_jmp,
        "ljmp $0x20, $1f\n"
        "1:\tmovl %cs, %eax\n\t"
        "ljmp $0x08, $2f\n"
        "2:\tmovl %cs, %ebx");
SNIPPET(op_far_call_based,
        "lcall $0x28, $cpu_far_target - 0x1000\n\t"
        "movl %cs, %ebx");
SNIPPET(op_far_call_mem,
        "lcall *(%esi)\n\t"
        "movl %cs, %ebx\n\t"
        "movl $0, %ecx\n\t"
        "ljmp *8(%esi)\n\t"
        "movl $0xbad, %ecx\n"
        "cpu_far_jmp_back:");
/* Runs at CS 0x28 (base 0x1000) or 0x20; returns with LRET. */
__asm__(
    ".pushsection .text\n"
    "cpu_far_target:\n\t"
    "movl %cs, %eax\n\t"
    "call 1f\n"
    "1:\tpopl %edx\n\t"
    "movl 4(%esp), %ecx\n\t" /* the caller's CS */
    "lret\n"
    "cpu_far_target_label:\n\t"
    ".long 1b\n\t"
    ".popsection");
extern const uint32_t cpu_far_target_label;
void cpu_far_target(void);
void cpu_far_jmp_back(void);

static void check_far_transfers(void) {
  gdt_set_segment(SEL_CODE_FLAT >> 3, 0, 0, GDT_ACCESS_CODE_RX);
  gdt_set_segment(SEL_CODE_BASED >> 3, CODE_BASED_BASE, 0, GDT_ACCESS_CODE_RX);
  struct regs r = {0};
  run_regs(&r, op_far_jmp);
  check_eq(r.eax & 0xffff, SEL_CODE_FLAT, "far jmp: CS");
  check_eq(r.ebx & 0xffff, GDT_KERNEL_CS, "far jmp back: CS");

  r = (struct regs){0};
  run_regs(&r, op_far_call_based);
  check_eq(r.eax & 0xffff, SEL_CODE_BASED, "far call: CS in the callee");
  check_eq(r.edx, cpu_far_target_label - CODE_BASED_BASE, "far call: EIP relative to CS base");
  check_eq(r.ecx & 0xffff, GDT_KERNEL_CS, "far call pushes the caller's CS");
  check_eq(r.ebx & 0xffff, GDT_KERNEL_CS, "lret restores CS");

  static struct __attribute__((packed)) {
    uint32_t call_off;
    uint16_t call_sel, pad;
    uint32_t jmp_off;
    uint16_t jmp_sel;
  } ptrs;
  ptrs.call_off = (uint32_t)cpu_far_target;
  ptrs.call_sel = SEL_CODE_FLAT;
  ptrs.jmp_off = (uint32_t)cpu_far_jmp_back;
  ptrs.jmp_sel = GDT_KERNEL_CS;
  r = (struct regs){.esi = (uint32_t)&ptrs};
  run_regs(&r, op_far_call_mem);
  check_eq(r.eax & 0xffff, SEL_CODE_FLAT, "far call m16:32: CS in the callee");
  check_eq(r.edx, cpu_far_target_label, "far call m16:32: EIP");
  check_eq(r.ebx & 0xffff, GDT_KERNEL_CS, "far call m16:32: CS after lret");
  check_eq(r.ecx, 0, "far jmp m16:32 skips the fall-through");
}

/* The LDTR as reset leaves it (SDM Vol. 3A 9.1.1, Table 9-1): selector
 * 0, base 0, limit 0xFFFF, present, so before any LLDT an LDT selector
 * reads its descriptor from linear address 8 * index. Descriptor 1 of that
 * table is written at linear 8 (the real-mode IVT, unused here). */
SNIPPET(op_ldt_load, "movl %ds, %ecx\n\tmovl %ebx, %ds\n\tmovl %ds, %eax\n\tmovl %ecx, %ds");

static void check_reset_ldtr(void) {
  uint32_t addr = 8;
  __asm__("" : "+r"(addr)); /* hide the low constant address from GCC */
  volatile uint32_t *ldt1 = (volatile uint32_t *)addr;
  const uint32_t saved[2] = {ldt1[0], ldt1[1]};
  ldt1[0] = 0x0000FFFF; /* flat read/write data, DPL 0, accessed */
  ldt1[1] = 0x00CF9300;
  struct regs r = {.ebx = 0x0C}; /* index 1, TI = 1, RPL 0 */
  run_regs(&r, op_ldt_load);
  check_eq(r.eax, 0x0C, "an LDT selector loads through the reset LDTR (base 0)");
  ldt1[0] = saved[0];
  ldt1[1] = saved[1];
}

void test_segments(void) {
  check_reset_ldtr();
  check_data_segments();
  check_rewritten_descriptor();
  check_far_transfers();
}

static struct trap_frame int_seen;
static uint32_t int_handler_eflags;

static void int_handler(struct trap_frame *frame) {
  int_seen = *frame;
  int_handler_eflags = read_eflags();
  frame->eax = ~frame->eax; /* IRET must bring this back */
  frame->eflags |= FL_CF;
}

SNIPPET(op_int40, "movl $1f, %ebx\n\tsti\n\tclc\n\tint $0x40\n1:\tcli\n\tsetc %cl");
SNIPPET(op_int41, "movl $1f, %ebx\n\tsti\n\tstc\n\tint $0x41\n1:\tcli");
/* A hand-built same-privilege IRET frame: EFLAGS (EAX), CS, EIP. */
SNIPPET(op_iret, "pushl %eax\n\tpushl %cs\n\tpushl $1f\n\tiret\n\tmovl $0xbad, %edx\n1:");

void test_intn(void) {
  /* The cpu guest runs with IF = 0; these checks briefly set IF, so mask
   * every 8259 input first (OCW1) and nothing can arrive meanwhile. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  set_exception_handler(0x40, int_handler);
  set_exception_handler(0x41, int_handler);
  idt_set_gate(0x41, idt_stub(0x41), GDT_KERNEL_CS, IDT_TRAP_GATE);

  struct regs r = {.eax = 0x12345678};
  run_regs(&r, op_int40);
  check_eq(int_seen.vector, 0x40, "int 0x40: vector");
  check_eq(int_seen.eip, r.ebx, "int 0x40: EIP after the INT");
  check_eq(int_seen.cs, GDT_KERNEL_CS, "int 0x40: CS");
  check(int_seen.eflags & FL_IF, "int 0x40: pushed EFLAGS has IF");
  check(!(int_seen.eflags & FL_CF), "int 0x40: pushed EFLAGS has CF clear");
  check(!(int_handler_eflags & FL_IF), "interrupt gate clears IF");
  check_eq(r.eax, 0xedcba987, "iret restores the handler's EAX");
  check_eq(r.ecx & 0xff, 1, "iret restores the handler's EFLAGS");

  r = (struct regs){.eax = 1};
  run_regs(&r, op_int41);
  check_eq(int_seen.vector, 0x41, "int 0x41: vector");
  check_eq(int_seen.eip, r.ebx, "int 0x41: EIP");
  check(int_seen.eflags & FL_CF, "int 0x41: pushed EFLAGS has CF");
  check(int_handler_eflags & FL_IF, "trap gate keeps IF");

  r = (struct regs){.eax = FL_FIXED | FL_CF | FL_ZF | FL_SF};
  run_regs(&r, op_iret);
  check(r.edx != 0xbad, "iret jumps to the popped EIP");
  check_flags(r.eflags, FL_CF | FL_ZF | FL_SF, FL_ARITH, "iret pops EFLAGS");
  set_exception_handler(0x40, 0);
  set_exception_handler(0x41, 0);
}
