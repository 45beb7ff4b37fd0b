/* MMX and SSE/SSE2 checks (SDM Vol. 1 chapters 9-11; Vol. 2 instruction
 * pages). MMX: wrapping and saturating adds, multiplies, shifts past the
 * width, and the x87 aliasing (an MMX write makes TOP 0 and every tag
 * valid; EMMS empties them). SSE: packed and scalar arithmetic with the
 * MXCSR flags they raise, conversions with the integer indefinite,
 * rounding control, NaN operand order for MAXPS, shuffles, unaligned
 * moves, byte compares and masks. Nothing else in the guest touches MMX or
 * XMM registers (it is built with -mno-mmx -mno-sse), so the asm does not
 * list them as clobbered. */
#include "fpu.h"

struct vec {
  uint32_t d[4];
};

/* XMM0 = a, XMM1 = b, then `insn` (AT&T: source first), XMM0 stored. */
#define SSE_OP(name, insn)                                              \
  static struct vec name(struct vec a, struct vec b, uint32_t *mxcsr) { \
    struct vec r;                                                       \
    __asm__ volatile(                                                   \
        "ldmxcsr %[mx]\n\tmovdqu %[a], %%xmm0\n\t"                      \
        "movdqu %[b], %%xmm1\n\t" insn                                  \
        "\n\t"                                                          \
        "movdqu %%xmm0, %[r]\n\tstmxcsr %[mx]"                          \
        : [r] "=m"(r), [mx] "+m"(*mxcsr)                                \
        : [a] "m"(a), [b] "m"(b));                                      \
    return r;                                                           \
  }

SSE_OP(sse_addps, "addps %%xmm1, %%xmm0")
SSE_OP(sse_divps, "divps %%xmm1, %%xmm0")
SSE_OP(sse_maxps, "maxps %%xmm1, %%xmm0")
SSE_OP(sse_mulpd, "mulpd %%xmm1, %%xmm0")
SSE_OP(sse_sqrtsd, "sqrtsd %%xmm1, %%xmm0")
SSE_OP(sse_cvtsd2ss, "cvtsd2ss %%xmm1, %%xmm0")
SSE_OP(sse_pshufd, "pshufd $0x1b, %%xmm1, %%xmm0")
SSE_OP(sse_pcmpeqb, "pcmpeqb %%xmm1, %%xmm0")
SSE_OP(sse_xorpd, "xorpd %%xmm1, %%xmm0")
SSE_OP(sse_paddq, "paddq %%xmm1, %%xmm0")
SSE_OP(sse_punpcklbw, "punpcklbw %%xmm1, %%xmm0")

#define F_1 0x3f800000u
#define F_2 0x40000000u
#define F_QNAN 0x7fc00000u
#define MX (MXCSR_DEFAULT)

/* Doubles as two little-endian dwords. */
#define DV(hi, lo) (uint32_t)(lo), (uint32_t)(hi)

