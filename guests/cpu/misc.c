/* atomic and misc groups. atomic: XCHG, CMPXCHG (both outcomes), XADD and
 * CMPXCHG8B (SDM Vol. 2A "CMPXCHG": flags as CMP of the accumulator with
 * the destination; on a mismatch the accumulator gets the destination.
 * "CMPXCHG8B": only ZF changes). misc: LAHF/SAHF, CBW/CWDE/CWD/CDQ,
 * MOVZX/MOVSX, XLAT, LEA with every addressing shape and both address sizes,
 * and NOP forms. */
#include "cpu.h"

SNIPPET(op_xchg,
        "xchgl %ebx, %eax\n\t"
        "xchgl %ecx, (%esi)\n\t"
        "xchgb %dh, %dl");
SNIPPET(op_cmpxchg_mem, "lock cmpxchgl %ebx, (%esi)");
SNIPPET(op_cmpxchg_reg, "cmpxchgl %ebx, %ecx");
SNIPPET(op_cmpxchgb, "cmpxchgb %bl, (%esi)");
SNIPPET(op_xadd_mem, "lock xaddl %ebx, (%esi)");
SNIPPET(op_xadd_reg, "xaddl %ebx, %eax");
SNIPPET(op_cmpxchg8b, "lock cmpxchg8b (%esi)");

static void check_xchg_cmpxchg(void) {
  uint32_t m = 0x33;
  struct regs r = {.eax = 1, .ebx = 2, .ecx = 0x44, .edx = 0x1234, .esi = (uint32_t)&m};
  run_regs(&r, op_xchg);
  check(r.eax == 2 && r.ebx == 1, "xchg reg,reg");
  check(r.ecx == 0x33 && m == 0x44, "xchg reg,mem");
  check_eq(r.edx, 0x3412, "xchg dh,dl");

  /* Equal: ZF = 1 and the source is stored. */
  m = 100;
  r = (struct regs){.eax = 100, .ebx = 200, .esi = (uint32_t)&m, .eflags = FL_CF};
  run_regs(&r, op_cmpxchg_mem);
  check(m == 200 && r.eax == 100, "cmpxchg equal: m=%u eax=%u", m, r.eax);
  check_flags(r.eflags, FL_ZF | FL_PF, FL_ARITH, "cmpxchg equal");
  /* Different: ZF = 0, EAX = destination, destination unchanged; flags of
   * CMP 5, 100: 0xffffffa1 borrows (CF), is negative (SF), has odd parity
   * (PF = 0) and 5 - 4 in the low nibble does not borrow (AF = 0). */
  m = 100;
  r = (struct regs){.eax = 5, .ebx = 200, .esi = (uint32_t)&m};
  run_regs(&r, op_cmpxchg_mem);
  check(m == 100 && r.eax == 100, "cmpxchg differ: m=%u eax=%u", m, r.eax);
  check_flags(r.eflags, FL_CF | FL_SF, FL_ARITH, "cmpxchg differ");
  r = (struct regs){.eax = 7, .ebx = 9, .ecx = 7};
  run_regs(&r, op_cmpxchg_reg);
  check(r.ecx == 9 && r.eax == 7, "cmpxchg reg equal");
  r = (struct regs){.eax = 6, .ebx = 9, .ecx = 7};
  run_regs(&r, op_cmpxchg_reg);
  check(r.ecx == 7 && r.eax == 7, "cmpxchg reg differ");
  uint8_t b[2] = {0x80, 0x55};
  r = (struct regs){.eax = 0xabcdef80, .ebx = 0x11, .esi = (uint32_t)b};
  run_regs(&r, op_cmpxchgb);
  check(b[0] == 0x11 && b[1] == 0x55 && r.eax == 0xabcdef80, "cmpxchgb equal");
  r = (struct regs){.eax = 0xabcdef80, .ebx = 0x22, .esi = (uint32_t)b};
  run_regs(&r, op_cmpxchgb);
  check(b[0] == 0x11 && r.eax == 0xabcdef11, "cmpxchgb differ keeps EAX[31:8]");
}

