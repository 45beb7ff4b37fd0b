/* memloop: memcpy/memset work done by the program's own loops, byte by
 * byte and word by word, the way freestanding code without a tuned library
 * copies memory: a dense run of plain loads and stores. */
#include "kernels.h"

#define MEMLOOP_BYTES (64u << 10)
#define MEMLOOP_PASSES 1600

struct memloop_scratch {
  uint32_t src[MEMLOOP_BYTES / 4];
  uint32_t dst[MEMLOOP_BYTES / 4 + 16]; /* room for the misaligned copies */
};

/* gcc turns plain copy and fill loops into memcpy/memset calls, which
 * would run the C library natively and the guest library's REP MOVSB in a
 * guest. The empty asm hides the loop index from that pattern matching and
 * costs nothing itself, so both builds run exactly these loops. */
#define OPAQUE(x) __asm__("" : "+r"(x))

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    OPAQUE(i);
    dst[i] = src[i];
  }
}

static void copy_words(uint32_t *dst, const uint32_t *src, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    OPAQUE(i);
    dst[i] = src[i];
  }
}

static void set_bytes(uint8_t *dst, uint8_t value, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    OPAQUE(i);
    dst[i] = value;
  }
}

static void set_words(uint32_t *dst, uint32_t value, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    OPAQUE(i);
    dst[i] = value;
  }
}

static uint32_t sum_words(const uint32_t *p, uint32_t n) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += p[i] ^ i;
  return sum;
}

static uint32_t memloop_run(void *scratch, uint32_t seed) {
  struct memloop_scratch *s = scratch;
  uint32_t state = bench_seed_state(seed);
  for (uint32_t i = 0; i < MEMLOOP_BYTES / 4; i++) s->src[i] = bench_xorshift(&state);
  uint8_t *dst = (uint8_t *)s->dst, *src = (uint8_t *)s->src;
  const uint32_t words = MEMLOOP_BYTES / 4;
  uint32_t sum = 0;
  for (uint32_t pass = 0; pass < MEMLOOP_PASSES; pass++) {
    set_words(s->dst, pass * 0x01010101u, words + 16);
    copy_bytes(dst + (pass & 7), src, MEMLOOP_BYTES); /* misaligned destination */
    sum = bench_mix(sum, sum_words(s->dst, words + 16));
    copy_words(s->dst + (pass & 15), s->src, words);
    set_bytes(dst + (pass & 31), (uint8_t)(seed + pass), MEMLOOP_BYTES / 2);
    sum = bench_mix(sum, sum_words(s->dst, words + 16));
  }
  return sum;
}

const struct bench_kernel bench_memloop = {
    .name = "memloop",
    .what = "own byte and word copy/fill loops over 64 KiB buffers",
    .run = memloop_run,
    .scratch_bytes = sizeof(struct memloop_scratch),
};
