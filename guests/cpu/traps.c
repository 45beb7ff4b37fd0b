/* exceptions group: faults and traps with their vectors, error codes and
 * saved EIPs (SDM Vol. 3A 6.5 and 6.15). A fault saves the EIP of the
 * faulting instruction and leaves its registers unchanged (#DE, #BR, #UD,
 * #NP, #SS, #GP); a trap saves the EIP after it (#BP from INT3 and INT 3,
 * #OF from INTO). Segment faults push the selector with RPL cleared (6.13);
 * a not-present IDT gate pushes vector * 8 + 2 (the IDT bit). Each snippet
 * stores where it faults and where to resume; the handler records the frame
 * and resumes there. */
#include "cpu.h"

uint32_t cpu_trap_site, cpu_trap_resume; /* set by the snippets */
static struct trap_log caught;

static void catch_trap(struct trap_frame *frame) {
  trap_log_add(&caught, frame);
  frame->eip = cpu_trap_resume;
}

/* After `setup`, label 1 is the instruction under test and label 2 where
 * execution resumes. After 2 the data segment registers are reset in case
 * a load succeeded. */
#define TRAP_SNIPPET_AFTER(name, setup, body)                                    \
  SNIPPET(name, "movl $1f, cpu_trap_site\n\tmovl $2f, cpu_trap_resume\n\t" setup \
                "\n"                                                             \
                "1:\t" body                                                      \
                "\n"                                                             \
                "2:\tmovl $0x10, %ecx\n\tmovl %ecx, %ds\n\tmovl %ecx, %es\n\t"   \
                "movl %ecx, %ss")
#define TRAP_SNIPPET(name, body) TRAP_SNIPPET_AFTER(name, "", body)

TRAP_SNIPPET(op_div0, "divl %ebx");
TRAP_SNIPPET(op_idiv_ovf, "idivl %ebx");
TRAP_SNIPPET(op_idivb_ovf, "idivb %bl");
TRAP_SNIPPET(op_aam0, ".byte 0xd4, 0x00");
TRAP_SNIPPET(op_ud2, "ud2");
TRAP_SNIPPET(op_lock_reg, ".byte 0xf0, 0x01, 0xc3"); /* lock add %eax, %ebx */
TRAP_SNIPPET(op_int3, "int3");
TRAP_SNIPPET(op_int_3, ".byte 0xcd, 0x03"); /* INT imm8 = 3 */
TRAP_SNIPPET(op_into, "pushl %eax\n\tpopfl\n\tinto");
TRAP_SNIPPET(op_bound, "boundl %eax, (%esi)");
TRAP_SNIPPET(op_load_ds, "movl %eax, %ds");
TRAP_SNIPPET(op_load_ss, "movl %eax, %ss");
TRAP_SNIPPET(op_far_jmp_data, "ljmp $0x10, $2f");
TRAP_SNIPPET(op_int_np, "int $0x42");
TRAP_SNIPPET(op_too_long, ".fill 15, 1, 0x66\n\tnop"); /* 16 bytes */
TRAP_SNIPPET(op_max_len, ".fill 14, 1, 0x66\n\tnop");  /* 15 bytes: fine */

enum { FAULT, TRAP, NONE };

struct trap_case {
  const char *name;
  void (*code)(void);
  uint32_t eax, edx, ebx, esi;
  int kind;
  uint32_t vector, error_code;
};

#define SEL_EXEC_ONLY 0x30
#define SEL_NOT_PRESENT 0x38
#define SEL_BEYOND_GDT (GDT_ENTRIES * 8)

static const int32_t bounds[2] = {10, 20};