static void check_xadd_cmpxchg8b(void) {
  uint32_t m = 0x7fffffff;
  struct regs r = {.ebx = 1, .esi = (uint32_t)&m};
  run_regs(&r, op_xadd_mem);
  check(m == 0x80000000 && r.ebx == 0x7fffffff, "xadd mem");
  check_flags(r.eflags, 0x894, FL_ARITH, "xadd mem flags as add");
  r = (struct regs){.eax = 10, .ebx = 3};
  run_regs(&r, op_xadd_reg);
  check(r.eax == 13 && r.ebx == 10, "xadd reg: eax=%u ebx=%u", r.eax, r.ebx);

  /* Equal: ECX:EBX is stored, ZF = 1; CF/PF/AF/SF/OF keep their values. */
  uint64_t q = 0x1122334455667788ull;
  r = (struct regs){.edx = 0x11223344,
                    .eax = 0x55667788,
                    .ecx = 0xaabbccdd,
                    .ebx = 0xeeff0011,
                    .esi = (uint32_t)&q,
                    .eflags = FL_CF | FL_OF};
  run_regs(&r, op_cmpxchg8b);
  check_eq64(q, 0xaabbccddeeff0011ull, "cmpxchg8b equal stores ecx:ebx");
  check_flags(r.eflags, FL_ZF | FL_CF | FL_OF, FL_ARITH, "cmpxchg8b equal");
  r = (struct regs){
      .edx = 0x11223344, .eax = 0x55667788, .esi = (uint32_t)&q, .eflags = FL_ZF | FL_SF | FL_PF};
  run_regs(&r, op_cmpxchg8b);
  check_eq64(q, 0xaabbccddeeff0011ull, "cmpxchg8b differ leaves memory");
  check(r.edx == 0xaabbccdd && r.eax == 0xeeff0011, "cmpxchg8b differ loads edx:eax");
  check_flags(r.eflags, FL_SF | FL_PF, FL_ARITH, "cmpxchg8b differ");
}

void test_atomic(void) {
  check_xchg_cmpxchg();
  check_xadd_cmpxchg8b();
}

/* SAHF loads SF ZF AF PF CF from AH (bits 7 6 4 2 0), keeping OF; LAHF
 * stores them with bit 1 set and bits 3 and 5 clear. */
SNIPPET(op_sahf_lahf, "sahf\n\tpushfl\n\tpopl %ebx\n\tmovb $0, %ah\n\tlahf");

static void check_lahf_sahf(void) {
  struct regs r = {.eax = 0x1234ff78, .eflags = FL_OF};
  run_regs(&r, op_sahf_lahf);
  check_flags(r.ebx, FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF, FL_ARITH, "sahf ff");
  check_eq(r.eax, 0x1234d778, "lahf after sahf ff");
  r = (struct regs){.eax = 0x00004100, .eflags = FL_ARITH};
  run_regs(&r, op_sahf_lahf);
  check_flags(r.ebx, FL_CF | FL_ZF | FL_OF, FL_ARITH, "sahf 41");
  check_eq(r.eax, 0x00004300, "lahf after sahf 41");
}

SNIPPET(op_cbw, "cbtw");
SNIPPET(op_cwde, "cwtl");
SNIPPET(op_cwd, "cwtd");
SNIPPET(op_cdq, "cltd");
SNIPPET(op_movx,
        "movzbl %bl, %eax\n\t"
        "movsbl %bh, %ecx\n\t"
        "movswl %bx, %edx\n\t"
        "movzwl (%esi), %edi\n\t"
        "movsbw %bl, %si");
SNIPPET(op_xlat, "xlat");

static void check_extend(void) {
  struct regs r = {.eax = 0x12345680};
  run_regs(&r, op_cbw);
  check_eq(r.eax, 0x1234ff80, "cbw");
  r = (struct regs){.eax = 0x12348000};
  run_regs(&r, op_cwde);
  check_eq(r.eax, 0xffff8000, "cwde");
  r = (struct regs){.eax = 0x00008000, .edx = 0x12345678};
  run_regs(&r, op_cwd);
  check_eq(r.edx, 0x1234ffff, "cwd");
  r = (struct regs){.eax = 0x80000000, .edx = 0};
  run_regs(&r, op_cdq);
  check_eq(r.edx, 0xffffffff, "cdq");
  r = (struct regs){.eax = 0x7fffffff, .edx = 0x5555};
  run_regs(&r, op_cdq);
  check_eq(r.edx, 0, "cdq positive");

  static const uint16_t half = 0xfedc;
  r = (struct regs){.ebx = 0x1234f080, .esi = (uint32_t)&half};
  run_regs(&r, op_movx);
  check_eq(r.eax, 0x80, "movzx r8");
  check_eq(r.ecx, 0xfffffff0, "movsx bh");
  check_eq(r.edx, 0xfffff080, "movsx r16");
  check_eq(r.edi, 0xfedc, "movzx m16");
  check_eq(r.esi & 0xffff, 0xff80, "movsx r8 to r16");
  check_eq(r.esi >> 16, (uint32_t)&half >> 16, "movsx r16 keeps the upper half");

  static const uint8_t table[256] = {[0] = 0x11, [0x7f] = 0x22, [0xff] = 0x33};
  r = (struct regs){.eax = 0xaabbcc7f, .ebx = (uint32_t)table};
  run_regs(&r, op_xlat);
  check_eq(r.eax, 0xaabbcc22, "xlat 7f");
  r = (struct regs){.eax = 0x000000ff, .ebx = (uint32_t)table};
  run_regs(&r, op_xlat);
  check_eq(r.eax, 0x33, "xlat ff (AL is unsigned)");
}

