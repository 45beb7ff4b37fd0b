/* What the Linux guest's benchmark programs share: the round count from
 * argv[1], a monotonic clock, and the two result lines that bench-script's
 * readers and tests/linux look for, "NAME N ok" and "NAME seconds S (T
 * UNIT each)". Each program is one static executable, built from its own .c
 * file by mkinitramfs, so these are inlines. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* argv[1], or `fallback` without one; after a usage line on stderr, 0 if
 * it is not a positive number. */
static inline long bench_rounds(const char *name, int argc, char **argv, long fallback) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : fallback;
  if (n > 0) return n;
  fprintf(stderr, "usage: %s [N > 0]\n", name);
  return 0;
}

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* `n` rounds took `seconds`; one round is shown in `unit`, of which a
 * second has `per_second` ("us", 1e6). */
static inline void bench_report(const char *name, long n, double seconds, const char *unit,
                                double per_second) {
  printf("%s %ld ok\n", name, n);
  printf("%s seconds %.6f (%.1f %s each)\n", name, seconds, seconds * per_second / (double)n, unit);
}