/* clang-format off */
static const struct {
  const char *name;
  struct vec (*op)(struct vec, struct vec, uint32_t *);
  struct vec a, b, want;
  uint32_t mxcsr_in, mxcsr_out;
} sse_cases[] = {
    /* {1,2,3,4} + {0.5,0.25,-3,1e30}: 4 + 1e30 rounds to 1e30. */
    {"addps", sse_addps, {{F_1, F_2, 0x40400000, 0x40800000}},
     {{0x3f000000, 0x3e800000, 0xc0400000, 0x7149f2ca}},
     {{0x3fc00000, 0x40100000, 0x00000000, 0x7149f2ca}}, MX, MX | MXCSR_PE},
    /* 1/0 = inf (ZE), 0/0 = default NaN (IE), 1/3 inexact, 2/2 exact. */
    {"divps", sse_divps, {{F_1, 0, F_1, F_2}}, {{0, 0, 0x40400000, F_2}},
     {{0x7f800000, 0xffc00000, 0x3eaaaaab, F_1}}, MX, MX | MXCSR_ZE | MXCSR_IE | MXCSR_PE},
    {"divps up", sse_divps, {{F_1, F_1, F_1, F_1}}, {{0x40400000, 0xc0400000, F_1, F_2}},
     {{0x3eaaaaab, 0xbeaaaaaa, F_1, 0x3f000000}}, MX | MXCSR_RC_UP,
     MX | MXCSR_RC_UP | MXCSR_PE},
    /* A NaN in either operand returns the second (source) operand; even a
     * QNaN signals invalid for MAXPS. */
    {"maxps nan", sse_maxps, {{F_QNAN, F_1, F_2, 0x80000000}}, {{F_1, F_QNAN, F_1, 0}},
     {{F_1, F_QNAN, F_2, 0}}, MX, MX | MXCSR_IE},
    /* {1.5, -2} * {2, 0.1} = {3, -0.2} */
    {"mulpd", sse_mulpd, {{DV(0x3ff80000, 0), DV(0xc0000000, 0)}},
     {{DV(0x40000000, 0), DV(0x3fb99999, 0x9999999a)}},
     {{DV(0x40080000, 0), DV(0xbfc99999, 0x9999999a)}}, MX, MX},
    /* sqrt(2) into the low half; the high half of the destination stays. */
    {"sqrtsd", sse_sqrtsd, {{0, 0, 0x11111111, 0x22222222}}, {{DV(0x40000000, 0), 5, 6}},
     {{DV(0x3ff6a09e, 0x667f3bcd), 0x11111111, 0x22222222}}, MX, MX | MXCSR_PE},
    {"cvtsd2ss 0.1", sse_cvtsd2ss, {{0, 7, 8, 9}}, {{DV(0x3fb99999, 0x9999999a), 0, 0}},
     {{0x3dcccccd, 7, 8, 9}}, MX, MX | MXCSR_PE},
    {"pshufd 1b", sse_pshufd, {{0, 0, 0, 0}}, {{0x00000000, 0x11111111, 0x22222222, 0x33333333}},
     {{0x33333333, 0x22222222, 0x11111111, 0x00000000}}, MX, MX},
    {"pcmpeqb", sse_pcmpeqb, {{0x04030201, 0x08070605, 0x0c0b0a09, 0x100f0e0d}},
     {{0x04ff0201, 0x08070600, 0xffffffff, 0x100f0e0d}},
     {{0xff00ffff, 0xffffff00, 0x00000000, 0xffffffff}}, MX, MX},
    {"xorpd sign", sse_xorpd, {{DV(0x3ff00000, 0), DV(0xc0000000, 0)}},
     {{DV(0x80000000, 0), DV(0x80000000, 0)}}, {{DV(0xbff00000, 0), DV(0x40000000, 0)}}, MX, MX},
    {"paddq carry", sse_paddq, {{0xffffffff, 0x7fffffff, 0xffffffff, 0xffffffff}},
     {{1, 0, 1, 0}}, {{0, 0x80000000, 0, 0}}, MX, MX},
    {"punpcklbw", sse_punpcklbw, {{0x03020100, 0x07060504, 0, 0}},
     {{0x13121110, 0x17161514, 0, 0}}, {{0x11011000, 0x13031202, 0x15051404, 0x17071606}}, MX, MX},
};
/* clang-format on */

static void check_sse_ops(void) {
  for (unsigned i = 0; i < sizeof sse_cases / sizeof sse_cases[0]; i++) {
    uint32_t mxcsr = sse_cases[i].mxcsr_in;
    struct vec r = sse_cases[i].op(sse_cases[i].a, sse_cases[i].b, &mxcsr);
    const uint32_t *w = sse_cases[i].want.d;
    check(memcmp(&r, &sse_cases[i].want, sizeof r) == 0,
          "%s: %08x %08x %08x %08x want %08x %08x %08x %08x", sse_cases[i].name, r.d[0], r.d[1],
          r.d[2], r.d[3], w[0], w[1], w[2], w[3]);
    check(mxcsr == sse_cases[i].mxcsr_out, "%s: mxcsr %04x want %04x", sse_cases[i].name, mxcsr,
          sse_cases[i].mxcsr_out);
  }
}

