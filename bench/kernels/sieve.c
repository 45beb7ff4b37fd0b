/* sieve: the sieve of Eratosthenes over a byte array of a few million
 * entries. Strided byte stores over an array larger than the caches, with
 * short, predictable inner loops. */
#include "kernels.h"

#define SIEVE_LIMIT (8u << 20)
#define SIEVE_ROUNDS 3

/* Marks the composites below `limit` in `composite` (1 = composite) and
 * returns a checksum of the primes: their count and their sum. */
static uint32_t sieve(uint8_t *composite, uint32_t limit) {
  /* Start with the even numbers marked: writing 0/1 by parity is not a
   * pattern gcc turns into a memset call, which would run library code. */
  for (uint32_t i = 0; i < limit; i++) composite[i] = (uint8_t)(~i & 1);
  for (uint32_t p = 3; p * p < limit; p += 2) {
    if (composite[p]) continue;
    for (uint32_t m = p * p; m < limit; m += 2 * p) composite[m] = 1;
  }
  uint32_t count = 1, sum = 2; /* 2, the even prime */
  for (uint32_t i = 3; i < limit; i += 2) {
    if (!composite[i]) {
      count++;
      sum += i;
    }
  }
  return bench_mix(count, sum);
}

static uint32_t sieve_run(void *scratch, uint32_t seed) {
  uint32_t sum = 0;
  for (uint32_t round = 0; round < SIEVE_ROUNDS; round++) {
    sum = bench_mix(sum, sieve(scratch, SIEVE_LIMIT - ((seed + round) % 256) * 2));
  }
  return sum;
}

const struct bench_kernel bench_sieve = {
    .name = "sieve",
    .what = "sieve of Eratosthenes below 8 Mi, byte flags, 3 rounds",
    .run = sieve_run,
    .scratch_bytes = SIEVE_LIMIT,
};
