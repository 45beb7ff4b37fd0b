/* cpu guest: shared pieces for the directed instruction checks. Each group
 * (alu.c, shift.c, ...) runs instruction snippets with chosen registers and
 * flags through run_regs() and compares the registers and the *defined*
 * flags with values worked out from the SDM Vol. 2 instruction pages. Flags
 * the SDM calls undefined are masked out: they differ between CPUs.
 *
 * Expected values were checked on an Intel host by building the user-mode
 * groups natively (gcc -m32) against a stub guest.h; the privileged groups
 * (segments, int n, exceptions) are reasoned from the SDM only. */
#pragma once

#include "guest.h"
#include "run_regs.h"

/* EFLAGS bits (SDM Vol. 1 3.4.3, Figure 3-8). */
#define FL_CF 0x0001u
#define FL_FIXED 0x0002u /* bit 1 always reads 1 */
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_ID 0x200000u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_LOGIC (FL_ARITH & ~FL_AF) /* AND/OR/XOR/TEST leave AF undefined */

/* Defines a snippet for run_regs(): `body` is AT&T assembly ending at the
 * snippet's RET, which the macro adds. */
#define SNIPPET(name, body)                                       \
  void name(void);                                                \
  __asm__(".pushsection .text\n\t.p2align 4\n" #name ":\n\t" body \
          "\n\tret\n\t"                                           \
          ".popsection")

/* check_eq for the flags in `mask` only, naming them on a mismatch. */
bool check_flags(uint32_t got, uint32_t want, uint32_t mask, const char *what);

/* check_eq with a "<case>: <field>" label, for table-driven groups. */
bool check_field(const char *name, const char *field, uint32_t got, uint32_t want);

/* One row of a table-driven group: `code` runs with the registers and
 * flags of `in`; then each register in `compare` (REG_* bits) must equal
 * its value in `want`, and the flags in `flag_mask` those of want.eflags.
 * A group's table defines its rows through a macro naming its columns. */
struct reg_case {
  const char *name;
  void (*code)(void);
  struct regs in, want;
  uint8_t compare;
  uint32_t flag_mask; /* 0: flags not compared */
};

#define REG_EAX (1u << 0)
#define REG_ECX (1u << 1)
#define REG_EDX (1u << 2)
#define REG_EBX (1u << 3)

/* Runs `count` rows; a failure names the row and the register. */
void run_reg_cases(const struct reg_case *cases, unsigned count);
#define RUN_REG_CASES(table) run_reg_cases(table, sizeof table / sizeof table[0])

/* True when running on QEMU TCG (CPUID brand "QEMU ..."), which departs
 * from the SDM and from hardware in the way `what` describes; the caller
 * then skips those checks, and a note says so. Elsewhere false. */

/* The groups, one per file, in the order kmain runs them, each through
 * run_group() so that it reports "<group>: ok" or its failures. */
void test_alu(void);
void test_shift(void);
void test_muldiv(void);
void test_bits(void);
void test_cond(void);
void test_string(void);
void test_stack(void);
void test_atomic(void);
void test_misc(void);
void test_bcd(void);
void test_segments(void);
void test_intn(void);
void test_exceptions(void);
void test_segment_limits(void);
