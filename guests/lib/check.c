/* Check accounting and the way out of a guest (QEMU isa-debug-exit: a
 * 32-bit write to port 0xF4 ends the VM with status (value << 1) | 1). */
#include "check.h"

#include <stdarg.h>

#include "io.h"
#include "printf.h"

static unsigned failures;

void halt_forever(void) {
  for (;;) {
    cli();
    hlt();
  }
}

void exit_guest(uint32_t value) {
  outl(DEBUG_EXIT_PORT, value);
  halt_forever();
}

bool check(bool cond, const char *fmt, ...) {
  if (cond) return true;
  failures++;
  va_list ap;
  va_start(ap, fmt);
  printf("check failed: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  return false;
}

bool check_eq(uint32_t got, uint32_t want, const char *what) {
  return check(got == want, "%s: got 0x%x want 0x%x", what, got, want);
}

bool check_eq64(uint64_t got, uint64_t want, const char *what) {
  return check(got == want, "%s: got 0x%llx want 0x%llx", what, got, want);
}

unsigned check_failures(void) { return failures; }

void group_done(const char *group, unsigned before) {
  unsigned failed = check_failures() - before;
  if (failed == 0) {
    printf("%s: ok\n", group);
  } else {
    printf("%s: %u failed\n", group, failed);
  }
}

void run_group(const char *name, void (*fn)(void)) {
  unsigned before = check_failures();
  fn();
  group_done(name, before);
}

void finish(void) {
  if (failures == 0) {
    printf("PASS\n");
    exit_guest(EXIT_PASS);
  }
  printf("FAIL: %u checks failed\n", failures);
  exit_guest(EXIT_FAIL);
}
