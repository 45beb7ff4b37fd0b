/* bcd: DAA/DAS/AAA/AAS/AAM/AAD and the undocumented SALC (SDM Vol. 2A,
 * each instruction's "Operation"). AAA adds 0x106 to all of AX and AAS
 * subtracts 6 from AX and 1 from AH, so a carry or borrow out of AL reaches
 * AH. Undefined flags are masked: OF for DAA/DAS, all but AF/CF for
 * AAA/AAS, OF/AF/CF for AAM/AAD. SALC sets AL to 0xFF if CF else 0 and
 * touches no flag (AMD, and Intel's opcode map lists D6 as undocumented). */
#include "cpu.h"

SNIPPET(op_daa, "daa");
SNIPPET(op_das, "das");
SNIPPET(op_aaa, "aaa");
SNIPPET(op_aas, "aas");
SNIPPET(op_aam, "aam");
SNIPPET(op_aam16, ".byte 0xd4, 0x10");
SNIPPET(op_aad, "aad");
SNIPPET(op_aad16, ".byte 0xd5, 0x10");
SNIPPET(op_salc, ".byte 0xd6");

#define DAA_DEF (FL_CF | FL_AF | FL_SF | FL_ZF | FL_PF)
#define AAA_DEF (FL_CF | FL_AF)
#define AAM_DEF (FL_SF | FL_ZF | FL_PF)

/* EAX and EFLAGS before; EAX and EFLAGS after; the defined flags. */
#define BCD(label, fn, eax_in, flags_in, eax_out, flags, mask)                       \
  {                                                                                  \
    .name = label, .code = fn, .in = {.eax = eax_in, .eflags = flags_in},            \
    .want = {.eax = eax_out, .eflags = flags}, .compare = REG_EAX, .flag_mask = mask \
  }

static const struct reg_case bcd_cases[] = {
    /* 0x15 + 0x27 = 0x3c: low digit > 9, +6 gives BCD 42. */
    BCD("daa 3c", op_daa, 0x3c, 0, 0x42, FL_AF | FL_PF, DAA_DEF),
    /* Both digits adjust: 0x9a -> 0xa0 -> 0x00 with carry. */
    BCD("daa 9a", op_daa, 0x1234569a, 0, 0x12345600, FL_CF | FL_AF | FL_ZF | FL_PF, DAA_DEF),
    BCD("daa 00 af cf", op_daa, 0x00, FL_AF | FL_CF, 0x66, FL_CF | FL_AF | FL_PF, DAA_DEF),
    BCD("daa 45", op_daa, 0x45, FL_SF | FL_ZF, 0x45, 0, DAA_DEF),
    /* 0x42 - 0x17 = 0x2b with AF: -6 gives BCD 25. */
    BCD("das 2b af", op_das, 0x2b, FL_AF, 0x25, FL_AF, DAA_DEF),
    BCD("das 00 cf", op_das, 0x00, FL_CF, 0xa0, FL_CF | FL_SF | FL_PF, DAA_DEF),
    BCD("das ff", op_das, 0xff, 0, 0x99, FL_CF | FL_AF | FL_SF | FL_PF, DAA_DEF),
    BCD("aaa 05", op_aaa, 0x0005, FL_CF, 0x0005, 0, AAA_DEF),
    BCD("aaa 0b", op_aaa, 0x000b, 0, 0x0101, FL_AF | FL_CF, AAA_DEF),
    BCD("aaa 02 af", op_aaa, 0x0002, FL_AF, 0x0108, FL_AF | FL_CF, AAA_DEF),
    /* AL + 6 carries out of AL: AX + 0x106 = 0x0200. */
    BCD("aaa fa", op_aaa, 0x123400fa, 0, 0x12340200, FL_AF | FL_CF, AAA_DEF),
    BCD("aas 0205", op_aas, 0x0205, FL_CF, 0x0205, 0, AAA_DEF),
    BCD("aas 020b", op_aas, 0x020b, 0, 0x0105, FL_AF | FL_CF, AAA_DEF),
    /* AL - 6 borrows from AH as well as the explicit AH - 1. */
    BCD("aas 0203 af", op_aas, 0x0203, FL_AF, 0x000d, FL_AF | FL_CF, AAA_DEF),
    BCD("aam 63", op_aam, 0x1234003f, 0, 0x12340603, FL_PF, AAM_DEF),
    BCD("aam 0", op_aam, 0x00000000, 0, 0x00000000, FL_ZF | FL_PF, AAM_DEF),
    BCD("aam16 ff", op_aam16, 0x000000ff, 0, 0x00000f0f, FL_PF, AAM_DEF),
    BCD("aad 0603", op_aad, 0x12340603, 0, 0x1234003f, FL_PF, AAM_DEF),
    BCD("aad 1234", op_aad, 0x00001234, 0, 0x000000e8, FL_SF | FL_PF, AAM_DEF),
    BCD("aad16 0102", op_aad16, 0x00000102, FL_ZF, 0x00000012, FL_PF, AAM_DEF),
    BCD("salc cf1", op_salc, 0x12345600, FL_CF | FL_ZF, 0x123456ff, FL_CF | FL_ZF, FL_ARITH),
    BCD("salc cf0", op_salc, 0x123456aa, FL_SF, 0x12345600, FL_SF, FL_ARITH),
};

void test_bcd(void) { RUN_REG_CASES(bcd_cases); }
