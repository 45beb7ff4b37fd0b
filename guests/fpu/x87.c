/* x87 checks: arithmetic under every rounding and precision control
 * (SDM Vol. 1 8.1.5.2-3), conversions to and from integers including the
 * integer indefinite on overflow (8.2.1), compares (FCOM, FCOMI, FUCOMI,
 * FXAM: Vol. 2A tables), the constants, FXCH and the tag word. Every case
 * starts from FNINIT, so the state before it does not matter. Exception
 * flags are compared as a set; C1 (round-up indication) is not compared. */
#include "fpu.h"

/* ST0 = a; ST0 op= m64 b; the result is stored as double and extended. */
#define X87_BINOP(name, insn)                                                                  \
  static uint64_t name(uint16_t fcw, uint64_t a, uint64_t b, struct f80 *ext, uint16_t *fsw) { \
    uint64_t r;                                                                                \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[a]\n\t" insn                             \
                     " %[b]\n\t"                                                               \
                     "fld %%st(0)\n\tfstpt %[ext]\n\tfstpl %[r]\n\tfnstsw %[sw]"               \
                     : [r] "=m"(r), [ext] "=m"(*ext), [sw] "=m"(*fsw)                          \
                     : [cw] "m"(fcw), [a] "m"(a), [b] "m"(b));                                 \
    return r;                                                                                  \
  }

X87_BINOP(x87_add, "faddl")
X87_BINOP(x87_sub, "fsubl")
X87_BINOP(x87_mul, "fmull")
X87_BINOP(x87_div, "fdivl")
X87_BINOP(x87_sqrt, "fsqrt\n\tfaddl") /* sqrt(a) + b */

#define D_0 0x0000000000000000ull
#define D_1 0x3ff0000000000000ull
#define D_2 0x4000000000000000ull
#define D_3 0x4008000000000000ull
#define D_M1 0xbff0000000000000ull
#define D_1P5 0x3ff8000000000000ull
#define D_2P5 0x4004000000000000ull
#define D_1E308 0x7fe1ccf385ebc8a0ull
#define D_10 0x4024000000000000ull
#define D_1EM300 0x01a56e1fc2f8f359ull
#define D_1EM10 0x3ddb7cdfd9d7bdbbull
#define D_0P1 0x3fb999999999999aull
#define D_INF 0x7ff0000000000000ull
#define D_INDEFINITE 0xfff8000000000000ull /* the default QNaN */

#define PC53 (FCW_MASKED | FCW_PC_DOUBLE)
#define PC64 (FCW_MASKED | FCW_PC_EXTENDED)

struct arith_case {
  const char *name;
  uint64_t (*op)(uint16_t, uint64_t, uint64_t, struct f80 *, uint16_t *);
  uint16_t fcw;
  uint64_t a, b, want;   /* doubles */
  uint64_t ext_mant;     /* ST0 before the double store */
  uint16_t ext_exp, exc; /* its sign/exponent; FSW exception flags */
};

static const struct arith_case arith_cases[] = {
    {"1+2", x87_add, FCW_DEFAULT, D_1, D_2, D_3, 0xc000000000000000ull, 0x4000, 0},
    {"1.5*2.5", x87_mul, FCW_DEFAULT, D_1P5, D_2P5, 0x400e000000000000ull, 0xf000000000000000ull,
     0x4000, 0},
    {"1-1 nearest", x87_sub, FCW_DEFAULT, D_1, D_1, D_0, 0, 0x0000, 0},
    {"1-1 down is -0", x87_sub, PC64 | FCW_RC_DOWN, D_1, D_1, 0x8000000000000000ull, 0, 0x8000, 0},
    {"1/3 nearest", x87_div, FCW_DEFAULT, D_1, D_3, 0x3fd5555555555555ull, 0xaaaaaaaaaaaaaaabull,
     0x3ffd, FSW_PE},
    {"1/3 pc53 up", x87_div, PC53 | FCW_RC_UP, D_1, D_3, 0x3fd5555555555556ull,
     0xaaaaaaaaaaaab000ull, 0x3ffd, FSW_PE},
    {"-1/3 pc53 down", x87_div, PC53 | FCW_RC_DOWN, D_M1, D_3, 0xbfd5555555555556ull,
     0xaaaaaaaaaaaab000ull, 0xbffd, FSW_PE},
    {"1/3 pc53 chop", x87_div, PC53 | FCW_RC_CHOP, D_1, D_3, 0x3fd5555555555555ull,
     0xaaaaaaaaaaaaa800ull, 0x3ffd, FSW_PE},
    {"1/3 pc24", x87_div, FCW_MASKED | FCW_PC_SINGLE, D_1, D_3, 0x3fd5555560000000ull,
     0xaaaaab0000000000ull, 0x3ffd, FSW_PE},
    /* The product is exact in extended (1 + 2^-54); the double store rounds. */
    {"0.1*10", x87_mul, FCW_DEFAULT, D_0P1, D_10, D_1, 0x8000000000000200ull, 0x3fff, FSW_PE},
    {"1/0", x87_div, FCW_DEFAULT, D_1, D_0, D_INF, 0x8000000000000000ull, 0x7fff, FSW_ZE},
    {"0/0", x87_div, FCW_DEFAULT, D_0, D_0, D_INDEFINITE, 0xc000000000000000ull, 0xffff, FSW_IE},
    /* Fine in extended; overflows (and is inexact) when stored as double. */
    {"1e308*10", x87_mul, FCW_DEFAULT, D_1E308, D_10, D_INF, 0xb201833b35d64000ull, 0x4401,
     FSW_OE | FSW_PE},
    /* Fine in extended; a denormal double when stored. */
    {"1e-300*1e-10", x87_mul, FCW_DEFAULT, D_1EM300, D_1EM10, 0x000012688b70e62bull,
     0x93445b8731588130ull, 0x3bf9, FSW_UE | FSW_PE},
    {"sqrt 2 + 0", x87_sqrt, FCW_DEFAULT, D_2, D_0, 0x3ff6a09e667f3bcdull, 0xb504f333f9de6484ull,
     0x3fff, FSW_PE},
    {"sqrt -1", x87_sqrt, FCW_DEFAULT, D_M1, D_0, D_INDEFINITE, 0xc000000000000000ull, 0xffff,
     FSW_IE},
};

bool check_f80(struct f80 got, uint64_t mant, uint16_t sign_exp, const char *what) {
  return check(got.mant == mant && got.sign_exp == sign_exp,
               "%s: got %04x:%016llx want %04x:%016llx", what, got.sign_exp,
               (unsigned long long)got.mant, sign_exp, (unsigned long long)mant);
}

void test_x87_arith(void) {
  unsigned before = check_failures();
  for (unsigned i = 0; i < sizeof arith_cases / sizeof arith_cases[0]; i++) {
    const struct arith_case *c = &arith_cases[i];
    struct f80 ext;
    uint16_t fsw;
    uint64_t got = c->op(c->fcw, c->a, c->b, &ext, &fsw);
    check(got == c->want, "%s: double %016llx want %016llx", c->name, (unsigned long long)got,
          (unsigned long long)c->want);
    check_f80(ext, c->ext_mant, c->ext_exp, c->name);
    check(((fsw & FSW_EXC) == c->exc), "%s: exceptions %02x want %02x", c->name, fsw & FSW_EXC,
          c->exc);
  }
  group_done("x87 arithmetic", before);
}

/* FISTP m32 of a double under a rounding mode. */
static uint32_t fist32(uint16_t fcw, uint64_t d, uint16_t *fsw) {
  uint32_t r;
  __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldl %[d]\n\tfistpl %[r]\n\tfnstsw %[sw]"
                   : [r] "=m"(r), [sw] "=m"(*fsw)
                   : [cw] "m"(fcw), [d] "m"(d));
  return r;
}