static const struct trap_case trap_cases[] = {
    {"div by 0", op_div0, 0x1234, 0, 0, 0, FAULT, VEC_DE, 0},
    {"div quotient overflow", op_div0, 0, 2, 2, 0, FAULT, VEC_DE, 0},
    {"idiv INT_MIN/-1", op_idiv_ovf, 0x80000000, 0xffffffff, 0xffffffff, 0, FAULT, VEC_DE, 0},
    {"idivb -128/-1", op_idivb_ovf, 0xff80, 0, 0xff, 0, FAULT, VEC_DE, 0},
    {"aam 0", op_aam0, 0x42, 0, 0, 0, FAULT, VEC_DE, 0},
    {"ud2", op_ud2, 0, 0, 0, 0, FAULT, VEC_UD, 0},
    {"lock on a register destination", op_lock_reg, 1, 0, 2, 0, FAULT, VEC_UD, 0},
    {"int3", op_int3, 0, 0, 0, 0, TRAP, VEC_BP, 0},
    {"int 3", op_int_3, 0, 0, 0, 0, TRAP, VEC_BP, 0},
    {"into OF=1", op_into, FL_FIXED | FL_OF, 0, 0, 0, TRAP, VEC_OF, 0},
    {"into OF=0", op_into, FL_FIXED | FL_SF | FL_CF, 0, 0, 0, NONE, 0, 0},
    {"bound above", op_bound, 21, 0, 0, (uint32_t)bounds, FAULT, VEC_BR, 0},
    {"bound below (signed)", op_bound, 0xffffffff, 0, 0, (uint32_t)bounds, FAULT, VEC_BR, 0},
    {"bound at upper", op_bound, 20, 0, 0, (uint32_t)bounds, NONE, 0, 0},
    {"bound at lower", op_bound, 10, 0, 0, (uint32_t)bounds, NONE, 0, 0},
    {"ds beyond the GDT limit", op_load_ds, SEL_BEYOND_GDT | 3, 0, 0, 0, FAULT, VEC_GP,
     SEL_BEYOND_GDT},
    {"ds execute-only code", op_load_ds, SEL_EXEC_ONLY, 0, 0, 0, FAULT, VEC_GP, SEL_EXEC_ONLY},
    {"ds not present", op_load_ds, SEL_NOT_PRESENT, 0, 0, 0, FAULT, VEC_NP, SEL_NOT_PRESENT},
    {"ds RPL 3 above DPL 0", op_load_ds, GDT_KERNEL_DS | 3, 0, 0, 0, FAULT, VEC_GP, GDT_KERNEL_DS},
    {"ss not present", op_load_ss, SEL_NOT_PRESENT, 0, 0, 0, FAULT, VEC_SS, SEL_NOT_PRESENT},
    {"ss null", op_load_ss, 0, 0, 0, 0, FAULT, VEC_GP, 0},
    {"ds null", op_load_ds, 0, 0, 0, 0, NONE, 0, 0},
    {"far jmp to a data segment", op_far_jmp_data, 0, 0, 0, 0, FAULT, VEC_GP, GDT_KERNEL_DS},
    {"int to a not-present gate", op_int_np, 0, 0, 0, 0, FAULT, VEC_NP, 0x42 * 8 + 2},
    {"16-byte instruction", op_too_long, 0, 0, 0, 0, FAULT, VEC_GP, 0},
    {"15-byte instruction", op_max_len, 0, 0, 0, 0, NONE, 0, 0},
};

static void run_trap_case(const struct trap_case *c) {
  caught.count = 0;
  struct regs r = {.eax = c->eax, .edx = c->edx, .ebx = c->ebx, .esi = c->esi};
  run_regs(&r, c->code);
  if (c->kind == NONE) {
    check(caught.count == 0, "%s: unexpected vector %u", c->name, caught.vector);
    return;
  }
  if (!check(caught.count == 1, "%s: %u exceptions, want 1", c->name, caught.count)) return;
  check_field(c->name, "vector", caught.vector, c->vector);
  check_field(c->name, "error code", caught.error_code, c->error_code);
  check_field(c->name, "saved EIP", caught.eip, c->kind == FAULT ? cpu_trap_site : cpu_trap_resume);
  /* A fault leaves the registers as they were (SDM Vol. 3A 6.5). */
  check_field(c->name, "eax kept", r.eax, c->eax);
  check_field(c->name, "edx kept", r.edx, c->edx);
}

/* Segment limit and type checks on data accesses and far jumps (SDM Vol.
 * 3A 5.3 "Limit Checking", 5.4 "Type Checking"): an access any byte of
 * which lies beyond the limit, below it in an expand-down segment, or a
 * write to a read-only segment raises #GP(0). */
#define SEL_SMALL 0x48       /* limit 0xfff bytes */
#define SEL_EXPAND_DOWN 0x50 /* limit 0xfff: valid offsets 0x1000 and up */
#define SEL_READ_ONLY 0x58
#define SEL_CODE_SMALL 0x60 /* code, limit 0xfff bytes */

TRAP_SNIPPET_AFTER(op_ds_read, "movl %ebx, %ds", "movl (%esi), %eax");
TRAP_SNIPPET_AFTER(op_ds_write, "movl %ebx, %ds", "movl %eax, (%esi)");
TRAP_SNIPPET(op_far_jmp_small, "ljmp $0x60, $0x2000");

/* A null selector loads into DS or ES, but using it is #GP(0) (SDM Vol. 3A
 * 3.4.2): an explicit DS access and the ES destination of STOS. */
