/* bits: BT/BTS/BTR/BTC, BSF/BSR and BSWAP (SDM Vol. 2A "BT", "BTS", "BTR",
 * "BTC", "BSF", "BSR", "BSWAP"). BT* set CF to the old bit and leave ZF
 * unaffected (OF/SF/AF/PF undefined). A register bit offset is taken modulo
 * the operand size for a register operand, but for a memory operand it is a
 * signed offset into a bit string that may reach far above or below the
 * address; an immediate offset is always modulo the operand size. BSF/BSR
 * define only ZF, set for a zero source (destination then undefined). */
#include "cpu.h"

#define BT_DEF (FL_CF | FL_ZF)

SNIPPET(op_bt_rr, "btl %ecx, %eax");
SNIPPET(op_bts_rr, "btsl %ecx, %eax");
SNIPPET(op_btr_rr, "btrl %ecx, %eax");
SNIPPET(op_btc_rr, "btcl %ecx, %eax");
SNIPPET(op_bts_ri, "btsl $63, %eax");
SNIPPET(op_bt_mr, "btl %ecx, (%esi)");
SNIPPET(op_bts_mr, "btsl %ecx, (%esi)");
SNIPPET(op_btr_mr, "btrl %ecx, (%esi)");
SNIPPET(op_btc_mr, "btcl %ecx, (%esi)");
SNIPPET(op_btsw_mr, "btsw %cx, (%esi)");
SNIPPET(op_bt_mi, "btl $35, (%esi)");
SNIPPET(op_btc_mi, "btcl $33, (%esi)");

/* EAX, ECX (the bit offset) and EFLAGS before; EAX and EFLAGS after. */
#define BT(label, fn, eax_in, ecx_in, flags_in, eax_out, flags)                          \
  {                                                                                      \
    .name = label, .code = fn, .in = {.eax = eax_in, .ecx = ecx_in, .eflags = flags_in}, \
    .want = {.eax = eax_out, .eflags = flags}, .compare = REG_EAX, .flag_mask = BT_DEF   \
  }

static const struct reg_case bt_reg_cases[] = {
    BT("bt reg 35", op_bt_rr, 0x00000008, 35, FL_ZF, 0x00000008, FL_CF | FL_ZF),
    BT("bt reg 4 clear", op_bt_rr, 0xffffffef, 4, FL_CF, 0xffffffef, 0),
    BT("bts reg 63", op_bts_rr, 0, 63, FL_CF | FL_ZF, 0x80000000, FL_ZF),
    BT("btr reg 0", op_btr_rr, 0xffffffff, 0, 0, 0xfffffffe, FL_CF),
    BT("btc reg 4", op_btc_rr, 0x10, 4, FL_ZF, 0, FL_CF | FL_ZF),
    BT("btc reg 4 again", op_btc_rr, 0, 4, 0, 0x10, 0),
    BT("bts imm 63", op_bts_ri, 0x80000000, 0, 0, 0x80000000, FL_CF),
};

static uint8_t bit_string[64];
#define BIT_BASE (bit_string + 32) /* ESI: offsets may be negative */

static uint32_t run_bt_mem(void (*code)(void), uint32_t offset, uint32_t flags_in) {
  struct regs r = {.ecx = offset, .esi = (uint32_t)BIT_BASE, .eflags = flags_in};
  run_regs(&r, code);
  return r.eflags;
}