/* Conversions between doubles and integers, MXCSR-rounded or truncating. */
static void check_sse_convert(void) {
  const uint64_t m2p7 = 0xc00599999999999aull, two_p5 = 0x4004000000000000ull;
  const uint64_t e10 = 0x4202a05f20000000ull; /* 1e10 */
  const uint32_t nearest = MX, up = MX | MXCSR_RC_UP;
  int32_t t1, t2, r1, r2;
  uint32_t mx1 = MX, mx2 = MX;
  struct vec d = {{0, 0, 0xaaaaaaaa, 0xbbbbbbbb}};
  __asm__ volatile(
      "ldmxcsr %[near]\n\t"
      "cvttsd2si %[m2p7], %[t1]\n\t"
      "cvtsd2si %[two_p5], %[r1]\n\t"
      "ldmxcsr %[up]\n\t"
      "cvtsd2si %[two_p5], %[r2]\n\t"
      "ldmxcsr %[near]\n\t"
      "movdqu %[d], %%xmm2\n\t"
      "cvtsi2sd %[minus7], %%xmm2\n\t"
      "movdqu %%xmm2, %[d]\n\t"
      "stmxcsr %[mx1]\n\t"
      "cvttsd2si %[e10], %[t2]\n\t"
      "stmxcsr %[mx2]"
      : [t1] "=&r"(t1), [t2] "=&r"(t2), [r1] "=&r"(r1), [r2] "=&r"(r2), [d] "+m"(d),
        [mx1] "=m"(mx1), [mx2] "=m"(mx2)
      : [m2p7] "m"(m2p7), [two_p5] "m"(two_p5), [e10] "m"(e10), [near] "m"(nearest), [up] "m"(up),
        [minus7] "r"(-7));
  check_eq((uint32_t)t1, (uint32_t)-2, "cvttsd2si -2.7");
  check_eq((uint32_t)r1, 2, "cvtsd2si 2.5 nearest");
  check_eq((uint32_t)r2, 3, "cvtsd2si 2.5 up");
  check(d.d[0] == 0 && d.d[1] == 0xc01c0000 && d.d[2] == 0xaaaaaaaa, "cvtsi2sd -7: %08x%08x",
        d.d[1], d.d[0]);
  check_eq((uint32_t)t2, 0x80000000, "cvttsd2si 1e10: integer indefinite");
  check_eq(mx2 & 0x3f, (mx1 & 0x3f) | MXCSR_IE, "cvttsd2si 1e10 raises IE");
}

/* UCOMISD sets ZF PF CF like FUCOMI and clears OF SF AF. */
static uint32_t ucomisd(uint64_t a, uint64_t b) {
  uint32_t flags, in = 0x890;
  __asm__ volatile(
      "movq %[a], %%xmm0\n\tpushl %[in]\n\tpopfl\n\t"
      "ucomisd %[b], %%xmm0\n\tpushfl\n\tpopl %[f]"
      : [f] "=r"(flags)
      : [a] "m"(a), [b] "m"(b), [in] "r"(in)
      : "cc");
  return flags & 0x8d5;
}

/* MOVDQU at odd addresses, PCMPEQB then PMOVMSKB for a byte mask. */
static void check_sse_moves(void) {
  static uint8_t src[40], dst[40];
  for (unsigned i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 3);
  uint32_t mask;
  __asm__ volatile(
      "movdqu %[s], %%xmm3\n\t"
      "movdqu %%xmm3, %[d]\n\t"
      "movdqu %[s2], %%xmm4\n\t" /* PCMPEQB m128 must be aligned */
      "pcmpeqb %%xmm4, %%xmm3\n\t"
      "pmovmskb %%xmm3, %[m]"
      : [d] "=m"(*(struct vec *)(dst + 3)), [m] "=r"(mask)
      : [s] "m"(*(const struct vec *)(src + 1)), [s2] "m"(*(const struct vec *)(src + 17)));
  check(memcmp(dst + 3, src + 1, 16) == 0 && dst[2] == 0 && dst[19] == 0, "movdqu unaligned");
  check_eq(mask, 0, "pmovmskb none equal");
  /* The PCMPEQB result from the table: bytes 0, 1, 3, 5-7, 12-15 set. */
  const struct vec bytes = {{0xff00ffff, 0xffffff00, 0x00000000, 0xffffffff}};
  __asm__ volatile("movdqu %[s], %%xmm3\n\tpmovmskb %%xmm3, %[m]"
                   : [m] "=r"(mask)
                   : [s] "m"(bytes));
  check_eq(mask, 0xf0eb, "pmovmskb");
  check_eq(ucomisd(0x3ff0000000000000ull, 0x4000000000000000ull), 0x01, "ucomisd 1 < 2");
  check_eq(ucomisd(0x4000000000000000ull, 0x4000000000000000ull), 0x40, "ucomisd 2 == 2");
  check_eq(ucomisd(0x7ff8000000000000ull, 0x4000000000000000ull), 0x45, "ucomisd nan");
}

void test_sse(void) {
  unsigned before = check_failures();
  check_sse_ops();
  check_sse_convert();
  check_sse_moves();
  group_done("sse", before);
}

/* MMX: one binary op on two quadwords. */
#define MMX_OP(name, insn)                                           \
  static uint64_t name(uint64_t a, uint64_t b) {                     \
    __asm__ volatile("movq %[a], %%mm0\n\tmovq %[b], %%mm1\n\t" insn \
                     "\n\t"                                          \
                     "movq %%mm0, %[a]\n\temms"                      \
                     : [a] "+m"(a)                                   \
                     : [b] "m"(b));                                  \
    return a;                                                        \
  }

