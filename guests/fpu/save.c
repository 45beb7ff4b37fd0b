/* FNSAVE/FRSTOR and FXSAVE/FXRSTOR round trips (SDM Vol. 1 8.1.10 and
 * Figure 8-10 for the 108-byte protected-mode FNSAVE image; Vol. 2A
 * "FXSAVE", Table 3-53, for the 512-byte image). The instruction and data
 * pointer fields depend on addresses and on CPU generation, and FXSAVE's
 * reserved bytes and MXCSR_MASK vary too, so the checks cover the control,
 * status and tag words, MXCSR, and the register contents only. */
#include "fpu.h"

#define SAVE_FCW (FCW_MASKED | FCW_PC_DOUBLE | FCW_RC_UP) /* 0x0a7f */
#define SAVE_FSW ((5u << 11) | FSW_PE)                    /* TOP 5, PE */
#define SAVE_MXCSR (MXCSR_DEFAULT | MXCSR_RC_UP | MXCSR_PE)

/* FNINIT, then a state worth saving: the control word above, PE from an
 * inexact FISTP, and 1, pi, 0 pushed (R7, R6, R5). */
#define X87_STATE_ASM              \
  "fninit\n\t"                     \
  "fldcw %[cw]\n\t"                \
  "fldpi\n\tfistpl %[scratch]\n\t" \
  "fld1\n\tfldpi\n\tfldz\n\t"

/* check_eq() on one field of a save image, named "<what> <field>". */
static void check_image_field(uint32_t got, uint32_t want, const char *what, const char *field) {
  check(got == want, "%s %s: got 0x%x want 0x%x", what, field, got, want);
}

/* The stack X87_STATE_ASM leaves: ST0 = 0, ST1 = pi, ST2 = 1. */
static void check_saved_stack(const struct f80 st[3], const char *what) {
  check_f80(st[0], 0, 0, what);
  check_f80(st[1], 0xc90fdaa22168c235ull, 0x4000, what);
  check_f80(st[2], 0x8000000000000000ull, 0x3fff, what);
}

static void check_x87_image(const uint8_t *img, const char *what) {
  uint16_t fcw, fsw, ftw;
  memcpy(&fcw, img + 0, 2);
  memcpy(&fsw, img + 4, 2);
  memcpy(&ftw, img + 8, 2);
  check_image_field(fcw, SAVE_FCW, what, "control word");
  check_image_field(fsw, SAVE_FSW, what, "status word");
  check_image_field(ftw, 0x07ff, what, "tag word"); /* R7, R6 valid; R5 zero; the rest empty */
  struct f80 st[3];
  memcpy(st, img + 28, sizeof st); /* ST0, ST1, ST2: 10 bytes each */
  check_saved_stack(st, what);
}

static void check_fnsave(void) {
  uint8_t img1[108], img2[108];
  uint32_t scratch;
  uint16_t cw_after_save, sw_after_save, cw_after_restore;
  struct f80 st0;
  __asm__ volatile(
      X87_STATE_ASM
      "fnsave %[img1]\n\t"
      "fnstcw %[cw1]\n\tfnstsw %[sw1]\n\t"
      "frstor %[img1]\n\t"
      "fnstcw %[cw2]\n\t"
      "fnsave %[img2]\n\t"
      "frstor %[img2]\n\t"
      "fstpt %[st0]\n\tfninit"
      : [img1] "+m"(img1), [img2] "=m"(img2), [scratch] "=m"(scratch), [cw1] "=m"(cw_after_save),
        [sw1] "=m"(sw_after_save), [cw2] "=m"(cw_after_restore), [st0] "=m"(st0)
      : [cw] "m"((uint16_t){SAVE_FCW}));
  check_x87_image(img1, "fnsave");
  /* FNSAVE reinitialises the FPU as FNINIT does. */
  check_eq(cw_after_save, FCW_DEFAULT, "control word after fnsave");
  check_eq(sw_after_save, 0, "status word after fnsave");
  check_eq(cw_after_restore, SAVE_FCW, "control word after frstor");
  check_x87_image(img2, "fnsave after frstor");
  check_f80(st0, 0, 0, "ST0 after frstor");
}

struct fxsave_area {
  uint8_t b[512];
} __attribute__((aligned(16)));

static const uint32_t xmm_pattern[8][4] = {
    {0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f},
    {0x11111111, 0x22222222, 0x33333333, 0x44444444},
    {0xdeadbeef, 0xcafef00d, 0x01234567, 0x89abcdef},
    {0xffffffff, 0, 0xffffffff, 0},
    {0x3f800000, 0x40000000, 0x40400000, 0x40800000},
    {1, 2, 3, 4},
    {0x80000000, 0x7fffffff, 0x80000001, 0x7ffffffe},
    {0x5a5a5a5a, 0xa5a5a5a5, 0x0f0f0f0f, 0xf0f0f0f0},
};

#define LOAD_XMMS                                                                        \
  "movdqu 0(%[xp]), %%xmm0\n\tmovdqu 16(%[xp]), %%xmm1\n\tmovdqu 32(%[xp]), %%xmm2\n\t"  \
  "movdqu 48(%[xp]), %%xmm3\n\tmovdqu 64(%[xp]), %%xmm4\n\tmovdqu 80(%[xp]), %%xmm5\n\t" \
  "movdqu 96(%[xp]), %%xmm6\n\tmovdqu 112(%[xp]), %%xmm7\n\t"
#define CLEAR_XMMS                                                        \
  "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t" \
  "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t" \
  "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
