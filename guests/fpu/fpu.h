/* fpu guest: shared declarations. The checks use inline assembly on memory
 * operands only, so they build with the guest's -mno-sse and natively
 * alike; every expected value is a bit pattern (IEEE 754 double or single,
 * x87 80-bit extended as 64-bit significand + 16-bit sign/exponent) that
 * was derived by running the same assembly natively on an Intel host
 * (gcc -m32) and checked against the SDM's rules where they are exact. */
#pragma once

#include "guest.h"

/* The CR0 and CR4 bits that govern the FPU (SDM Vol. 3A 2.5). */
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_NE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)

/* x87 control word (SDM Vol. 1 8.1.5): all exceptions masked (0x3F), bit 6
 * reserved as 1, precision control in bits 8-9, rounding in bits 10-11. */
#define FCW_MASKED 0x007f
#define FCW_PC_SINGLE 0x0000
#define FCW_PC_DOUBLE 0x0200
#define FCW_PC_EXTENDED 0x0300
#define FCW_RC_NEAREST 0x0000
#define FCW_RC_DOWN 0x0400
#define FCW_RC_UP 0x0800
#define FCW_RC_CHOP 0x0c00
#define FCW_DEFAULT 0x037f /* FNINIT */

/* x87 status word exception flags (SDM Vol. 1 8.1.3). */
#define FSW_IE 0x01
#define FSW_ZE 0x04
#define FSW_OE 0x08
#define FSW_UE 0x10
#define FSW_PE 0x20
#define FSW_EXC 0x3f
#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_C3 0x4000
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

/* MXCSR (SDM Vol. 1 10.2.3): exception flags 0-5, masks 7-12, RC 13-14. */
#define MXCSR_DEFAULT 0x1f80
#define MXCSR_IE 0x01
#define MXCSR_ZE 0x04
#define MXCSR_PE 0x20
#define MXCSR_RC_UP 0x4000

/* An x87 register or memory operand in extended format. */
struct f80 {
  uint64_t mant;
  uint16_t sign_exp;
} __attribute__((packed));

bool check_f80(struct f80 got, uint64_t mant, uint16_t sign_exp, const char *what);

/* True when running on QEMU TCG (CPUID brand "QEMU ..."), which departs
 * from the SDM and from hardware in the way `what` describes; the caller
 * then skips that part of a check, and a note says so. Elsewhere false. */

void test_x87_arith(void);
void test_x87_convert(void);
void test_x87_compare(void);
void test_x87_state(void);
void test_mmx(void);
void test_sse(void);
void test_fxsave(void);
