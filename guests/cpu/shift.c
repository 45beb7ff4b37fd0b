/* shift: SHL/SHR/SAR, ROL/ROR, RCL/RCR and SHLD/SHRD by 0, 1, 31 and 32
 * (SDM Vol. 2B, "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 * The count is masked to 5 bits, so 32 acts as 0: result and all flags
 * unchanged. With a count of 1, OF is defined (SHL: MSB(result) ^ CF; SHR:
 * MSB of the source; SAR: 0; rotates and double shifts: sign change);
 * otherwise OF is undefined and masked out, as is AF for shifts. Rotates
 * touch only CF and OF: SF, ZF, AF and PF must survive. */
#include "cpu.h"

SNIPPET(op_shl, "shll %cl, %eax");
SNIPPET(op_shr, "shrl %cl, %eax");
SNIPPET(op_sar, "sarl %cl, %eax");
SNIPPET(op_rol, "roll %cl, %eax");
SNIPPET(op_ror, "rorl %cl, %eax");
SNIPPET(op_rcl, "rcll %cl, %eax");
SNIPPET(op_rcr, "rcrl %cl, %eax");
SNIPPET(op_shld, "shldl %cl, %ebx, %eax");
SNIPPET(op_shrd, "shrdl %cl, %ebx, %eax");
SNIPPET(op_shld_imm4, "shldl $4, %ebx, %eax");
SNIPPET(op_shl_d1, ".byte 0xd1, 0xe0");          /* shl eax, 1 */
SNIPPET(op_shl_imm0, ".byte 0xc1, 0xe0, 0x00");  /* shl eax, 0 */
SNIPPET(op_shl_imm32, ".byte 0xc1, 0xe0, 0x20"); /* shl eax, 32 */
SNIPPET(op_sar_imm31, "sarl $31, %eax");
SNIPPET(op_rolb, "rolb %cl, %al");
SNIPPET(op_rclb, "rclb %cl, %al");
SNIPPET(op_shlb, "shlb %cl, %al");
SNIPPET(op_sarb, "sarb %cl, %al");
SNIPPET(op_rcrw, "rcrw %cl, %ax");

#define SHIFT_DEF (FL_CF | FL_SF | FL_ZF | FL_PF) /* OF undefined, AF too */
#define SHIFT_DEF1 (SHIFT_DEF | FL_OF)            /* count 1: OF defined */
#define ROT_DEF (FL_ARITH & ~FL_OF)               /* CF set, SZAP preserved */

/* EAX, EBX, ECX (the count) and EFLAGS before; EAX and EFLAGS after, ECX
 * unchanged; the defined flags. */
#define SHIFT(label, fn, a, b, count, flags_in, result, flags, mask)                         \
  {                                                                                          \
    .name = label, .code = fn, .in = {.eax = a, .ebx = b, .ecx = count, .eflags = flags_in}, \
    .want = {.eax = result, .ecx = count, .eflags = flags}, .compare = REG_EAX | REG_ECX,    \
    .flag_mask = mask                                                                        \
  }

