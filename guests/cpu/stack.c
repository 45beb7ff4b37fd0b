/* stack: PUSH/POP with the ESP corner cases, CALL/RET (near, indirect,
 * RET imm16), ENTER at nesting levels 0-3 and LEAVE, PUSHA/POPA and
 * PUSHF/POPF (SDM Vol. 2B "PUSH", "POP", "CALL", "RET", "ENTER", "PUSHA",
 * "POPF"). PUSH ESP pushes the value before the push; a memory operand
 * based on ESP is addressed before PUSH decrements ESP and after POP
 * increments it; POP ESP leaves ESP = the popped value. */
#include "cpu.h"

SNIPPET(op_push_esp, "movl %esp, %ebx\n\tpushl %esp\n\tpopl %eax");
/* POP [ESP]: the address uses the incremented ESP, so B lands on A's slot. */
SNIPPET(op_pop_mem_esp, "pushl $0x11111111\n\tpushl $0x22222222\n\tpopl 0(%esp)\n\tpopl %eax");
SNIPPET(op_pop_mem_esp4,
        "pushl $0xaaaa\n\tpushl $0xbbbb\n\tpushl $0xcccc\n\tpopl 4(%esp)\n\t"
        "popl %eax\n\tpopl %edx");
SNIPPET(op_push_mem_esp, "pushl $1\n\tpushl $2\n\tpushl 4(%esp)\n\tpopl %eax\n\taddl $8, %esp");
SNIPPET(op_pop_esp, "movl %esp, %ebx\n\tpushl %ebx\n\tpopl %esp\n\tmovl %esp, %eax");
SNIPPET(op_push_imm,
        "pushl $-1\n\tpopl %eax\n\t"
        "movl %esp, %ebx\n\tpushw $0x1234\n\tmovl %esp, %ecx\n\tpopw %dx");
SNIPPET(op_push_sreg, "movw %ds, %dx\n\tpushl %ds\n\tpopl %eax");

static void check_push_pop(void) {
  struct regs r = {0};
  run_regs(&r, op_push_esp);
  check_eq(r.eax, r.ebx, "push esp pushes the old esp");
  run_regs(&r, op_pop_mem_esp);
  check_eq(r.eax, 0x22222222, "pop [esp] addresses after the increment");
  run_regs(&r, op_pop_mem_esp4);
  check_eq(r.eax, 0xbbbb, "pop 4(%esp): middle slot untouched");
  check_eq(r.edx, 0xcccc, "pop 4(%esp): lands two slots up");
  run_regs(&r, op_push_mem_esp);
  check_eq(r.eax, 1, "push 4(%esp) addresses before the decrement");
  run_regs(&r, op_pop_esp);
  check_eq(r.eax, r.ebx, "pop esp loads the popped value");
  check_eq(r.esp, r.ebx, "pop esp: snippet esp");
  r.edx = 0xffffffff;
  run_regs(&r, op_push_imm);
  check_eq(r.eax, 0xffffffff, "push imm8 -1 sign-extends");
  check_eq(r.ebx - r.ecx, 2, "pushw moves esp by 2");
  check_eq(r.edx, 0xffff1234, "popw");
  run_regs(&r, op_push_sreg);
  /* 32-bit PUSH Sreg writes 16 or 32 bits (SDM "PUSH"); only the low half is defined. */
  check_eq(r.eax & 0xffff, r.edx & 0xffff, "push ds");
}

SNIPPET(op_call_pop, "movl $1f, %ebx\n\tcall 1f\n1:\tpopl %eax");
SNIPPET(op_ret_imm,
        "movl %esp, %ebx\n\tpushl $7\n\tpushl $8\n\tcall 2f\n\tjmp 3f\n"
        "2:\tmovl 4(%esp), %ecx\n\tmovl 8(%esp), %edx\n\tret $8\n"
        "3:\tmovl %esp, %eax");
SNIPPET(op_call_indirect,
        "movl $5f, %edx\n\tcall *%edx\n\t"                       /* EAX = 0x5a */
        "pushl $6f\n\tcall *(%esp)\n\taddl $4, %esp\n\tjmp 7f\n" /* EBX = 0x6b */
        "5:\tmovl $0x5a, %eax\n\tret\n"
        "6:\tmovl $0x6b, %ebx\n\tret\n"
        "7:");

static void check_call_ret(void) {
  struct regs r = {0};
  run_regs(&r, op_call_pop);
  check_eq(r.eax, r.ebx, "call pushes the next EIP");
  run_regs(&r, op_ret_imm);
  check_eq(r.eax, r.ebx, "ret $8 pops the arguments");
  check_eq(r.ecx, 8, "call: first argument");
  check_eq(r.edx, 7, "call: second argument");
  r = (struct regs){0};
  run_regs(&r, op_call_indirect);
  check_eq(r.eax, 0x5a, "call *reg");
  check_eq(r.ebx, 0x6b, "call *(%esp) reads its target before pushing");
}

/* ENTER size, level then a record of the frame: EBP, ESP and the four
 * dwords from EBP down; LEAVE must restore ESP and EBP. */
