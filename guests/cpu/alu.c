/* alu: ADD/SUB/ADC/SBB/CMP/NEG, the logic ops, INC/DEC in both encodings,
 * and 8-bit (including AH/BH) and 16-bit forms. Flags per SDM Vol. 1 3.4.3.1
 * and each instruction's "Flags Affected": AF is the carry or borrow out of
 * bit 3, OF the signed overflow, PF the even parity of the low byte only.
 * INC/DEC leave CF alone; the logic ops clear CF and OF and leave AF
 * undefined. In 32-bit code 0x40-0x4F are INC/DEC r32 (SDM Vol. 2A, INC:
 * "40+rd"), not REX prefixes, so they are spelled as bytes here. */
#include "cpu.h"

SNIPPET(op_add, "addl %ebx, %eax");
SNIPPET(op_sub, "subl %ebx, %eax");
SNIPPET(op_cmp, "cmpl %ebx, %eax");
SNIPPET(op_adc, "adcl %ebx, %eax");
SNIPPET(op_sbb, "sbbl %ebx, %eax");
SNIPPET(op_neg, "negl %eax");
SNIPPET(op_and, "andl %ebx, %eax");
SNIPPET(op_or, "orl %ebx, %eax");
SNIPPET(op_xor, "xorl %ebx, %eax");
SNIPPET(op_test, "testl %ebx, %eax");
SNIPPET(op_add_imm8, "addl $-1, %eax");    /* 83 /0 ib, sign-extended */
SNIPPET(op_sub_imm32, "subl $0x80, %eax"); /* 81 /5 id */
SNIPPET(op_inc_short, ".byte 0x40");       /* inc eax */
SNIPPET(op_dec_short, ".byte 0x48");       /* dec eax */
SNIPPET(op_inc_long, ".byte 0xff, 0xc0");  /* FF /0: inc eax */
SNIPPET(op_dec_long, ".byte 0xff, 0xc8");  /* FF /1: dec eax */
SNIPPET(op_addb, "addb %bl, %al");
SNIPPET(op_subb, "subb %bl, %al");
SNIPPET(op_addb_high, "addb %bh, %ah");
SNIPPET(op_subb_al_ah, "subb %ah, %al");
SNIPPET(op_incb_ah, "incb %ah");
SNIPPET(op_addw, "addw %bx, %ax");
SNIPPET(op_subw, "subw %bx, %ax");
SNIPPET(op_adcw, "adcw %bx, %ax");

/* EAX, EBX and EFLAGS before; EAX and EFLAGS after, EBX unchanged; the
 * defined flags. */
#define ALU(label, fn, a, b, flags_in, result, flags, mask)                           \
  {                                                                                   \
    .name = label, .code = fn, .in = {.eax = a, .ebx = b, .eflags = flags_in},        \
    .want = {.eax = result, .ebx = b, .eflags = flags}, .compare = REG_EAX | REG_EBX, \
    .flag_mask = mask                                                                 \
  }