MMX_OP(mmx_paddb, "paddb %%mm1, %%mm0")
MMX_OP(mmx_paddusb, "paddusb %%mm1, %%mm0")
MMX_OP(mmx_paddsw, "paddsw %%mm1, %%mm0")
MMX_OP(mmx_pmullw, "pmullw %%mm1, %%mm0")
MMX_OP(mmx_pmulhw, "pmulhw %%mm1, %%mm0")
MMX_OP(mmx_psrlq, "psrlq %%mm1, %%mm0")
MMX_OP(mmx_psraw, "psraw %%mm1, %%mm0")
MMX_OP(mmx_psrlq4, "psrlq $4, %%mm0")
MMX_OP(mmx_packsswb, "packsswb %%mm1, %%mm0")

static const struct {
  const char *name;
  uint64_t (*op)(uint64_t, uint64_t);
  uint64_t a, b, want;
} mmx_cases[] = {
    {"paddb wraps", mmx_paddb, 0x7fff0180fe7f0001ull, 0x0101ff8002810001ull, 0x8000000000000002ull},
    {"paddusb saturates", mmx_paddusb, 0x7fff0180fe7f0001ull, 0x0101ff8002810001ull,
     0x80ffffffffff0002ull},
    {"paddsw saturates", mmx_paddsw, 0x7fff800000011234ull, 0x0001ffff7fff0001ull,
     0x7fff80007fff1235ull},
    {"pmullw", mmx_pmullw, 0x1234ffff80000003ull, 0x0010ffff00027fffull, 0x2340000100007ffdull},
    {"pmulhw", mmx_pmulhw, 0x1234ffff80000003ull, 0x0010ffff00027fffull, 0x00010000ffff0001ull},
    {"psrlq 4", mmx_psrlq4, 0x123456789abcdef0ull, 0, 0x0123456789abcdefull},
    {"psrlq 63", mmx_psrlq, 0x8000000000000000ull, 63, 1},
    {"psrlq 64", mmx_psrlq, 0xffffffffffffffffull, 64, 0},
    {"psraw 99", mmx_psraw, 0x80007fff0001ffffull, 99, 0xffff00000000ffffull},
    {"packsswb", mmx_packsswb, 0x0080ff7f0001ff00ull, 0x7fff8000fffe0005ull, 0x7f80fe057f800180ull},
};

void test_mmx(void) {
  unsigned before = check_failures();
  for (unsigned i = 0; i < sizeof mmx_cases / sizeof mmx_cases[0]; i++) {
    uint64_t got = mmx_cases[i].op(mmx_cases[i].a, mmx_cases[i].b);
    check(got == mmx_cases[i].want, "%s: %016llx want %016llx", mmx_cases[i].name,
          (unsigned long long)got, (unsigned long long)mmx_cases[i].want);
  }
  /* An MMX write sets TOP = 0, tags all valid and the aliased register's
   * exponent bits to all ones (SDM Vol. 1 9.5.1); EMMS empties the tags. */
  struct {
    uint32_t fcw, fsw, ftw, rest[4];
  } env_mmx, env_emms;
  uint8_t image[108]; /* FNSAVE, 32-bit protected mode layout */
  const uint64_t q = 0x0123456789abcdefull;
  __asm__ volatile(
      "fninit\n\tfld1\n\tmovq %[q], %%mm0\n\tfnstenv %[e1]\n\t"
      "fnsave %[img]\n\tfrstor %[img]\n\t"
      "emms\n\tfnstenv %[e2]"
      : [e1] "=m"(env_mmx), [e2] "=m"(env_emms), [img] "+m"(image)
      : [q] "m"(q));
  struct f80 st0;
  memcpy(&st0, image + 28, sizeof st0); /* ST0 = R0 now that TOP = 0 */
  check_eq(env_mmx.fsw & 0x3800, 0, "TOP after an MMX write");
  /* FNSTENV reports each non-empty register's class from its contents:
   * R0 (MM0, exponent all ones) is special (10); R1-R6 hold whatever they
   * held, so only "not empty" (11) is checked for them. */
  unsigned empty = 0;
  for (unsigned r = 0; r < 8; r++) empty += ((env_mmx.ftw >> (2 * r)) & 3) == 3;
  check_eq(empty, 0, "empty tags after an MMX write");
  check_eq(env_mmx.ftw & 3, 2, "tag of R0 after an MMX write");
  if (qemu_deviation(
          "an MMX write sets the aliased x87 exponent to all ones (QEMU 7.2 does not)")) {
    st0.sign_exp = 0xffff;
  }
  check_f80(st0, q, 0xffff, "ST0 aliasing MM0");
  check_eq(env_emms.ftw & 0xffff, 0xffff, "tags after EMMS");
  group_done("mmx", before);
}
