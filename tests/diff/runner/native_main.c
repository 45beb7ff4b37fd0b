/* The native runner: a 32-bit Linux program that runs a case file on the
 * host CPU, the oracle of the differential test.
 *
 *   diff_native CASE-FILE
 *
 * Prints the same report lines as the guest runner, then "diff: N cases". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "diff_runner.h"

static void *read_file(const char *path, uint32_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t capacity = 1 << 20, used = 0;
  char *buf = malloc(capacity);
  size_t n;
  while (buf != NULL && (n = fread(buf + used, 1, capacity - used, f)) > 0) {
    used += n;
    if (used == capacity) buf = realloc(buf, capacity *= 2);
  }
  fclose(f);
  *size = (uint32_t)used;
  return buf;
}

static void emit(const char *line) { puts(line); }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: diff_native CASE-FILE\n");
    return 2;
  }
  uint32_t size = 0;
  void *file = read_file(argv[1], &size);
  if (file == NULL) {
    perror(argv[1]);
    return 2;
  }
  const char *error = NULL;
  const int count = diff_check_file(file, size, &error);
  if (count < 0) {
    fprintf(stderr, "diff_native: %s: %s\n", argv[1], error);
    return 2;
  }
  /* SAFETY: a private anonymous mapping that only the cases' copied bytes
   * and their RET are written to and run from; it is never freed while
   * running and the process ends after the loop. */
  size_t area_size = (size_t)count * DIFF_SLOT_SIZE + 1;
  void *area =
      mmap(NULL, area_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  diff_run_all(file, area, emit);
  printf("diff: %d cases\n", count);
  return 0;
}