#define ENTER_SNIPPET(name, size, level)                    \
  SNIPPET(name,                                             \
          "movl %esp, %ecx\n\t"                             \
          "enter $" #size ", $" #level                      \
          "\n\t"                                            \
          "movl %ebp, %eax\n\t"                             \
          "movl %esp, %edx\n\t"                             \
          "movl 0(%ebp), %ebx\n\tmovl %ebx, 0(%edi)\n\t"    \
          "movl -4(%ebp), %ebx\n\tmovl %ebx, 4(%edi)\n\t"   \
          "movl -8(%ebp), %ebx\n\tmovl %ebx, 8(%edi)\n\t"   \
          "movl -12(%ebp), %ebx\n\tmovl %ebx, 12(%edi)\n\t" \
          "leave\n\t"                                       \
          "movl %esp, %esi")

ENTER_SNIPPET(op_enter_16_0, 16, 0);
ENTER_SNIPPET(op_enter_8_1, 8, 1);
ENTER_SNIPPET(op_enter_0_2, 0, 2);
ENTER_SNIPPET(op_enter_4_3, 4, 3);

static void check_enter(const char *name, void (*code)(void), uint32_t size, uint32_t level) {
  /* The caller's frame: EBP points at display[2]; ENTER copies the
   * level - 1 frame pointers below it. */
  uint32_t display[3] = {0x2222, 0x1111, 0x0bad};
  uint32_t frame[4] = {0};
  struct regs r = {.ebp = (uint32_t)&display[2], .edi = (uint32_t)frame};
  run_regs(&r, code);
  uint32_t entry = r.ecx, ebp = entry - 4;
  check_field(name, "ebp", r.eax, ebp);
  check_field(name, "esp", r.edx, ebp - 4 * level - size);
  check_field(name, "saved ebp", frame[0], (uint32_t)&display[2]);
  if (level >= 1) check_field(name, "frame pointer", frame[level], ebp);
  if (level >= 2) check_field(name, "display 1", frame[1], 0x1111);
  if (level >= 3) check_field(name, "display 2", frame[2], 0x2222);
  check_field(name, "leave esp", r.esi, entry);
  check_field(name, "leave ebp", r.ebp, (uint32_t)&display[2]);
}

uint32_t stack_pusha_image[8], stack_pusha_esp;
SNIPPET(op_pusha,
        "movl %esp, stack_pusha_esp\n\tpushal\n\t"
        "popl stack_pusha_image\n\tpopl stack_pusha_image+4\n\t"
        "popl stack_pusha_image+8\n\tpopl stack_pusha_image+12\n\t"
        "popl stack_pusha_image+16\n\tpopl stack_pusha_image+20\n\t"
        "popl stack_pusha_image+24\n\tpopl stack_pusha_image+28");
SNIPPET(op_popa,
        "pushl $0xa\n\tpushl $0xc\n\tpushl $0xd\n\tpushl $0xb\n\tpushl $0x5\n\t"
        "pushl $0xbb\n\tpushl $0x51\n\tpushl $0xd1\n\tpopal");

static void check_pusha_popa(void) {
  struct regs r = {.eax = 1, .ecx = 2, .edx = 3, .ebx = 4, .ebp = 6, .esi = 7, .edi = 8};
  run_regs(&r, op_pusha);
  const uint32_t want[8] = {8, 7, 6, stack_pusha_esp, 4, 3, 2, 1}; /* EDI first */
  for (unsigned i = 0; i < 8; i++) {
    check(stack_pusha_image[i] == want[i], "pusha slot %u: 0x%x want 0x%x", i, stack_pusha_image[i],
          want[i]);
  }
  run_regs(&r, op_popa);
  check(r.eax == 0xa && r.ecx == 0xc && r.edx == 0xd && r.ebx == 0xb && r.ebp == 0xbb &&
            r.esi == 0x51 && r.edi == 0xd1,
        "popa registers");
  check_eq(r.esp, stack_pusha_esp, "popa skips the ESP slot and pops 32 bytes");
}

/* POPF then PUSHF: the arithmetic flags, DF and ID round-trip; reserved
 * bits 3, 5 and 15 read 0 and bit 1 reads 1 (SDM Vol. 1 3.4.3). */
SNIPPET(op_popf_pushf, "pushl %eax\n\tpopfl\n\tpushfl\n\tpopl %ebx");

static void check_pushf_popf(void) {
  const uint32_t keep = FL_ARITH | FL_DF | FL_ID | 0x802a;
  struct regs r = {.eax = FL_ARITH | FL_DF | FL_ID | 0x8028};
  run_regs(&r, op_popf_pushf);
  check_eq(r.ebx & keep, FL_ARITH | FL_DF | FL_ID | FL_FIXED, "popf/pushf all set");
  r = (struct regs){.eax = 0};
  run_regs(&r, op_popf_pushf);
  check_eq(r.ebx & keep, FL_FIXED, "popf/pushf all clear");
}

void test_stack(void) {
  check_push_pop();
  check_call_ret();
  check_enter("enter 16,0", op_enter_16_0, 16, 0);
  check_enter("enter 8,1", op_enter_8_1, 8, 1);
  check_enter("enter 0,2", op_enter_0_2, 0, 2);
  check_enter("enter 4,3", op_enter_4_3, 4, 3);
  check_pusha_popa();
  check_pushf_popf();
}