static const struct {
  const char *name;
  uint16_t fcw;
  uint64_t d;
  uint32_t want;
  uint16_t exc;
} fist_cases[] = {
    {"2.5 nearest", FCW_DEFAULT, D_2P5, 2, FSW_PE},
    {"3.5 nearest", FCW_DEFAULT, 0x400c000000000000ull, 4, FSW_PE},
    {"-2.5 nearest", FCW_DEFAULT, 0xc004000000000000ull, (uint32_t)-2, FSW_PE},
    {"2.5 down", FCW_DEFAULT | FCW_RC_DOWN, D_2P5, 2, FSW_PE},
    {"-2.5 down", FCW_DEFAULT | FCW_RC_DOWN, 0xc004000000000000ull, (uint32_t)-3, FSW_PE},
    {"2.5 up", FCW_DEFAULT | FCW_RC_UP, D_2P5, 3, FSW_PE},
    {"-2.7 chop", FCW_DEFAULT | FCW_RC_CHOP, 0xc00599999999999aull, (uint32_t)-2, FSW_PE},
    {"3 exact", FCW_DEFAULT, D_3, 3, 0},
    {"3e10 overflow", FCW_DEFAULT, 0x421bf08eb0000000ull, 0x80000000, FSW_IE},
};

void test_x87_convert(void) {
  unsigned before = check_failures();
  for (unsigned i = 0; i < sizeof fist_cases / sizeof fist_cases[0]; i++) {
    uint16_t fsw;
    uint32_t got = fist32(fist_cases[i].fcw, fist_cases[i].d, &fsw);
    check(got == fist_cases[i].want, "fistp %s: %d want %d", fist_cases[i].name, (int)got,
          (int)fist_cases[i].want);
    check((fsw & FSW_EXC) == fist_cases[i].exc, "fistp %s: exceptions %02x want %02x",
          fist_cases[i].name, fsw & FSW_EXC, fist_cases[i].exc);
  }
  int32_t i32 = -123456;
  int64_t i64 = 0x7fffffffffffffffll, big = 0; /* exact in extended */
  const uint64_t two63 = 0x43e0000000000000ull, snan = 0x7ff0000000000001ull;
  uint64_t quieted;
  uint16_t snan_sw;
  int16_t i16 = 0;
  uint64_t d;
  struct f80 e;
  uint16_t fsw;
  __asm__ volatile(
      "fninit\n\tfildl %[i32]\n\tfstpl %[d]\n\t"
      "fildll %[i64out]\n\tfld %%st(0)\n\tfstpt %[e]\n\t"
      "fistpll %[i64out]\n\t"
      "fldl %[two63]\n\tfistpll %[big]\n\t"
      "fildl %[c40000]\n\tfistps %[i16]\n\tfnstsw %[sw]\n\t"
      "fninit\n\tfldl %[snan]\n\tfstpl %[quieted]\n\tfnstsw %[snan_sw]"
      : [d] "=m"(d), [e] "=m"(e), [big] "=m"(big), [i16] "=m"(i16), [sw] "=m"(fsw),
        [i64out] "+m"(i64), [quieted] "=m"(quieted), [snan_sw] "=m"(snan_sw)
      : [i32] "m"(i32), [c40000] "m"((int32_t){40000}), [two63] "m"(two63), [snan] "m"(snan));
  check_eq64(d, 0xc0fe240000000000ull, "fild m32 -123456");
  check_f80(e, 0xfffffffffffffffeull, 0x403d, "fild m64 2^63-1 exact in extended");
  check_eq64((uint64_t)i64, 0x7fffffffffffffffull, "fistp m64 2^63-1");
  check_eq64((uint64_t)big, 0x8000000000000000ull, "fistp m64 2^63: integer indefinite");
  check_eq((uint16_t)i16, 0x8000, "fistp m16 40000: integer indefinite");
  check(fsw & FSW_IE, "fistp out of range sets IE");
  /* Loading an SNaN double signals IE and quiets it (SDM Vol. 1 4.8.3.4). */
  check_eq64(quieted, 0x7ff8000000000001ull, "fld m64 snan is quieted");
  check_eq(snan_sw & FSW_EXC, FSW_IE, "fld m64 snan signals IE");
  group_done("x87 conversions", before);
}

