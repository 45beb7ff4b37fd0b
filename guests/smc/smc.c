/*
 * smc: self-modifying code. Stores into instructions that have already run
 * (and so may sit translated in a code cache) must take effect at once: a
 * write to code invalidates prefetched or cached copies by physical
 * address, and a store that hits an instruction already prefetched behind
 * it is caught too (SDM Vol. 3A 8.1.3, "Handling Self- and Cross-Modifying
 * Code"). Each case runs the code once before patching it, then checks the
 * patched behaviour. Without paging, .text is writable.
 *
 * Cases: an immediate patched from C; a patch per iteration of a loop; a
 * store to the very next instruction of the running block (immediate and
 * opcode); patches by REP MOVSB and REP STOSB, including one whose
 * destination is the instruction after it; a function reached from two call
 * sites and a call whose target is repointed; an instruction that straddles
 * a page boundary patched on its second page; and a data word living in a
 * code page, written on every call of code in that page.
 */
#include "guest.h"

/* Patchable functions. B8 id is MOV EAX, imm32: the immediate is at +1. */
__asm__(
    ".pushsection .text\n"
    ".p2align 4\n"
    "smc_mov:\n\t"
    "movl $0x11111111, %eax\n\t"
    "ret\n"
    /* Same block: the store lands in the next instruction's imm32. */
    ".p2align 4\n"
    "smc_next_imm:\n\t"
    "movl %ecx, 1f + 1\n"
    "1:\tmovl $0, %eax\n\t"
    "ret\n"
    /* A loop storing ECX into the MOV right after the store on every
     * iteration; EDX sums what the MOV loaded. */
    ".p2align 4\n"
    "smc_loop_sum:\n\t"
    "xorl %edx, %edx\n"
    "2:\tmovl %ecx, 1f + 1\n"
    "1:\tmovl $0, %eax\n\t"
    "addl %eax, %edx\n\t"
    "loop 2b\n\t"
    "movl %edx, %eax\n\t"
    "ret\n"
    /* Same block: the store turns the next opcode into INC or DEC. */
    ".p2align 4\n"
    "smc_next_opcode:\n\t"
    "movl $100, %eax\n\t"
    "movb %cl, 1f\n"
    "1:\t.byte 0x40\n\t" /* inc eax; 0x48 is dec eax */
    "ret\n"
    /* REP MOVSB over the immediate of the instruction right after it. */
    ".p2align 4\n"
    "smc_movsb_next:\n\t"
    "pushl %esi\n\tpushl %edi\n\t"
    "movl %edx, %esi\n\t"
    "movl $1f + 1, %edi\n\t"
    "movl $4, %ecx\n\t"
    "rep movsb\n"
    "1:\tmovl $0, %eax\n\t"
    "popl %edi\n\tpopl %esi\n\t"
    "ret\n"
    /* A callee and a second caller that adds 1 to its result. */
    ".p2align 4\n"
    "smc_callee:\n\t"
    "movl $0x100, %eax\n\t"
    "ret\n"
    ".p2align 4\n"
    "smc_other_callee:\n\t"
    "movl $0x200, %eax\n\t"
    "ret\n"
    ".p2align 4\n"
    "smc_caller:\n\t"
    "call smc_callee\n"
    "smc_caller_call_end:\n\t"
    "incl %eax\n\t"
    "ret\n"
    /* A MOV EAX, imm32 whose last two immediate bytes are on the next
     * page: patching only those must still be seen. */
    ".balign 4096\n"
    ".skip 4096 - 16\n"
    "smc_straddle:\n\t"
    ".skip 13, 0x90\n\t" /* NOPs: the MOV starts at page end - 3 */
    "movl $0x11223344, %eax\n\t"
    "ret\n"
    /* Code that keeps a counter in its own page. */
    ".p2align 4\n"
    "smc_counter_fn:\n\t"
    "incl smc_counter\n\t"
    "movl smc_counter, %eax\n\t"
    "ret\n"
    "smc_counter:\n\t"
    ".long 0\n"
    ".popsection");

uint32_t smc_mov(void);
uint32_t smc_next_imm(void);
uint32_t smc_next_opcode(void);
uint32_t smc_loop_sum(void);
uint32_t smc_movsb_next(void);
uint32_t smc_callee(void);
uint32_t smc_other_callee(void);
uint32_t smc_caller(void);
uint32_t smc_straddle(void);
uint32_t smc_counter_fn(void);
extern char smc_caller_call_end[];

/* Calls an asm function with ECX (and EDX) set; the callee may use both. */
static uint32_t call_with_ecx(uint32_t (*fn)(void), uint32_t ecx, uint32_t edx) {
  uint32_t eax;
  __asm__ volatile("call *%3" : "=a"(eax), "+c"(ecx), "+d"(edx) : "r"(fn) : "memory", "cc");
  return eax;
}

static void patch32(void *at, uint32_t value) { *(volatile uint32_t *)at = value; }

