/* muldiv: MUL, IMUL in its one-, two- and three-operand forms, DIV and
 * IDIV at 8, 16 and 32 bits (SDM Vol. 2A "MUL", "IMUL", "DIV", "IDIV").
 * MUL and IMUL define only CF = OF: set when the high half is needed (MUL)
 * or when the product does not fit the destination as a signed value
 * (IMUL). DIV/IDIV leave all flags undefined; IDIV truncates toward zero
 * and the remainder takes the dividend's sign. The faulting cases (#DE) are
 * in traps.c. Narrow forms must keep the rest of EAX and EDX. */
#include "cpu.h"

SNIPPET(op_mul, "mull %ebx");
SNIPPET(op_mulb, "mulb %bl");
SNIPPET(op_mulw, "mulw %bx");
SNIPPET(op_imul1, "imull %ebx");
SNIPPET(op_imulb1, "imulb %bl");
SNIPPET(op_imul2, "imull %ebx, %eax");
SNIPPET(op_imulw2, "imulw %bx, %ax");
SNIPPET(op_imul3_imm8, "imull $-2, %ebx, %eax");
SNIPPET(op_imul3_imm32, "imull $0x10000, %ebx, %eax");
SNIPPET(op_div, "divl %ebx");
SNIPPET(op_divb, "divb %bl");
SNIPPET(op_divw, "divw %bx");
SNIPPET(op_idiv, "idivl %ebx");
SNIPPET(op_idivb, "idivb %bl");
SNIPPET(op_idivw, "idivw %bx");

#define CO (FL_CF | FL_OF)

/* EAX, EDX and EBX before; EAX and EDX after, EBX unchanged; CF/OF after
 * and the defined flags. */
#define MULDIV(label, fn, eax_in, edx_in, ebx_in, eax_out, edx_out, flags, mask)    \
  {                                                                                 \
    .name = label, .code = fn, .in = {.eax = eax_in, .edx = edx_in, .ebx = ebx_in}, \
    .want = {.eax = eax_out, .edx = edx_out, .ebx = ebx_in, .eflags = flags},       \
    .compare = REG_EAX | REG_EDX | REG_EBX, .flag_mask = mask                       \
  }

static const struct reg_case muldiv_cases[] = {
    MULDIV("mul ffffffff^2", op_mul, 0xffffffff, 0, 0xffffffff, 1, 0xfffffffe, CO, CO),
    MULDIV("mul 10000^2", op_mul, 0x10000, 0, 0x10000, 0, 1, CO, CO),
    MULDIV("mul 3*4", op_mul, 3, 0xdead, 4, 12, 0, 0, CO),
    MULDIV("mulb 80*2", op_mulb, 0x12345680, 0x77, 2, 0x12340100, 0x77, CO, CO),
    MULDIV("mulb 7*9", op_mulb, 0x12345607, 0x77, 9, 0x1234003f, 0x77, 0, CO),
    MULDIV("mulw ffff^2", op_mulw, 0xaaaaffff, 0xbbbb1234, 0xffff, 0xaaaa0001, 0xbbbbfffe, CO, CO),
    MULDIV("imul1 -1*-1", op_imul1, 0xffffffff, 0, 0xffffffff, 1, 0, 0, CO),
    MULDIV("imul1 80000000*-1", op_imul1, 0x80000000, 0, 0xffffffff, 0x80000000, 0, CO, CO),
    MULDIV("imul1 -2*3", op_imul1, 0xfffffffe, 0, 3, 0xfffffffa, 0xffffffff, 0, CO),
    MULDIV("imulb1 -128*-1", op_imulb1, 0x11111180, 0x22, 0xff, 0x11110080, 0x22, CO, CO),
    MULDIV("imul2 7fffffff*2", op_imul2, 0x7fffffff, 0x33, 2, 0xfffffffe, 0x33, CO, CO),
    MULDIV("imul2 -3*5", op_imul2, 0xfffffffd, 0x33, 5, 0xfffffff1, 0x33, 0, CO),
    MULDIV("imulw2 100*100", op_imulw2, 0xabcd0100, 0, 0x100, 0xabcd0000, 0, CO, CO),
    /* -2 * 0x40000000 = INT_MIN exactly: fits, so no overflow. */
    MULDIV("imul3 40000000*-2", op_imul3_imm8, 0, 0, 0x40000000, 0x80000000, 0, 0, CO),
    MULDIV("imul3 40000001*-2", op_imul3_imm8, 0, 0, 0x40000001, 0x7ffffffe, 0, CO, CO),
    MULDIV("imul3 8000*10000", op_imul3_imm32, 0, 0, 0x8000, 0x80000000, 0, CO, CO),
    MULDIV("imul3 -8000*10000", op_imul3_imm32, 0, 0, 0xffff8000, 0x80000000, 0, 0, CO),
    MULDIV("div 100000000/2", op_div, 0, 1, 2, 0x80000000, 0, 0, 0),
    MULDIV("div a00000007/10", op_div, 7, 0xa, 0x10, 0xa0000000, 7, 0, 0),
    MULDIV("divb 105/10", op_divb, 0x12340105, 0x99, 0x10, 0x12340510, 0x99, 0, 0),
    MULDIV("divw 10000/3", op_divw, 0x55550000, 0x66660001, 3, 0x55555555, 0x66660001, 0, 0),
    MULDIV("idiv -7/2", op_idiv, 0xfffffff9, 0xffffffff, 2, 0xfffffffd, 0xffffffff, 0, 0),
    MULDIV("idiv 7/-2", op_idiv, 7, 0, 0xfffffffe, 0xfffffffd, 1, 0, 0),
    MULDIV("idiv INT_MIN/1", op_idiv, 0x80000000, 0xffffffff, 1, 0x80000000, 0, 0, 0),
    MULDIV("idiv -2^32/2", op_idiv, 0, 0xffffffff, 2, 0x80000000, 0, 0, 0),
    MULDIV("idivb -128/2", op_idivb, 0x0000ff80, 0, 2, 0x000000c0, 0, 0, 0),
    MULDIV("idivb -7/2", op_idivb, 0x1234fff9, 0, 2, 0x1234fffd, 0, 0, 0),
    MULDIV("idivw -32768/2", op_idivw, 0x00008000, 0xffffffff, 2, 0x0000c000, 0xffff0000, 0, 0),
};

void test_muldiv(void) { RUN_REG_CASES(muldiv_cases); }