/* FCOM and FCOMI of a (ST0) with b (ST1); FUCOMI too. EFLAGS starts with
 * OF, SF and AF set: FCOMI clears them (SDM Vol. 2A "FCOMI"). */
struct cmp_result {
  uint16_t fcom_sw, fcomi_sw, fucomi_sw;
  uint32_t fcomi_flags, fucomi_flags;
};

static struct cmp_result x87_compare(uint64_t a, uint64_t b) {
  struct cmp_result r;
  const uint32_t flags_in = 0x8d5 & ~0x45u; /* OF SF AF set, CF ZF PF clear */
  __asm__ volatile(
      "fninit\n\tfldl %[b]\n\tfldl %[a]\n\t"
      "fcom %%st(1)\n\tfnstsw %[s0]\n\tfnclex\n\t"
      "pushl %[fin]\n\tpopfl\n\t"
      "fcomi %%st(1), %%st\n\tpushfl\n\tpopl %[f1]\n\tfnstsw %[s1]\n\tfnclex\n\t"
      "pushl %[fin]\n\tpopfl\n\t"
      "fucomi %%st(1), %%st\n\tpushfl\n\tpopl %[f2]\n\tfnstsw %[s2]"
      : [s0] "=m"(r.fcom_sw), [s1] "=m"(r.fcomi_sw), [s2] "=m"(r.fucomi_sw),
        [f1] "=m"(r.fcomi_flags), [f2] "=m"(r.fucomi_flags)
      : [a] "m"(a), [b] "m"(b), [fin] "r"(flags_in)
      : "cc");
  return r;
}