/* Every LEA shape; the 16-bit address form (0x67 prefix) wraps at 64 KiB
 * and zero-extends; a 16-bit destination keeps EDX[31:16]. */
SNIPPET(op_lea,
        "leal 0x10(%eax,%ecx,4), %edx\n\t"
        "leal (,%ecx,8), %ebx\n\t"
        "leal -1(%eax), %esi\n\t"
        "leal 0x12345678, %edi\n\t"
        "leal 8(%esp), %ebp\n\t"
        "subl %esp, %ebp");
SNIPPET(op_lea16,
        "leal 0x10(%bx,%si), %edx\n\t"
        "leal -2(%bp), %ecx\n\t"
        "leaw (%eax,%edi), %ax");
/* NOP forms: 0x90, PAUSE, the multi-byte NOPL and a 66-prefixed NOP. */
SNIPPET(op_nops, "nop\n\tpause\n\tnopl 0(%eax)\n\tnopw 0(%eax,%eax,1)\n\t.byte 0x66, 0x90");

static void check_lea(void) {
  struct regs r = {.eax = 0x1000, .ecx = 3};
  run_regs(&r, op_lea);
  check_eq(r.edx, 0x101c, "lea disp(base,index,4)");
  check_eq(r.ebx, 24, "lea (,index,8)");
  check_eq(r.esi, 0xfff, "lea -1(base)");
  check_eq(r.edi, 0x12345678, "lea disp32");
  check_eq(r.ebp, 8, "lea 8(%esp)");
  r = (struct regs){.eax = 0xabcdfff0,
                    .ebx = 0x1234fff0,
                    .esi = 0x20,
                    .ebp = 0x10001,
                    .edi = 0x20,
                    .edx = 0x12345678};
  run_regs(&r, op_lea16);
  check_eq(r.edx, 0x0020, "lea16 (bx,si) wraps and zero-extends");
  check_eq(r.ecx, 0xffff, "lea16 -2(bp)");
  check_eq(r.eax, 0xabcd0010, "lea with 16-bit destination");
  r = (struct regs){.eax = 0x5a5a5a5a, .eflags = FL_CF | FL_ZF};
  run_regs(&r, op_nops);
  check_eq(r.eax, 0x5a5a5a5a, "nops");
  check_flags(r.eflags, FL_CF | FL_ZF, FL_ARITH, "nops keep flags");
}

/* ARPL (SDM Vol. 2A): valid in protected mode at any CPL; raises the
 * destination selector's RPL to the source's, ZF = 1 if it did. */
SNIPPET(op_arpl, "arpl %cx, %ax\n\tsetz %dl\n\tarpl %cx, %bx\n\tsetz %dh\n\tarpl %cx, (%esi)");

static void check_arpl(void) {
  static volatile uint16_t selector = 0x0011;
  struct regs r = {.eax = 0xABCD0008, .ebx = 0x001B, .ecx = 0x0002, .esi = (uint32_t)&selector};
  run_regs(&r, op_arpl);
  check_eq(r.eax, 0xABCD000A, "arpl raises RPL 0 to 2, upper half kept");
  check_eq(r.edx & 0xFF, 1, "arpl sets ZF when it changed the RPL");
  check_eq(r.ebx, 0x001B, "arpl keeps RPL 3 against 2");
  check_eq((r.edx >> 8) & 0xFF, 0, "arpl clears ZF when it did not");
  check_eq(selector, 0x0012, "arpl on a memory operand");
}

void test_misc(void) {
  check_lahf_sahf();
  check_extend();
  check_lea();
  check_arpl();
}
