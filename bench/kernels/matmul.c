/* matmul: C = A * B for square uint32 matrices (arithmetic mod 2^32), in
 * i-k-j order so the inner loop walks rows of B and C. Integer only: the
 * guests run with SSE off. Multiply-add throughput and regular loads. */
#include "kernels.h"

#define MATMUL_N 576

struct matmul_scratch {
  uint32_t a[MATMUL_N][MATMUL_N], b[MATMUL_N][MATMUL_N], c[MATMUL_N][MATMUL_N];
};

static void multiply(struct matmul_scratch *s) {
  for (uint32_t i = 0; i < MATMUL_N; i++) {
    for (uint32_t j = 0; j < MATMUL_N; j++) s->c[i][j] = 0;
    for (uint32_t k = 0; k < MATMUL_N; k++) {
      uint32_t aik = s->a[i][k];
      for (uint32_t j = 0; j < MATMUL_N; j++) s->c[i][j] += aik * s->b[k][j];
    }
  }
}

static uint32_t matmul_run(void *scratch, uint32_t seed) {
  struct matmul_scratch *s = scratch;
  uint32_t state = bench_seed_state(seed);
  for (uint32_t i = 0; i < MATMUL_N; i++) {
    for (uint32_t j = 0; j < MATMUL_N; j++) {
      s->a[i][j] = bench_xorshift(&state) & 0xFFFF;
      s->b[i][j] = bench_xorshift(&state) & 0xFFFF;
    }
  }
  multiply(s);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < MATMUL_N; i++) {
    for (uint32_t j = 0; j < MATMUL_N; j++) sum = bench_mix(sum, s->c[i][j]);
  }
  return sum;
}

const struct bench_kernel bench_matmul = {
    .name = "matmul",
    .what = "576x576 uint32 matrix multiply, i-k-j order",
    .run = matmul_run,
    .scratch_bytes = sizeof(struct matmul_scratch),
};
