/* cpu: directed checks of the integer instruction set, the acceptance test
 * for Transvisor's binary translator. Each group prints "<group>: ok" on its
 * own line so a failure points at a topic; finish() prints PASS or FAIL.
 * The groups live in one file per topic; see cpu.h for the harness. */
#include "cpu.h"

bool check_flags(uint32_t got, uint32_t want, uint32_t mask, const char *what) {
  return check((got & mask) == (want & mask), "%s: flags 0x%03x want 0x%03x (mask 0x%03x)", what,
               got & mask, want & mask, mask);
}

bool check_field(const char *name, const char *field, uint32_t got, uint32_t want) {
  return check(got == want, "%s: %s 0x%x want 0x%x", name, field, got, want);
}

/* With "seglimits" on the command line only the data-segment limit and
 * type checks run (the seglimits guest): they need a backend that checks
 * limits on every access, which not every backend does yet. */
static bool want_seglimits(const struct multiboot_info *info) {
  if (!(info->flags & MULTIBOOT_INFO_CMDLINE)) return false;
  return strstr((const char *)info->cmdline, "seglimits") != NULL;
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  if (want_seglimits(info)) {
    test_segment_limits();
    return;
  }
  test_alu();
  test_shift();
  test_muldiv();
  test_bits();
  test_cond();
  test_string();
  test_stack();
  test_atomic();
  test_misc();
  test_bcd();
  test_segments();
  test_intn();
  test_exceptions();
}