TRAP_SNIPPET_AFTER(op_use_null_ds, "xorl %ecx, %ecx\n\tmovl %ecx, %ds", "movl (%esi), %eax");
TRAP_SNIPPET_AFTER(op_use_null_es, "xorl %ecx, %ecx\n\tmovl %ecx, %es\n\tmovl %esi, %edi", "stosl");

static uint8_t limit_window[0x1000 + 16];

struct limit_case {
  struct trap_case c;
  bool data_limit; /* a data-segment check, which QEMU TCG does not make */
};

static const struct limit_case limit_cases[] = {
    {{"read ending at the limit", op_ds_read, 0, 0, SEL_SMALL, 0xffc, NONE, 0, 0}, true},
    {{"read crossing the limit", op_ds_read, 0, 0, SEL_SMALL, 0xffd, FAULT, VEC_GP, 0}, true},
    {{"read beyond the limit", op_ds_read, 0, 0, SEL_SMALL, 0x1000, FAULT, VEC_GP, 0}, true},
    {{"expand-down read below", op_ds_read, 0, 0, SEL_EXPAND_DOWN, 0x800, FAULT, VEC_GP, 0}, true},
    {{"expand-down read above", op_ds_read, 0, 0, SEL_EXPAND_DOWN, 0x1000, NONE, 0, 0}, true},
    {{"write to read-only", op_ds_write, 0x77, 0, SEL_READ_ONLY, 0, FAULT, VEC_GP, 0}, true},
    {{"use of a null DS", op_use_null_ds, 0, 0, 0, (uint32_t)limit_window, FAULT, VEC_GP, 0}, true},
    {{"use of a null ES (stos)", op_use_null_es, 0, 0, 0, (uint32_t)limit_window, FAULT, VEC_GP, 0},
     true},
    {{"far jmp beyond the CS limit", op_far_jmp_small, 0, 0, 0, 0, FAULT, VEC_GP, 0}, false},
};

void test_segment_limits(void) {
  const uint8_t data = GDT_ACCESS_PRESENT | GDT_ACCESS_CODE_DATA;
  uint32_t window = (uint32_t)limit_window;
  gdt_set_entry(SEL_SMALL >> 3, window, 0xfff, data | GDT_ACCESS_DATA_RW, GDT_FLAG_32);
  gdt_set_entry(SEL_EXPAND_DOWN >> 3, 0, 0xfff, data | GDT_ACCESS_DATA_RW | 0x04, GDT_FLAG_32);
  gdt_set_entry(SEL_READ_ONLY >> 3, window, 0xfff, data, GDT_FLAG_32);
  gdt_set_entry(SEL_CODE_SMALL >> 3, 0, 0xfff, data | GDT_ACCESS_CODE_RX, GDT_FLAG_32);
  set_exception_handler(VEC_GP, catch_trap);
  bool skip_data = qemu_deviation(
      "data segment limit, read-only and null-selector checks (QEMU 7.2 makes none)");
  for (unsigned i = 0; i < sizeof limit_cases / sizeof limit_cases[0]; i++) {
    if (!(skip_data && limit_cases[i].data_limit)) run_trap_case(&limit_cases[i].c);
  }
  set_exception_handler(VEC_GP, 0);
}

void test_exceptions(void) {
  const uint8_t s = GDT_ACCESS_CODE_DATA;
  gdt_set_entry(SEL_EXEC_ONLY >> 3, 0, 0xfffff, GDT_ACCESS_PRESENT | s | 0x08,
                GDT_FLAG_4K | GDT_FLAG_32);
  gdt_set_entry(SEL_NOT_PRESENT >> 3, 0, 0xfffff, s | GDT_ACCESS_DATA_RW,
                GDT_FLAG_4K | GDT_FLAG_32);
  idt_set_gate(0x42, idt_stub(0x42), GDT_KERNEL_CS, IDT_INTERRUPT_GATE & 0x7f);
  const uint8_t vectors[] = {VEC_DE, VEC_BP, VEC_OF, VEC_BR, VEC_UD, VEC_NP, VEC_SS, VEC_GP};
  for (unsigned i = 0; i < sizeof vectors; i++) set_exception_handler(vectors[i], catch_trap);
  for (unsigned i = 0; i < sizeof trap_cases / sizeof trap_cases[0]; i++) {
    run_trap_case(&trap_cases[i]);
  }
  for (unsigned i = 0; i < sizeof vectors; i++) set_exception_handler(vectors[i], 0);
}