static const struct {
  const char *name;
  uint64_t a, b;
  uint16_t cc;    /* FCOM: C3 C2 C0 */
  uint32_t flags; /* FCOMI/FUCOMI: ZF PF CF (OF SF AF cleared) */
  uint16_t fcomi_ie, fucomi_ie;
} cmp_cases[] = {
    {"2 > 1", D_2, D_1, 0, 0, 0, 0},
    {"1 < 2", D_1, D_2, FSW_C0, 0x01, 0, 0},
    {"1 == 1", D_1, D_1, FSW_C3, 0x40, 0, 0},
    {"-0 == +0", 0x8000000000000000ull, D_0, FSW_C3, 0x40, 0, 0},
    {"qnan ? 1", 0x7ff8000000000000ull, D_1, FSW_C3 | FSW_C2 | FSW_C0, 0x45, FSW_IE, 0},
    {"-inf < 1", 0xfff0000000000000ull, D_1, FSW_C0, 0x01, 0, 0},
};

/* FXAM's class in C3 C2 C0, sign in C1 (SDM Vol. 2A "FXAM"). */
static uint16_t x87_fxam(uint64_t d, bool empty) {
  uint16_t sw;
  if (empty) {
    __asm__ volatile("fninit\n\tfxam\n\tfnstsw %0" : "=m"(sw));
  } else {
    __asm__ volatile("fninit\n\tfldl %1\n\tfxam\n\tfnstsw %0" : "=m"(sw) : "m"(d));
  }
  return sw & FSW_CC;
}

void test_x87_compare(void) {
  unsigned before = check_failures();
  uint32_t mask = 0x8d5;
  if (qemu_deviation("FCOMI/FUCOMI clear OF, SF and AF (QEMU 7.2 keeps them)")) mask = 0x45;
  for (unsigned i = 0; i < sizeof cmp_cases / sizeof cmp_cases[0]; i++) {
    struct cmp_result r = x87_compare(cmp_cases[i].a, cmp_cases[i].b);
    const char *n = cmp_cases[i].name;
    check((r.fcom_sw & (FSW_C3 | FSW_C2 | FSW_C0)) == cmp_cases[i].cc, "fcom %s: sw %04x", n,
          r.fcom_sw);
    check((r.fcomi_flags & mask) == cmp_cases[i].flags, "fcomi %s: eflags %03x", n,
          r.fcomi_flags & mask);
    check((r.fucomi_flags & mask) == cmp_cases[i].flags, "fucomi %s: eflags %03x", n,
          r.fucomi_flags & mask);
    check((r.fcomi_sw & FSW_IE) == cmp_cases[i].fcomi_ie, "fcomi %s: sw %04x", n, r.fcomi_sw);
    check((r.fucomi_sw & FSW_IE) == cmp_cases[i].fucomi_ie, "fucomi %s: sw %04x", n, r.fucomi_sw);
  }
  check_eq(x87_fxam(D_0, false), FSW_C3, "fxam +0");
  check_eq(x87_fxam(0xfff0000000000000ull, false), FSW_C2 | FSW_C1 | FSW_C0, "fxam -inf");
  check_eq(x87_fxam(0x7ff8000000000000ull, false), FSW_C0, "fxam nan");
  check_eq(x87_fxam(D_M1, false), FSW_C2 | FSW_C1, "fxam -1");
  check_eq(x87_fxam(0, true), FSW_C3 | FSW_C0, "fxam empty");
  group_done("x87 compares", before);
}

/* The constants in extended format under a rounding mode; only FLDPI,
 * FLDL2E, FLDLG2, FLDLN2 are inexact and so depend on it. */
