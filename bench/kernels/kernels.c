/* The kernel table, the iteration loop and the option parser both drivers
 * share. Freestanding: no library calls, so the string handling is local. */
#include "kernels.h"

const struct bench_kernel *const bench_kernels[] = {
    &bench_sieve,  &bench_crc32,   &bench_qsort,     &bench_matmul,
    &bench_interp, &bench_memloop, &bench_repstring,
};
const unsigned bench_kernel_count = sizeof bench_kernels / sizeof bench_kernels[0];

_Static_assert(sizeof bench_kernels / sizeof bench_kernels[0] <= BENCH_MAX_KERNELS,
               "raise BENCH_MAX_KERNELS");

uint32_t bench_scratch_bytes(void) {
  uint32_t most = 0;
  for (unsigned i = 0; i < bench_kernel_count; i++) {
    if (bench_kernels[i]->scratch_bytes > most) most = bench_kernels[i]->scratch_bytes;
  }
  return most;
}

uint32_t bench_run(const struct bench_kernel *kernel, void *scratch, uint32_t iters) {
  uint32_t sum = 0x811C9DC5u;
  for (uint32_t i = 1; i <= iters; i++) sum = bench_mix(sum, kernel->run(scratch, i));
  return sum;
}

/* Copies at most size-1 bytes of a message and its argument into `error`. */
static void set_error(char *error, size_t size, const char *message, const char *word,
                      size_t word_len) {
  size_t n = 0;
  for (; *message && n + 1 < size; message++) error[n++] = *message;
  for (size_t i = 0; i < word_len && n + 1 < size; i++) error[n++] = word[i];
  if (size) error[n] = '\0';
}

static bool word_is(const char *word, size_t len, const char *name) {
  size_t i = 0;
  for (; i < len && name[i]; i++) {
    if (word[i] != name[i]) return false;
  }
  return i == len && name[i] == '\0';
}

static bool parse_iters(const char *value, size_t len, uint32_t *iters) {
  uint32_t n = 0;
  if (len == 0 || len > 6) return false; /* at most 999999 */
  for (size_t i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') return false;
    n = n * 10 + (uint32_t)(value[i] - '0');
  }
  *iters = n;
  return n > 0;
}

/* "all", "none" or a comma-separated list of kernel names. */
static bool parse_only(const char *value, size_t len, struct bench_args *args, char *error,
                       size_t error_size) {
  for (unsigned i = 0; i < bench_kernel_count; i++) args->selected[i] = false;
  if (word_is(value, len, "none")) return true;
  bool all = word_is(value, len, "all");
  for (unsigned i = 0; i < bench_kernel_count; i++) args->selected[i] = all;
  while (!all && len > 0) {
    size_t name_len = 0;
    while (name_len < len && value[name_len] != ',') name_len++;
    unsigned k = 0;
    while (k < bench_kernel_count && !word_is(value, name_len, bench_kernels[k]->name)) k++;
    if (k == bench_kernel_count) {
      set_error(error, error_size, "unknown kernel: ", value, name_len);
      return false;
    }
    args->selected[k] = true;
    value += name_len;
    len -= name_len;
    if (len > 0) value++, len--; /* the comma */
  }
  return true;
}

static bool parse_word(const char *word, size_t len, struct bench_args *args, char *error,
                       size_t error_size) {
  size_t key_len = 0;
  while (key_len < len && word[key_len] != '=') key_len++;
  if (key_len == len) return true; /* no '=': not ours (the image path under QEMU) */
  const char *value = word + key_len + 1;
  size_t value_len = len - key_len - 1;
  if (word_is(word, key_len, "iters")) {
    if (parse_iters(value, value_len, &args->iters)) return true;
    set_error(error, error_size, "iters wants a number from 1 to 999999: ", word, len);
    return false;
  }
  if (word_is(word, key_len, "only")) return parse_only(value, value_len, args, error, error_size);
  set_error(error, error_size, "unknown option (iters=N, only=K[,K...]|all|none): ", word, len);
  return false;
}

bool bench_parse_args(const char *cmdline, struct bench_args *args, char *error,
                      size_t error_size) {
  args->iters = 1;
  for (unsigned i = 0; i < bench_kernel_count; i++) args->selected[i] = true;
  if (error_size) error[0] = '\0';
  while (*cmdline) {
    while (*cmdline == ' ') cmdline++;
    size_t len = 0;
    while (cmdline[len] && cmdline[len] != ' ') len++;
    if (len && !parse_word(cmdline, len, args, error, error_size)) return false;
    cmdline += len;
  }
  return true;
}