static void check_bt_mem(void) {
  /* Offset 100 is bit 4 of byte 12; -1 is bit 7 of the byte below. */
  check_flags(run_bt_mem(op_bts_mr, 100, FL_CF), 0, BT_DEF, "bts mem 100");
  check_eq(BIT_BASE[12], 0x10, "bts mem 100 byte");
  check_flags(run_bt_mem(op_bt_mr, 100, FL_ZF), FL_CF | FL_ZF, BT_DEF, "bt mem 100");
  check_flags(run_bt_mem(op_btc_mr, (uint32_t)-1, 0), 0, BT_DEF, "btc mem -1");
  check_eq(BIT_BASE[-1], 0x80, "btc mem -1 byte");
  check_flags(run_bt_mem(op_btr_mr, (uint32_t)-1, 0), FL_CF, BT_DEF, "btr mem -1");
  check_eq(BIT_BASE[-1], 0, "btr mem -1 byte");
  /* A 16-bit offset is sign-extended from CX: 0xffff is -1 again. */
  check_flags(run_bt_mem(op_btsw_mr, 0x1ffff, 0), 0, BT_DEF, "btsw mem cx=-1");
  check_eq(BIT_BASE[-1], 0x80, "btsw mem cx=-1 byte");
  /* -33 is bit 7 of byte -5: below the dword at -4. */
  check_flags(run_bt_mem(op_bts_mr, (uint32_t)-33, 0), 0, BT_DEF, "bts mem -33");
  check_eq(BIT_BASE[-5], 0x80, "bts mem -33 byte");
  /* Immediate offsets wrap at 32: 35 is bit 3 of the first dword. */
  BIT_BASE[0] = 0x08;
  check_flags(run_bt_mem(op_bt_mi, 0, 0), FL_CF, BT_DEF, "bt mem imm 35");
  check_flags(run_bt_mem(op_btc_mi, 0, FL_CF), 0, BT_DEF, "btc mem imm 33");
  check_eq(BIT_BASE[0], 0x0a, "btc mem imm 33 byte");
  check_eq(BIT_BASE[4], 0, "btc mem imm 33 stays in the dword");
  unsigned set = 0;
  for (unsigned i = 0; i < sizeof bit_string; i++) set += bit_string[i] != 0;
  check_eq(set, 4, "bytes touched by the memory BT* ops");
}

SNIPPET(op_bsf, "bsfl %ebx, %eax");
SNIPPET(op_bsr, "bsrl %ebx, %eax");
SNIPPET(op_bsfw, "bsfw %bx, %ax");
SNIPPET(op_bsrw, "bsrw %bx, %ax");

/* EBX (the source) and EFLAGS before, EAX = 0x12340000; EAX (the index,
 * 16-bit forms keep EAX[31:16]) and ZF after. */
#define BS(label, fn, src, flags_in, index, flags)                                        \
  {                                                                                       \
    .name = label, .code = fn, .in = {.eax = 0x12340000, .ebx = src, .eflags = flags_in}, \
    .want = {.eax = index, .eflags = flags}, .compare = REG_EAX, .flag_mask = FL_ZF       \
  }

static const struct reg_case bs_cases[] = {
    BS("bsf 8000", op_bsf, 0x00008000, FL_ZF, 15, 0),
    BS("bsf 80000000", op_bsf, 0x80000000, FL_ZF, 31, 0),
    BS("bsf ffffffff", op_bsf, 0xffffffff, 0, 0, 0),
    BS("bsr 8001", op_bsr, 0x00008001, FL_ZF, 15, 0),
    BS("bsr 1", op_bsr, 1, 0, 0, 0),
    BS("bsr ffffffff", op_bsr, 0xffffffff, 0, 31, 0),
    BS("bsfw 0100", op_bsfw, 0xffff0100, FL_ZF, 0x12340008, 0),
    BS("bsrw 0101", op_bsrw, 0x00000101, FL_ZF, 0x12340008, 0),
};

static void check_bsf_bsr(void) {
  RUN_REG_CASES(bs_cases);
  /* Zero source: ZF = 1; the destination is undefined, so not checked. */
  struct regs r = {.ebx = 0};
  run_regs(&r, op_bsf);
  check_flags(r.eflags, FL_ZF, FL_ZF, "bsf 0");
  r = (struct regs){.ebx = 0};
  run_regs(&r, op_bsr);
  check_flags(r.eflags, FL_ZF, FL_ZF, "bsr 0");
}

SNIPPET(op_bswap, "bswapl %eax\n\tbswapl %edi");

void test_bits(void) {
  RUN_REG_CASES(bt_reg_cases);
  check_bt_mem();
  check_bsf_bsr();
  struct regs r = {.eax = 0x12345678, .edi = 0x80000001};
  run_regs(&r, op_bswap);
  check_eq(r.eax, 0x78563412, "bswap eax");
  check_eq(r.edi, 0x01000080, "bswap edi");
}