static const struct reg_case alu_cases[] = {
    /* ADD: signed overflow into the sign bit; carry out; AF from bit 3. */
    ALU("add 7fffffff+1", op_add, 0x7fffffff, 1, 0, 0x80000000, 0x894, FL_ARITH),
    ALU("add ffffffff+1", op_add, 0xffffffff, 1, 0, 0, 0x055, FL_ARITH),
    ALU("add 80000000+80000000", op_add, 0x80000000, 0x80000000, 0, 0, 0x845, FL_ARITH),
    ALU("add 1+2", op_add, 1, 2, FL_CF | FL_OF, 3, 0x004, FL_ARITH),
    ALU("add f+1", op_add, 0xf, 1, 0, 0x10, 0x010, FL_ARITH),
    ALU("add imm8 -1", op_add_imm8, 1, 0, 0, 0, 0x055, FL_ARITH),
    /* SUB/CMP: CF is the borrow, OF the signed overflow. */
    ALU("sub 80000000-1", op_sub, 0x80000000, 1, 0, 0x7fffffff, 0x814, FL_ARITH),
    ALU("sub 0-1", op_sub, 0, 1, 0, 0xffffffff, 0x095, FL_ARITH),
    ALU("sub 5-5", op_sub, 5, 5, FL_CF, 0, 0x044, FL_ARITH),
    ALU("sub 7fffffff-ffffffff", op_sub, 0x7fffffff, 0xffffffff, 0, 0x80000000, 0x885, FL_ARITH),
    ALU("sub imm32 80", op_sub_imm32, 0x100, 0, 0, 0x80, 0x000, FL_ARITH),
    ALU("cmp 80000000,1", op_cmp, 0x80000000, 1, 0, 0x80000000, 0x814, FL_ARITH),
    ALU("cmp 3,3", op_cmp, 3, 3, 0, 3, 0x044, FL_ARITH),
    /* ADC/SBB with carry in; b + CF may wrap, the flags must not care. */
    ALU("adc ffffffff+0+1", op_adc, 0xffffffff, 0, FL_CF, 0, 0x055, FL_ARITH),
    ALU("adc 7fffffff+0+1", op_adc, 0x7fffffff, 0, FL_CF, 0x80000000, 0x894, FL_ARITH),
    ALU("adc ffffffff+ffffffff+1", op_adc, 0xffffffff, 0xffffffff, FL_CF, 0xffffffff, 0x095,
        FL_ARITH),
    ALU("adc 1+1+0", op_adc, 1, 1, 0, 2, 0x000, FL_ARITH),
    ALU("sbb 0-0-1", op_sbb, 0, 0, FL_CF, 0xffffffff, 0x095, FL_ARITH),
    ALU("sbb 80000000-0-1", op_sbb, 0x80000000, 0, FL_CF, 0x7fffffff, 0x814, FL_ARITH),
    ALU("sbb 5-4-1", op_sbb, 5, 4, FL_CF, 0, 0x044, FL_ARITH),
    ALU("sbb 0-ffffffff-1", op_sbb, 0, 0xffffffff, FL_CF, 0, 0x055, FL_ARITH),
    ALU("sbb 5-4-0", op_sbb, 5, 4, 0, 1, 0x000, FL_ARITH),
    /* NEG: CF = (source != 0); NEG of INT_MIN overflows. */
    ALU("neg 0", op_neg, 0, 0, FL_CF, 0, 0x044, FL_ARITH),
    ALU("neg 80000000", op_neg, 0x80000000, 0, 0, 0x80000000, 0x885, FL_ARITH),
    ALU("neg 1", op_neg, 1, 0, 0, 0xffffffff, 0x095, FL_ARITH),
    /* Logic ops clear CF and OF whatever they were. */
    ALU("and", op_and, 0xf0f0f0f0, 0x0ff00ff0, FL_CF | FL_OF, 0x00f000f0, 0x004, FL_LOGIC),
    ALU("or", op_or, 0x80000000, 1, FL_CF | FL_OF, 0x80000001, 0x080, FL_LOGIC),
    ALU("xor", op_xor, 0x12345678, 0x12345678, FL_CF | FL_OF, 0, 0x044, FL_LOGIC),
    ALU("test", op_test, 0x80000000, 0xffffffff, FL_CF | FL_OF, 0x80000000, 0x084, FL_LOGIC),
    /* INC/DEC in both encodings, with CF set and clear: CF must survive. */
    ALU("inc40 7fffffff cf1", op_inc_short, 0x7fffffff, 0, FL_CF, 0x80000000, 0x895, FL_ARITH),
    ALU("inc40 ffffffff cf0", op_inc_short, 0xffffffff, 0, 0, 0, 0x054, FL_ARITH),
    ALU("dec48 80000000 cf0", op_dec_short, 0x80000000, 0, 0, 0x7fffffff, 0x814, FL_ARITH),
    ALU("dec48 0 cf1", op_dec_short, 0, 0, FL_CF, 0xffffffff, 0x095, FL_ARITH),
    ALU("incff 7fffffff cf0", op_inc_long, 0x7fffffff, 0, 0, 0x80000000, 0x894, FL_ARITH),
    ALU("decff 1 cf1", op_dec_long, 1, 0, FL_CF, 0, 0x045, FL_ARITH),
    /* 8-bit: overflow at bit 7, upper bytes of EAX untouched. */
    ALU("addb 7f+1", op_addb, 0xaabbcc7f, 1, 0, 0xaabbcc80, 0x890, FL_ARITH),
    ALU("subb 80-1", op_subb, 0xaabbcc80, 1, 0, 0xaabbcc7f, 0x810, FL_ARITH),
    ALU("addb ff+1", op_addb, 0x000000ff, 1, 0, 0, 0x055, FL_ARITH),
    ALU("addb bh,ah", op_addb_high, 0x1234ff56, 0x00000100, 0, 0x12340056, 0x055, FL_ARITH),
    ALU("subb ah,al", op_subb_al_ah, 0x00008000, 0, 0, 0x00008080, 0x881, FL_ARITH),
    ALU("incb ah cf1", op_incb_ah, 0x11227f33, 0, FL_CF, 0x11228033, 0x891, FL_ARITH),
    /* 16-bit: overflow at bit 15, upper half of EAX untouched. */
    ALU("addw 7fff+1", op_addw, 0xabcd7fff, 1, 0, 0xabcd8000, 0x894, FL_ARITH),
    ALU("subw 0-1", op_subw, 0x12340000, 1, 0, 0x1234ffff, 0x095, FL_ARITH),
    ALU("adcw ffff+0+1", op_adcw, 0x5555ffff, 0, FL_CF, 0x55550000, 0x055, FL_ARITH),
};

