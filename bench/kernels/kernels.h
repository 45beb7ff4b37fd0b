/* The benchmark kernels, shared by two builds: the benchguest kernel
 * (guests/bench) and the native 32-bit Linux program (bench/native). Both
 * compile these files with the same flags, freestanding, so the code that
 * runs natively is the code the guest runs. A kernel uses no library: it gets
 * a scratch area from its driver, fills it itself (never reading memory it
 * did not write, so the result does not depend on what the area held), and
 * returns a checksum that must be equal wherever it runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One kernel: run() does one iteration over `scratch` (scratch_bytes long,
 * 4 KiB aligned). `seed` differs per iteration so that no call can be
 * folded into another. */
struct bench_kernel {
  const char *name;
  const char *what; /* one line for the listing */
  uint32_t (*run)(void *scratch, uint32_t seed);
  uint32_t scratch_bytes;
};

extern const struct bench_kernel bench_sieve, bench_crc32, bench_qsort, bench_matmul, bench_interp,
    bench_memloop, bench_repstring;

/* All kernels, in the order the drivers run them. */
extern const struct bench_kernel *const bench_kernels[];
extern const unsigned bench_kernel_count;

/* The largest scratch_bytes of any kernel: what a driver must provide. */
uint32_t bench_scratch_bytes(void);

/* Runs `kernel` `iters` times and folds the iterations' checksums. */
uint32_t bench_run(const struct bench_kernel *kernel, void *scratch, uint32_t iters);

/* The options both drivers take, from the multiboot command line or from
 * argv joined with spaces: "iters=N" (default 1) and "only=NAME[,NAME...]",
 * "only=all" (default) or "only=none" (boot and exit: the harness's
 * baseline). Words without '=' are skipped: QEMU puts the image path in
 * front of the command line. */
#define BENCH_MAX_KERNELS 16
struct bench_args {
  uint32_t iters;
  bool selected[BENCH_MAX_KERNELS]; /* indexed like bench_kernels */
};

/* Fills `args`. On a bad option returns false with a message in `error`. */
bool bench_parse_args(const char *cmdline, struct bench_args *args, char *error, size_t error_size);

/* The time-stamp counter (SDM Vol. 2B, RDTSC), for the drivers' own cycle
 * counts. Under a VMM it is whatever the VMM makes of RDTSC. */
static inline uint64_t bench_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Marsaglia's xorshift32: cheap, deterministic test data. `state` must
 * not be 0. */
static inline uint32_t bench_xorshift(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

/* A nonzero xorshift state derived from a kernel's seed. */
static inline uint32_t bench_seed_state(uint32_t seed) {
  return (seed * 0x9E3779B9u + 0x12345u) | 1;
}

static inline uint32_t bench_rotl(uint32_t x, unsigned n) {
  return (x << (n & 31)) | (x >> ((32 - n) & 31));
}

/* Folds one value into a running checksum (FNV-1a style, a word at a time). */
static inline uint32_t bench_mix(uint32_t sum, uint32_t value) {
  return (bench_rotl(sum, 5) ^ value) * 0x01000193u;
}