struct consts {
  struct f80 one, zero, pi, l2e, l2t, lg2, ln2;
};

static struct consts x87_consts(uint16_t fcw) {
  struct consts c;
  __asm__ volatile(
      "fninit\n\tfldcw %[cw]\n\t"
      "fld1\n\tfstpt %[one]\n\tfldz\n\tfstpt %[zero]\n\t"
      "fldpi\n\tfstpt %[pi]\n\tfldl2e\n\tfstpt %[l2e]\n\t"
      "fldl2t\n\tfstpt %[l2t]\n\tfldlg2\n\tfstpt %[lg2]\n\t"
      "fldln2\n\tfstpt %[ln2]"
      : [one] "=m"(c.one), [zero] "=m"(c.zero), [pi] "=m"(c.pi), [l2e] "=m"(c.l2e),
        [l2t] "=m"(c.l2t), [lg2] "=m"(c.lg2), [ln2] "=m"(c.ln2)
      : [cw] "m"(fcw));
  return c;
}

static void check_constants(void) {
  struct consts c = x87_consts(FCW_DEFAULT);
  check_f80(c.one, 0x8000000000000000ull, 0x3fff, "fld1");
  check_f80(c.zero, 0, 0, "fldz");
  check_f80(c.pi, 0xc90fdaa22168c235ull, 0x4000, "fldpi nearest");
  check_f80(c.l2e, 0xb8aa3b295c17f0bcull, 0x3fff, "fldl2e nearest");
  check_f80(c.l2t, 0xd49a784bcd1b8afeull, 0x4000, "fldl2t nearest");
  check_f80(c.lg2, 0x9a209a84fbcff799ull, 0x3ffd, "fldlg2 nearest");
  check_f80(c.ln2, 0xb17217f7d1cf79acull, 0x3ffe, "fldln2 nearest");
  c = x87_consts(FCW_DEFAULT | FCW_RC_DOWN);
  check_f80(c.pi, 0xc90fdaa22168c234ull, 0x4000, "fldpi down");
  check_f80(c.l2e, 0xb8aa3b295c17f0bbull, 0x3fff, "fldl2e down");
  c = x87_consts(FCW_DEFAULT | FCW_RC_UP);
  check_f80(c.pi, 0xc90fdaa22168c235ull, 0x4000, "fldpi up");
  check_f80(c.l2t, 0xd49a784bcd1b8affull, 0x4000, "fldl2t up");
  c = x87_consts(FCW_DEFAULT | FCW_RC_CHOP);
  check_f80(c.pi, 0xc90fdaa22168c234ull, 0x4000, "fldpi chop");
}

/* FXCH swaps ST0 with STi; FNSTENV shows TOP and the full tag word. */
static void check_stack(void) {
  struct f80 a, b, c;
  struct {
    uint32_t fcw, fsw, ftw, rest[4];
  } env;
  uint16_t sw_after_pop;
  __asm__ volatile(
      "fninit\n\tfld1\n\tfldpi\n\tfldz\n\t"
      "fnstenv %[env]\n\t"
      "fxch %%st(2)\n\t" /* 1, pi, 0 */
      "fstpt %[a]\n\tfstpt %[b]\n\tfstpt %[c]\n\tfnstsw %[sw]"
      : [a] "=m"(a), [b] "=m"(b), [c] "=m"(c), [env] "=m"(env), [sw] "=m"(sw_after_pop));
  check_eq(env.fsw & 0x3800, 5 << 11, "TOP after three loads");
  /* Tags, physical registers 7..0: 1.0 and pi valid (00), 0.0 zero (01),
   * the rest empty (11). */
  check_eq(env.ftw & 0xffff, 0x07ff, "tag word after three loads");
  check_eq(env.fcw & 0xffff, FCW_DEFAULT, "control word in FNSTENV");
  check_f80(a, 0x8000000000000000ull, 0x3fff, "fxch st2: st0");
  check_f80(b, 0xc90fdaa22168c235ull, 0x4000, "fxch st2: st1");
  check_f80(c, 0, 0, "fxch st2: st2");
  check_eq(sw_after_pop & 0x3800, 0, "TOP after three pops");
}

void test_x87_state(void) {
  unsigned before = check_failures();
  check_constants();
  check_stack();
  group_done("x87 constants and stack", before);
}