static void check_patch_imm(void) {
  check_eq(smc_mov(), 0x11111111, "mov before patching");
  patch32((char *)smc_mov + 1, 0x22222222);
  check_eq(smc_mov(), 0x22222222, "mov after patching");
}

static void check_patch_loop(void) {
  unsigned stale = 0;
  for (uint32_t i = 0; i < 1000; i++) {
    patch32((char *)smc_mov + 1, i * 0x01010101u);
    stale += smc_mov() != i * 0x01010101u;
  }
  check(stale == 0, "%u of 1000 patched calls ran stale code", stale);
}

static void check_same_block(void) {
  const uint32_t values[] = {0x1111, 0x2222, 0xdeadbeef, 0};
  for (unsigned i = 0; i < 4; i++) {
    check_eq(call_with_ecx(smc_next_imm, values[i], 0), values[i], "store into the next imm32");
  }
  check_eq(call_with_ecx(smc_loop_sum, 1000, 0), 500500, "loop storing into its own body");
  check_eq(call_with_ecx(smc_next_opcode, 0x48, 0), 99, "store makes the next opcode DEC");
  check_eq(call_with_ecx(smc_next_opcode, 0x40, 0), 101, "store makes the next opcode INC");
  check_eq(call_with_ecx(smc_next_opcode, 0x48, 0), 99, "and DEC again");
}

static void check_string_patch(void) {
  static const uint8_t imm_a[4] = {0x78, 0x56, 0x34, 0x12};
  static const uint8_t imm_b[4] = {0xef, 0xbe, 0xad, 0xde};
  check_eq(call_with_ecx(smc_movsb_next, 0, (uint32_t)imm_a), 0x12345678,
           "rep movsb into the next instruction");
  check_eq(call_with_ecx(smc_movsb_next, 0, (uint32_t)imm_b), 0xdeadbeef,
           "rep movsb into the next instruction, again");

  /* REP MOVSB of a whole new body (MOV EAX, imm32; RET) over smc_mov. */
  static const uint8_t body[6] = {0xb8, 0x0d, 0xf0, 0xad, 0x0b, 0xc3};
  smc_mov();
  const uint8_t *src = body;
  void *dst = (void *)smc_mov;
  uint32_t count = sizeof body;
  __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(count) : : "memory");
  check_eq(smc_mov(), 0x0badf00d, "rep movsb of a new body");

  /* REP STOSB over the immediate. */
  void *imm = (char *)smc_mov + 1;
  count = 4;
  __asm__ volatile("rep stosb" : "+D"(imm), "+c"(count) : "a"(0x5a) : "memory");
  check_eq(smc_mov(), 0x5a5a5a5a, "rep stosb over the immediate");
}

/* The rel32 of smc_caller's CALL: the 4 bytes before the label after it. */
static void *caller_rel32(void) { return (void *)((uint32_t)smc_caller_call_end - 4); }

static void check_callers(void) {
  check_eq(smc_callee(), 0x100, "callee direct");
  check_eq(smc_caller(), 0x101, "callee through the second site");
  patch32((char *)smc_callee + 1, 0x300);
  check_eq(smc_caller(), 0x301, "patched callee through the second site");
  check_eq(smc_callee(), 0x300, "patched callee direct");
  /* Repoint the CALL rel32 in smc_caller at the other callee. */
  patch32(caller_rel32(), (uint32_t)smc_other_callee - (uint32_t)smc_caller_call_end);
  check_eq(smc_caller(), 0x201, "call repointed to another function");
  patch32(caller_rel32(), (uint32_t)smc_callee - (uint32_t)smc_caller_call_end);
  check_eq(smc_caller(), 0x301, "call pointed back");
}

static void check_page_straddle(void) {
  char *mov = (char *)smc_straddle + 13;
  check(((uint32_t)mov & 0xfff) == 0xffd, "MOV at page offset 0x%x, want 0xffd",
        (uint32_t)mov & 0xfff);
  check_eq(smc_straddle(), 0x11223344, "straddling mov before patching");
  /* Bytes 3 and 4 of the MOV are the top half of the immediate, on the
   * next page. */
  *(volatile uint16_t *)(mov + 3) = 0xaabb;
  check_eq(smc_straddle(), 0xaabb3344, "straddling mov patched on its second page");
}

static void check_code_page_data(void) {
  uint32_t last = 0;
  unsigned wrong = 0;
  for (uint32_t i = 1; i <= 1000; i++) {
    last = smc_counter_fn();
    wrong += last != i;
  }
  check(wrong == 0 && last == 1000, "counter in a code page: %u wrong, last %u", wrong, last);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  run_group("patched immediate", check_patch_imm);
  run_group("patch per loop iteration", check_patch_loop);
  run_group("store to the next instruction", check_same_block);
  run_group("rep movsb/stosb patches", check_string_patch);
  run_group("patched callee and call site", check_callers);
  run_group("page-straddling instruction", check_page_straddle);
  run_group("data in a code page", check_code_page_data);
}
