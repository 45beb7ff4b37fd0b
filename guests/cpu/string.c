/* string: MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE, both directions
 * (SDM Vol. 2B "MOVS", "REP/REPE/REPZ/REPNE/REPNZ"). Each iteration moves
 * one element and steps ESI/EDI by its size, up for DF = 0 and down for
 * DF = 1, so an overlapping REP MOVSB copies byte by byte (a fill, not a
 * memmove). CMPS compares [ESI] - [EDI], SCAS AL/EAX - [EDI]; REPE stops on
 * ZF = 0 and REPNE on ZF = 1, after the element that decided it. With
 * ECX = 0 nothing happens at all, flags included. */
#include "cpu.h"

SNIPPET(op_rep_movsb, "rep movsb");
SNIPPET(op_rep_movsl, "rep movsl");
SNIPPET(op_movsw, "movsw");
SNIPPET(op_rep_stosb, "rep stosb");
SNIPPET(op_rep_stosl, "rep stosl");
SNIPPET(op_rep_stosw, "rep stosw");
SNIPPET(op_lodsb, "lodsb");
SNIPPET(op_lodsl2, "lodsl\n\tlodsl");
SNIPPET(op_repe_cmpsb, "repe cmpsb");
SNIPPET(op_repne_cmpsb, "repne cmpsb");
SNIPPET(op_repne_scasb, "repne scasb");
SNIPPET(op_repe_scasl, "repe scasl");

static struct regs run_str(void (*code)(void), const void *src, const void *dst, uint32_t count,
                           uint32_t eax, uint32_t flags) {
  struct regs r = {
      .esi = (uint32_t)src, .edi = (uint32_t)dst, .ecx = count, .eax = eax, .eflags = flags};
  run_regs(&r, code);
  return r;
}

/* ESI, EDI and ECX after the instruction, relative to where they started. */
static void check_ptrs(const char *name, const struct regs *r, const void *src, const void *dst,
                       int32_t src_step, int32_t dst_step, uint32_t ecx) {
  check_field(name, "esi", r->esi, (uint32_t)src + (uint32_t)src_step);
  check_field(name, "edi", r->edi, (uint32_t)dst + (uint32_t)dst_step);
  check_field(name, "ecx", r->ecx, ecx);
}

static void check_moves(void) {
  char buf[16];
  memcpy(buf, "abcdefghijklmno", 16);
  struct regs r = run_str(op_rep_movsb, buf, buf + 1, 7, 0, 0);
  check(memcmp(buf, "aaaaaaaaijklmno", 16) == 0, "rep movsb overlap up: %s", buf);
  check_ptrs("rep movsb overlap up", &r, buf, buf + 1, 7, 7, 0);

  memcpy(buf, "abcdefghijklmno", 16);
  r = run_str(op_rep_movsb, buf + 6, buf + 7, 7, 0, FL_DF);
  check(memcmp(buf, "aabcdefgijklmno", 16) == 0, "rep movsb DF=1 shift: %s", buf);
  check_ptrs("rep movsb DF=1 shift", &r, buf + 6, buf + 7, -7, -7, 0);

  memcpy(buf, "abcdefghijklmno", 16);
  r = run_str(op_rep_movsb, buf + 7, buf + 6, 7, 0, FL_DF);
  check(memcmp(buf, "hhhhhhhhijklmno", 16) == 0, "rep movsb overlap down: %s", buf);

  uint32_t src[4] = {1, 2, 3, 4}, dst[4] = {0};
  r = run_str(op_rep_movsl, &src[3], &dst[3], 4, 0, FL_DF);
  check(memcmp(src, dst, 16) == 0, "rep movsl DF=1 copy");
  check_ptrs("rep movsl DF=1", &r, &src[3], &dst[3], -16, -16, 0);

  uint16_t w[2] = {0x1234, 0};
  r = run_str(op_movsw, &w[0], &w[1], 99, 0, 0);
  check_eq(w[1], 0x1234, "movsw");
  check_ptrs("movsw", &r, &w[0], &w[1], 2, 2, 99);

  /* A copy across a page boundary, large enough for any fast path. */
  static uint8_t big_src[5000], big_dst[5000];
  for (unsigned i = 0; i < sizeof big_src; i++) big_src[i] = (uint8_t)(i * 7 + 1);
  r = run_str(op_rep_movsb, big_src, big_dst + 1, 4999, 0, 0);
  check(memcmp(big_src, big_dst + 1, 4999) == 0, "rep movsb 4999 bytes");
  check_ptrs("rep movsb 4999", &r, big_src, big_dst + 1, 4999, 4999, 0);

  r = run_str(op_rep_movsb, buf, buf + 8, 0, 0, FL_ZF | FL_CF);
  check_ptrs("rep movsb ecx=0", &r, buf, buf + 8, 0, 0, 0);
}

