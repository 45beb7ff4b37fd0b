/* qsort: an own quicksort (median-of-three pivot, Hoare partition,
 * insertion sort for short runs, recursion on the smaller side) over
 * generated ints. Data-dependent branches, swaps and recursion. */
#include "kernels.h"

#define QSORT_COUNT (1u << 20)
#define QSORT_SHORT 16 /* runs this short go to insertion sort */

static void insertion_sort(int32_t *a, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    int32_t v = a[i];
    uint32_t j = i;
    for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
    a[j] = v;
  }
}

static void swap(int32_t *a, int32_t *b) {
  int32_t t = *a;
  *a = *b;
  *b = t;
}

/* Orders a[0], a[mid], a[n-1] and returns the median as the pivot. */
static int32_t median_of_three(int32_t *a, uint32_t n) {
  uint32_t mid = n / 2;
  if (a[mid] < a[0]) swap(&a[mid], &a[0]);
  if (a[n - 1] < a[0]) swap(&a[n - 1], &a[0]);
  if (a[n - 1] < a[mid]) swap(&a[n - 1], &a[mid]);
  return a[mid];
}

/* Hoare partition: returns j with a[0..j] <= pivot <= a[j+1..n-1]. */
static uint32_t partition(int32_t *a, uint32_t n, int32_t pivot) {
  uint32_t i = 0, j = n - 1;
  for (;;) {
    while (a[i] < pivot) i++;
    while (a[j] > pivot) j--;
    if (i >= j) return j;
    swap(&a[i], &a[j]);
    i++;
    j--;
  }
}

static void quicksort(int32_t *a, uint32_t n) {
  while (n > QSORT_SHORT) {
    uint32_t left = partition(a, n, median_of_three(a, n)) + 1;
    /* Recurse on the smaller side so the depth stays O(log n). */
    if (left < n - left) {
      quicksort(a, left);
      a += left;
      n -= left;
    } else {
      quicksort(a + left, n - left);
      n = left;
    }
  }
  insertion_sort(a, n);
}

static uint32_t qsort_run(void *scratch, uint32_t seed) {
  int32_t *a = scratch;
  uint32_t state = bench_seed_state(seed);
  for (uint32_t i = 0; i < QSORT_COUNT; i++) a[i] = (int32_t)bench_xorshift(&state);
  quicksort(a, QSORT_COUNT);
  /* The order is part of the checksum: a wrong sort cannot match. */
  uint32_t sum = 0, unsorted = 0;
  for (uint32_t i = 0; i < QSORT_COUNT; i++) {
    unsorted += i > 0 && a[i - 1] > a[i];
    sum = sum * 31 + (uint32_t)a[i];
  }
  return bench_mix(sum, unsorted);
}

const struct bench_kernel bench_qsort = {
    .name = "qsort",
    .what = "own quicksort of 1 Mi random int32",
    .run = qsort_run,
    .scratch_bytes = QSORT_COUNT * sizeof(int32_t),
};