/* All sixteen one-byte INC/DEC r32 forms at once: each register is bumped
 * by its own opcode and nothing else moves. 0x44/0x4C (ESP) run back to
 * back with ESP recorded in between. */
SNIPPET(op_incdec_all,
        "pushl %ebp\n\t"
        "movl %esp, %ebp\n\t"
        ".byte 0x44\n\t"      /* inc esp */
        "subl %esp, %ebp\n\t" /* EBP = -1 */
        ".byte 0x4c\n\t"      /* dec esp */
        "movl %ebp, %ebx\n\t"
        "popl %ebp\n\t"
        ".byte 0x40, 0x40, 0x41, 0x42, 0x4a, 0x4a\n\t" /* eax+2 ecx+1 edx-1 */
        ".byte 0x43, 0x4b, 0x4b\n\t"                   /* ebx-1 */
        ".byte 0x45, 0x46, 0x46, 0x4e, 0x4f\n\t"       /* ebp+1 esi+1 edi-1 */
        ".byte 0x4d, 0x4d, 0x47, 0x47, 0x47\n\t"       /* ebp-2 edi+3 */
        ".byte 0x48");                                 /* eax-1 */

static void check_incdec_all(void) {
  struct regs r = {.eax = 10, .ecx = 20, .edx = 30, .ebp = 50, .esi = 60, .edi = 70};
  run_regs(&r, op_incdec_all);
  check_eq(r.eax, 11, "inc/dec short eax");
  check_eq(r.ecx, 21, "inc/dec short ecx");
  check_eq(r.edx, 29, "inc/dec short edx");
  check_eq(r.ebx, 0xfffffffe, "inc/dec short esp (ebx = -1, then dec)");
  check_eq(r.ebp, 49, "inc/dec short ebp");
  check_eq(r.esi, 61, "inc/dec short esi");
  check_eq(r.edi, 72, "inc/dec short edi");
}

/* Read-modify-write forms with a memory destination. */
SNIPPET(op_mem_rmw,
        "addl %ebx, (%esi)\n\t"
        "adcl $0, 4(%esi)\n\t" /* 64-bit add: carry into the high word */
        "incl 8(%esi)\n\t"
        "negl 12(%esi)\n\t"
        "notl 16(%esi)");

static void check_mem_rmw(void) {
  static uint32_t mem[5] = {0xffffffff, 0x7fffffff, 0x41, 5, 0x0f0f0f0f};
  struct regs r = {.ebx = 1, .esi = (uint32_t)mem};
  run_regs(&r, op_mem_rmw);
  check_eq(mem[0], 0, "add mem low");
  check_eq(mem[1], 0x80000000, "adc mem high");
  check_eq(mem[2], 0x42, "inc mem");
  check_eq(mem[3], 0xfffffffb, "neg mem");
  check_eq(mem[4], 0xf0f0f0f0, "not mem");
  /* NOT leaves the flags of NEG 5: CF=1, SF, AF (0 - 5), PF (0xfb: 7 bits -> 0). */
  check_flags(r.eflags, 0x091, FL_ARITH, "neg mem then not");
}

void test_alu(void) {
  RUN_REG_CASES(alu_cases);
  check_incdec_all();
  check_mem_rmw();
}
