/* cond: the sixteen condition codes through SETcc, CMOVcc and Jcc (SDM
 * Vol. 1 Appendix B, Table B-1), and LOOP/LOOPE/LOOPNE/JECXZ (SDM Vol. 2A
 * "LOOP/LOOPcc", "Jcc"). LOOP decrements ECX (CX with a 0x67 prefix)
 * without touching the flags; JECXZ tests all of ECX, JCXZ only CX. */
#include "cpu.h"

/* Condition n of tttn encoding order: o no b ae e ne be a s ns p np l ge le g.
 * SETcc stores byte n at ESI, CMOVcc moves EBX (1) into dword n at EDI, Jcc
 * stores byte n at EDX. MOV and JMP leave the flags alone, so all 48 see
 * the same EFLAGS. */
#define ONE_COND(cc, n) \
  "set" cc " " #n       \
  "(%esi)\n\t"          \
  "movl $0, %eax\n\t"   \
  "cmov" cc             \
  "l %ebx, %eax\n\t"    \
  "movl %eax, 4*" #n    \
  "(%edi)\n\t"          \
  "j" cc                \
  " 1f\n\t"             \
  "movb $0, " #n        \
  "(%edx)\n\t"          \
  "jmp 2f\n"            \
  "1:\tmovb $1, " #n    \
  "(%edx)\n"            \
  "2:\n\t"

SNIPPET(op_all_conds,
        ONE_COND("o", 0) ONE_COND("no", 1) ONE_COND("b", 2) ONE_COND("ae", 3) ONE_COND("e", 4)
            ONE_COND("ne", 5) ONE_COND("be", 6) ONE_COND("a", 7) ONE_COND("s", 8) ONE_COND("ns", 9)
                ONE_COND("p", 10) ONE_COND("np", 11) ONE_COND("l", 12) ONE_COND("ge", 13)
                    ONE_COND("le", 14) ONE_COND("g", 15));

/* Which conditions hold for each EFLAGS value: bit n for condition n,
 * written out from Table B-1 (e.g. flags 0: the odd, negated conditions). */
static const struct {
  uint32_t flags, true_mask;
} cond_vectors[] = {
    {0, 0xaaaa},
    {FL_CF, 0xaa66},
    {FL_ZF, 0x6a5a},
    {FL_SF, 0x59aa},
    {FL_OF, 0x5aa9},
    {FL_SF | FL_OF, 0xa9a9},
    {FL_CF | FL_ZF | FL_PF, 0x6656},
    {FL_ZF | FL_SF, 0x595a},
    {FL_PF, 0xa6aa},
    {FL_ARITH, 0x6555},
};

static void check_conds(uint32_t flags, uint32_t want) {
  uint8_t set[16], jumped[16];
  uint32_t moved[16];
  struct regs r = {.ebx = 1,
                   .esi = (uint32_t)set,
                   .edi = (uint32_t)moved,
                   .edx = (uint32_t)jumped,
                   .eflags = flags};
  run_regs(&r, op_all_conds);
  uint32_t set_mask = 0, cmov_mask = 0, jcc_mask = 0;
  for (unsigned n = 0; n < 16; n++) {
    check(set[n] <= 1, "setcc %u wrote %u", n, set[n]);
    set_mask |= (uint32_t)(set[n] != 0) << n;
    cmov_mask |= (uint32_t)(moved[n] != 0) << n;
    jcc_mask |= (uint32_t)(jumped[n] != 0) << n;
  }
  check(set_mask == want, "setcc flags 0x%03x: 0x%04x want 0x%04x", flags, set_mask, want);
  check(cmov_mask == want, "cmovcc flags 0x%03x: 0x%04x want 0x%04x", flags, cmov_mask, want);
  check(jcc_mask == want, "jcc flags 0x%03x: 0x%04x want 0x%04x", flags, jcc_mask, want);
  check_flags(r.eflags, flags, FL_ARITH, "setcc/cmovcc/jcc left flags");
}

SNIPPET(op_loop, "1: incl %eax\n\tloop 1b");
SNIPPET(op_loopne, "1: incl %eax\n\tcmpl %eax, %ebx\n\tloopne 1b");
SNIPPET(op_loope_zf1, "1: incl %eax\n\tcmpl %edx, %edx\n\tloope 1b");
SNIPPET(op_loope_exit, "1: incl %eax\n\tcmpl $2, %eax\n\tloope 1b");
SNIPPET(op_loop_cx, "1: incl %eax\n\t.byte 0x67\n\tloop 1b"); /* addr16: CX */
SNIPPET(op_jecxz, "movl $0, %eax\n\tjecxz 1f\n\tmovl $1, %eax\n1:");
SNIPPET(op_jcxz, "movl $0, %eax\n\tjcxz 1f\n\tmovl $1, %eax\n1:");

/* ECX, EBX and EFLAGS before; EAX (the iterations) and ECX after. */
#define LOOP(label, fn, ecx_in, ebx_in, flags_in, eax_out, ecx_out)                      \
  {                                                                                      \
    .name = label, .code = fn, .in = {.ecx = ecx_in, .ebx = ebx_in, .eflags = flags_in}, \
    .want = {.eax = eax_out, .ecx = ecx_out}, .compare = REG_EAX | REG_ECX               \
  }

static const struct reg_case loop_cases[] = {
    LOOP("loop 5", op_loop, 5, 0, 0, 5, 0),
    LOOP("loop 1", op_loop, 1, 0, 0, 1, 0),
    LOOP("loopne stops at ZF", op_loopne, 10, 3, 0, 3, 7),
    LOOP("loopne runs out", op_loopne, 2, 30, 0, 2, 0),
    LOOP("loope while ZF", op_loope_zf1, 4, 0, 0, 4, 0),
    LOOP("loope exits on !ZF", op_loope_exit, 9, 0, 0, 1, 8),
    LOOP("loop cx 10001", op_loop_cx, 0x10001, 0, 0, 1, 0x10000),
    LOOP("jecxz 0", op_jecxz, 0, 0, 0, 0, 0),
    LOOP("jecxz 10000", op_jecxz, 0x10000, 0, 0, 1, 0x10000),
    LOOP("jcxz 10000", op_jcxz, 0x10000, 0, 0, 0, 0x10000),
    LOOP("jcxz 1", op_jcxz, 1, 0, 0, 1, 1),
};

void test_cond(void) {
  for (unsigned i = 0; i < sizeof cond_vectors / sizeof cond_vectors[0]; i++) {
    check_conds(cond_vectors[i].flags, cond_vectors[i].true_mask);
  }
  RUN_REG_CASES(loop_cases);
}
