/* bench_native: the benchmark kernels as a 32-bit Linux program, the
 * baseline the guest runs are compared with. It takes the guest's options
 * as arguments ("iters=5 only=sieve") and prints the guest's lines:
 * "kernel NAME checksum HEX" and "kernel NAME cycles N", plus its own
 * "kernel NAME seconds S" from CLOCK_MONOTONIC. `bench_native --list`
 * prints "NAME: what it does" per kernel, for bench/run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The arguments joined with spaces, as a multiboot command line would be. */
static char *join_args(int argc, char **argv) {
  size_t len = 1;
  for (int i = 1; i < argc; i++) len += strlen(argv[i]) + 1;
  char *line = calloc(1, len);
  if (!line) return NULL;
  for (int i = 1; i < argc; i++) {
    if (i > 1) strcat(line, " ");
    strcat(line, argv[i]);
  }
  return line;
}

static void run_kernel(const struct bench_kernel *kernel, void *scratch, uint32_t iters) {
  double start = now_seconds();
  uint64_t t0 = bench_rdtsc();
  uint32_t sum = bench_run(kernel, scratch, iters);
  uint64_t t1 = bench_rdtsc();
  double seconds = now_seconds() - start;
  printf("kernel %s checksum %08x\n", kernel->name, sum);
  printf("kernel %s cycles %llu\n", kernel->name, (unsigned long long)(t1 - t0));
  printf("kernel %s seconds %.6f\n", kernel->name, seconds);
  fflush(stdout);
}

static void list_kernels(void) {
  for (unsigned i = 0; i < bench_kernel_count; i++) {
    printf("%s: %s\n", bench_kernels[i]->name, bench_kernels[i]->what);
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    list_kernels();
    return 0;
  }
  char *line = join_args(argc, argv);
  struct bench_args args;
  char error[128];
  if (!line || !bench_parse_args(line, &args, error, sizeof error)) {
    fprintf(stderr, "bench_native: %s\n", line ? error : "out of memory");
    return 2;
  }
  free(line);
  /* 4 KiB aligned like the guest's scratch area. */
  size_t bytes = (bench_scratch_bytes() + 4095u) & ~(size_t)4095;
  void *scratch = aligned_alloc(4096, bytes);
  if (!scratch) {
    fprintf(stderr, "bench_native: cannot allocate %zu bytes of scratch\n", bytes);
    return 2;
  }
  /* Fault the pages in now, so no kernel pays for first touches. */
  memset(scratch, 0, bytes);
  printf("bench iters %u\n", args.iters);
  for (unsigned i = 0; i < bench_kernel_count; i++) {
    if (args.selected[i]) run_kernel(bench_kernels[i], scratch, args.iters);
  }
  printf("bench done\n");
  free(scratch);
  return 0;
}