#define STORE_XMMS                                                                       \
  "movdqu %%xmm0, 0(%[xo])\n\tmovdqu %%xmm1, 16(%[xo])\n\tmovdqu %%xmm2, 32(%[xo])\n\t"  \
  "movdqu %%xmm3, 48(%[xo])\n\tmovdqu %%xmm4, 64(%[xo])\n\tmovdqu %%xmm5, 80(%[xo])\n\t" \
  "movdqu %%xmm6, 96(%[xo])\n\tmovdqu %%xmm7, 112(%[xo])\n\t"

static void check_fx_image(const struct fxsave_area *a, const char *what) {
  uint16_t fcw, fsw;
  uint32_t mxcsr;
  memcpy(&fcw, a->b + 0, 2);
  memcpy(&fsw, a->b + 2, 2);
  memcpy(&mxcsr, a->b + 24, 4);
  check_image_field(fcw, SAVE_FCW, what, "control word");
  check_image_field(fsw, SAVE_FSW, what, "status word");
  check_image_field(a->b[4], 0xe0, what, "abridged tags"); /* one bit per physical register */
  check_image_field(mxcsr, SAVE_MXCSR, what, "mxcsr");
  struct f80 st[3];
  for (unsigned i = 0; i < 3; i++) memcpy(&st[i], a->b + 32 + 16 * i, 10);
  check_saved_stack(st, what);
  check(memcmp(a->b + 160, xmm_pattern, sizeof xmm_pattern) == 0, "%s xmm registers", what);
}

static void check_fxsave(void) {
  static struct fxsave_area img1, img2, empty;
  uint32_t scratch, xmm_out[8][4], mxcsr_cleared, mxcsr_restored;
  uint16_t ftw_restored;
  struct {
    uint32_t fcw, fsw, ftw, rest[4];
  } env;
  __asm__ volatile(
      X87_STATE_ASM "ldmxcsr %[mx]\n\t" LOAD_XMMS
                    "fxsave %[img1]\n\t"
                    "fninit\n\tldmxcsr %[mx_default]\n\t" CLEAR_XMMS
                    "fxsave %[empty]\n\t"
                    "stmxcsr %[mx_cleared]\n\t"
                    "fxrstor %[img1]\n\t"
                    "stmxcsr %[mx_restored]\n\t"
                    "fxsave %[img2]\n\t" STORE_XMMS
                    "fnstenv %[env]\n\t"
                    "fninit\n\tldmxcsr %[mx_default]"
      : [img1] "=m"(img1), [img2] "=m"(img2), [empty] "=m"(empty), [scratch] "=m"(scratch),
        [mx_cleared] "=m"(mxcsr_cleared), [mx_restored] "=m"(mxcsr_restored), [env] "=m"(env),
        "=m"(xmm_out)
      : [cw] "m"((uint16_t){SAVE_FCW}), [mx] "m"((uint32_t){SAVE_MXCSR}),
        [mx_default] "m"((uint32_t){MXCSR_DEFAULT}), [xp] "r"(xmm_pattern), [xo] "r"(xmm_out)
      : "memory");
  check_fx_image(&img1, "fxsave");
  check_fx_image(&img2, "fxsave after fxrstor");
  check(memcmp(xmm_out, xmm_pattern, sizeof xmm_pattern) == 0, "xmm registers after fxrstor");
  check_eq(mxcsr_cleared, MXCSR_DEFAULT, "mxcsr before fxrstor");
  check_eq(mxcsr_restored, SAVE_MXCSR, "mxcsr after fxrstor");
  /* FNINIT'ed state: default control word, nothing pending, all empty. */
  check_eq(empty.b[0] | empty.b[1] << 8, FCW_DEFAULT, "fxsave after fninit: control word");
  check_eq(empty.b[2] | empty.b[3] << 8, 0, "fxsave after fninit: status word");
  check_eq(empty.b[4], 0, "fxsave after fninit: abridged tags");
  /* FXRSTOR's abridged tags expand to full tags from the contents. */
  ftw_restored = (uint16_t)env.ftw;
  check_eq(ftw_restored, 0x07ff, "tag word after fxrstor");
}

/* XMM0-7 and MXCSR across instructions a VMM handles out of line (CPUID,
 * port I/O, MOV from DS, POPF), between SSE instructions in one stretch of
 * straight-line code. (No segment load: this guest runs on the loader's
 * GDT, which the multiboot spec leaves undefined.) */
static void check_sse_across_exits(void) {
  uint32_t xmm_out[8][4], mxcsr_out, eax = 0, ebx, ecx = 0, edx;
  __asm__ volatile("ldmxcsr %[mx]\n\t" LOAD_XMMS
                   "cpuid\n\t"
                   "movb $0x5a, %%al\n\toutb %%al, $0x80\n\t"
                   "movl %%ds, %%eax\n\tpushfl\n\tpopfl\n\t"
                   "stmxcsr %[mx_out]\n\t" STORE_XMMS "ldmxcsr %[mx_default]"
                   : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx), [mx_out] "=m"(mxcsr_out),
                     "=m"(xmm_out)
                   : [mx] "m"((uint32_t){SAVE_MXCSR}), [mx_default] "m"((uint32_t){MXCSR_DEFAULT}),
                     [xp] "S"(xmm_pattern), [xo] "D"(xmm_out) /* CPUID writes the others */
                   : "memory");
  check(memcmp(xmm_out, xmm_pattern, sizeof xmm_pattern) == 0,
        "xmm registers across cpuid/out/mov from ds/popf");
  check_eq(mxcsr_out, SAVE_MXCSR, "mxcsr across cpuid/out/mov from ds/popf");
}

void test_fxsave(void) {
  unsigned before = check_failures();
  check_fnsave();
  check_fxsave();
  check_sse_across_exits();
  group_done("fnsave/fxsave", before);
}
