/* repstring: REP MOVSB/MOVSD and REP STOSB/STOSD (SDM Vol. 2B, MOVS and
 * STOS with the REP prefix), the string instructions kernels use for their
 * memcpy/memset: long copies and fills over 64 KiB, and many short ones
 * (0-63 bytes, struct-sized) at varying alignments, where the per-
 * instruction cost dominates. A translator's string-op path. */
#include "kernels.h"

#define REP_BYTES (64u << 10)
#define REP_PASSES 8192
#define REP_SHORT_OPS 512 /* short copies and fills per pass */

struct repstring_scratch {
  uint8_t src[REP_BYTES];
  uint8_t dst[REP_BYTES + 64];
};

/* EFLAGS.DF is clear: the i386 System V ABI requires it at calls. */
static inline void rep_movsb(void *dst, const void *src, uint32_t n) {
  __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static inline void rep_movsd(void *dst, const void *src, uint32_t words) {
  __asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
}

static inline void rep_stosb(void *dst, uint8_t value, uint32_t n) {
  __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(value) : "memory");
}

static inline void rep_stosd(void *dst, uint32_t value, uint32_t words) {
  __asm__ volatile("rep stosl" : "+D"(dst), "+c"(words) : "a"(value) : "memory");
}

/* Short copies and fills of 0-63 bytes at offsets the generator picks. */
static void short_ops(struct repstring_scratch *s, uint32_t *state) {
  for (uint32_t i = 0; i < REP_SHORT_OPS; i++) {
    uint32_t x = bench_xorshift(state);
    uint32_t len = x & 63, from = (x >> 6) & (REP_BYTES - 64), to = (x >> 22) << 6;
    if (x & (1u << 5)) {
      rep_movsb(s->dst + to + (x & 7), s->src + from, len);
    } else {
      rep_stosd(s->dst + to, x, len / 4);
    }
  }
}

static uint32_t sum_words(const uint32_t *p, uint32_t n) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += p[i] ^ i;
  return sum;
}

static uint32_t repstring_run(void *scratch, uint32_t seed) {
  struct repstring_scratch *s = scratch;
  uint32_t state = bench_seed_state(seed);
  for (uint32_t i = 0; i < REP_BYTES / 4; i++) ((uint32_t *)s->src)[i] = bench_xorshift(&state);
  rep_stosd(s->dst, seed, sizeof s->dst / 4);
  for (uint32_t pass = 0; pass < REP_PASSES; pass++) {
    rep_movsb(s->dst + (pass & 63), s->src, REP_BYTES);
    rep_stosb(s->dst + (pass & 31), (uint8_t)pass, REP_BYTES / 2);
    rep_movsd(s->dst, s->src + (pass & 60), REP_BYTES / 4 - 16);
    rep_stosd(s->dst + REP_BYTES / 2, pass, REP_BYTES / 8);
    short_ops(s, &state);
  }
  return sum_words((const uint32_t *)s->dst, sizeof s->dst / 4);
}

const struct bench_kernel bench_repstring = {
    .name = "repstring",
    .what = "REP MOVSB/MOVSD and REP STOSB/STOSD, 64 KiB and 0-63 byte",
    .run = repstring_run,
    .scratch_bytes = sizeof(struct repstring_scratch),
};