static void check_stores_loads(void) {
  uint32_t d[4] = {0};
  struct regs r = run_str(op_rep_stosl, 0, d, 3, 0xa5a5a5a5, 0);
  check(d[0] == 0xa5a5a5a5 && d[2] == 0xa5a5a5a5 && d[3] == 0, "rep stosl");
  check_ptrs("rep stosl", &r, 0, d, 0, 12, 0);

  uint8_t b[8] = {0};
  r = run_str(op_rep_stosb, 0, &b[6], 3, 0x11223377, FL_DF);
  check(b[3] == 0 && b[4] == 0x77 && b[6] == 0x77 && b[7] == 0, "rep stosb DF=1");
  check_ptrs("rep stosb DF=1", &r, 0, &b[6], 0, -3, 0);

  uint16_t w[4] = {0};
  r = run_str(op_rep_stosw, 0, w, 2, 0xbeef, 0);
  check(w[0] == 0xbeef && w[1] == 0xbeef && w[2] == 0, "rep stosw");

  const uint8_t bytes[2] = {0x9c, 0x42};
  r = run_str(op_lodsb, &bytes[1], 0, 5, 0x12345678, FL_DF);
  check_eq(r.eax, 0x12345642, "lodsb keeps EAX[31:8]");
  check_ptrs("lodsb DF=1", &r, &bytes[1], 0, -1, 0, 5);

  const uint32_t dw[2] = {0x11111111, 0x22222222};
  r = run_str(op_lodsl2, dw, 0, 0, 0, 0);
  check_eq(r.eax, 0x22222222, "lodsl twice");
  check_ptrs("lodsl twice", &r, dw, 0, 8, 0, 0);
}

static void check_compares(void) {
  const char *a = "hello world", *b = "hello there";
  /* REPE stops after the 7th byte: 'w' (0x77) - 't' (0x74) = 3 (PF: two bits). */
  struct regs r = run_str(op_repe_cmpsb, a, b, 11, 0, FL_ZF);
  check_ptrs("repe cmpsb", &r, a, b, 7, 7, 4);
  check_flags(r.eflags, FL_PF, FL_ARITH, "repe cmpsb 'w'-'t'");

  r = run_str(op_repe_cmpsb, a, a, 5, 0, 0);
  check_ptrs("repe cmpsb all equal", &r, a, a, 5, 5, 0);
  check_flags(r.eflags, FL_ZF | FL_PF, FL_ARITH, "repe cmpsb all equal");

  /* REPNE stops at the first equal pair: index 3 ('d' == 'd'). */
  r = run_str(op_repne_cmpsb, "abcdef", "xyzdqq", 6, 0, 0);
  check_field("repne cmpsb", "ecx", r.ecx, 2);
  check_flags(r.eflags, FL_ZF | FL_PF, FL_ARITH, "repne cmpsb");

  /* The strlen idiom: REPNE SCASB for AL = 0 with ECX = -1. */
  const char *s = "abc";
  r = run_str(op_repne_scasb, 0, s, 0xffffffff, 0, 0);
  check_ptrs("repne scasb strlen", &r, 0, s, 0, 4, 0xfffffffb);
  check_flags(r.eflags, FL_ZF | FL_PF, FL_ARITH, "repne scasb strlen");

  /* 0x80 - 0x81 (last byte compared) = 0xff: CF, SF, AF, PF. */
  const uint8_t u[3] = {0x81, 0x80, 0x80};
  r = run_str(op_repne_scasb, 0, u, 1, 0x80, FL_ZF);
  check_flags(r.eflags, 0x95, FL_ARITH, "repne scasb one mismatch");

  /* REPE SCASL downwards over {7, 7, 5}: stops at the 5; 7 - 5 = 2. */
  const uint32_t v[3] = {5, 7, 7};
  r = run_str(op_repe_scasl, 0, &v[2], 3, 7, FL_DF);
  check_ptrs("repe scasl DF=1", &r, 0, &v[2], 0, -12, 0);
  check_flags(r.eflags, 0, FL_ARITH, "repe scasl DF=1");

  r = run_str(op_repe_cmpsb, a, b, 0, 0, FL_CF | FL_SF);
  check_ptrs("repe cmpsb ecx=0", &r, a, b, 0, 0, 0);
  check_flags(r.eflags, FL_CF | FL_SF, FL_ARITH, "repe cmpsb ecx=0 keeps flags");
}

void test_string(void) {
  check_moves();
  check_stores_loads();
  check_compares();
}