static const struct reg_case shift_cases[] = {
    /* A masked count of 0 changes nothing, flags included. */
    SHIFT("shl cl=0", op_shl, 0x12345678, 0, 0, FL_ARITH, 0x12345678, FL_ARITH, FL_ARITH),
    SHIFT("shl cl=32", op_shl, 0x12345678, 0, 32, FL_ARITH, 0x12345678, FL_ARITH, FL_ARITH),
    SHIFT("shl cl=32 clear", op_shl, 0x80000001, 0, 32, 0, 0x80000001, 0, FL_ARITH),
    SHIFT("shr cl=32", op_shr, 0x80000001, 0, 32, FL_ZF | FL_CF, 0x80000001, FL_ZF | FL_CF,
          FL_ARITH),
    SHIFT("sar cl=32", op_sar, 0x7fffffff, 0, 32, FL_OF | FL_PF, 0x7fffffff, FL_OF | FL_PF,
          FL_ARITH),
    SHIFT("shl imm 0", op_shl_imm0, 0xffffffff, 0, 0, FL_ZF, 0xffffffff, FL_ZF, FL_ARITH),
    SHIFT("shl imm 32", op_shl_imm32, 0xffffffff, 0, 0, FL_CF | FL_OF, 0xffffffff, FL_CF | FL_OF,
          FL_ARITH),
    /* Count 1: CF is the bit shifted out; OF per instruction. */
    SHIFT("shl 80000001,1", op_shl, 0x80000001, 0, 1, 0, 0x00000002, 0x801, SHIFT_DEF1),
    SHIFT("shl 40000000,1", op_shl, 0x40000000, 0, 1, FL_CF, 0x80000000, 0x884, SHIFT_DEF1),
    SHIFT("shl d1 80000001", op_shl_d1, 0x80000001, 0, 0, 0, 0x00000002, 0x801, SHIFT_DEF1),
    SHIFT("shl cl=33", op_shl, 0x40000000, 0, 33, 0, 0x80000000, 0x884, SHIFT_DEF1),
    SHIFT("shr 80000001,1", op_shr, 0x80000001, 0, 1, 0, 0x40000000, 0x805, SHIFT_DEF1),
    SHIFT("sar 80000001,1", op_sar, 0x80000001, 0, 1, FL_OF, 0xc0000000, 0x085, SHIFT_DEF1),
    /* Count 31: the last bit out is bit 1 (SHL) or bit 30 (SHR/SAR). */
    SHIFT("shl 3,31", op_shl, 3, 0, 31, 0, 0x80000000, 0x085, SHIFT_DEF),
    SHIFT("shr 80000000,31", op_shr, 0x80000000, 0, 31, FL_CF, 1, 0x000, SHIFT_DEF),
    SHIFT("shr c0000000,31", op_shr, 0xc0000000, 0, 31, 0, 1, 0x001, SHIFT_DEF),
    SHIFT("sar 80000000,31", op_sar, 0x80000000, 0, 31, 0, 0xffffffff, 0x084, SHIFT_DEF),
    SHIFT("sar imm 31", op_sar_imm31, 0x40000000, 0, 0, 0, 0, 0x045, SHIFT_DEF),
    /* Rotates: CF from the rotated bit; SF/ZF/AF/PF as they were. */
    SHIFT("rol 80000001,1", op_rol, 0x80000001, 0, 1, FL_ZF | FL_PF, 3, 0x845, FL_ARITH),
    SHIFT("rol 12345678,31", op_rol, 0x12345678, 0, 31, FL_SF | FL_AF | FL_CF, 0x091a2b3c, 0x090,
          ROT_DEF),
    SHIFT("rol cl=32", op_rol, 0x12345678, 0, 32, FL_CF | FL_OF, 0x12345678, FL_CF | FL_OF,
          FL_ARITH),
    SHIFT("ror 1,1", op_ror, 1, 0, 1, 0, 0x80000000, 0x801, FL_ARITH),
    SHIFT("ror 3,31", op_ror, 3, 0, 31, FL_CF, 6, 0x000, ROT_DEF),
    SHIFT("rcl 80000000,1 cf1", op_rcl, 0x80000000, 0, 1, FL_CF, 1, 0x801, FL_ARITH),
    SHIFT("rcl 3,31 cf1", op_rcl, 3, 0, 31, FL_CF | FL_ZF, 0xc0000000, 0x041, ROT_DEF),
    SHIFT("rcl cl=32", op_rcl, 0x80000000, 0, 32, 0, 0x80000000, 0, FL_ARITH),
    SHIFT("rcr 1,1 cf0", op_rcr, 1, 0, 1, FL_SF, 0, 0x081, FL_ARITH),
    SHIFT("rcr 80000000,1 cf0", op_rcr, 0x80000000, 0, 1, 0, 0x40000000, 0x800, FL_ARITH),
    SHIFT("rcr 80000001,31 cf0", op_rcr, 0x80000001, 0, 31, FL_PF, 5, 0x004, ROT_DEF),
    /* Narrow rotates: ROL r8 by 8 rotates by 0 yet CF = LSB(result); RCL r8
     * by 9 is a full 9-bit turn that leaves value and CF; RCR r16 by 17 too. */
    SHIFT("rolb 1,8", op_rolb, 0xabcdef01, 0, 8, 0, 0xabcdef01, FL_CF, FL_CF),
    SHIFT("rclb 81,9 cf0", op_rclb, 0x81, 0, 9, 0, 0x81, 0, FL_CF),
    SHIFT("rcrw 8001,17 cf1", op_rcrw, 0x11118001, 0, 17, FL_CF, 0x11118001, FL_CF, FL_CF),
    SHIFT("rclb 81,1 cf0", op_rclb, 0x81, 0, 1, 0, 0x02, 0x801, FL_CF | FL_OF),
    /* Narrow shifts by 8..31 empty the byte; CF is undefined there. */
    SHIFT("shlb 80,10", op_shlb, 0x12345680, 0, 10, 0, 0x12345600, FL_ZF | FL_PF,
          FL_ZF | FL_PF | FL_SF),
    SHIFT("sarb 80,10", op_sarb, 0x12345680, 0, 10, 0, 0x123456ff, FL_SF | FL_PF,
          FL_ZF | FL_PF | FL_SF),
    /* SHLD/SHRD: bits come in from EBX; CF is the last bit out of EAX. */
    SHIFT("shld 80000000,c0000000,1", op_shld, 0x80000000, 0xc0000000, 1, 0, 1, 0x801, SHIFT_DEF1),
    SHIFT("shld 12345678,9abcdef0,4", op_shld, 0x12345678, 0x9abcdef0, 4, 0, 0x23456789, 0x001,
          SHIFT_DEF),
    SHIFT("shld imm4", op_shld_imm4, 0x12345678, 0x9abcdef0, 0, 0, 0x23456789, 0x001, SHIFT_DEF),
    SHIFT("shld 1,fffffffe,31", op_shld, 1, 0xfffffffe, 31, FL_CF, 0xffffffff, 0x084, SHIFT_DEF),
    SHIFT("shld cl=32", op_shld, 0x12345678, 0xffffffff, 32, FL_ZF, 0x12345678, FL_ZF, FL_ARITH),
    SHIFT("shrd 1,1,1", op_shrd, 1, 1, 1, 0, 0x80000000, 0x885, SHIFT_DEF1),
    SHIFT("shrd 12345678,abcdef01,8", op_shrd, 0x12345678, 0xabcdef01, 8, FL_CF, 0x01123456, 0x004,
          SHIFT_DEF),
    SHIFT("shrd cl=32", op_shrd, 0x12345678, 0xffffffff, 32, FL_SF, 0x12345678, FL_SF, FL_ARITH),
};

void test_shift(void) { RUN_REG_CASES(shift_cases); }
