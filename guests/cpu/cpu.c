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

void run_reg_cases(const struct reg_case *cases, unsigned count) {
  static const char *const names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
  for (const struct reg_case *c = cases; c < cases + count; c++) {
    struct regs r = c->in;
    run_regs(&r, c->code);
    for (unsigned n = 0; n < 8; n++) {
      if (c->compare & (1u << n)) check_field(c->name, names[n], r.gpr[n], c->want.gpr[n]);
    }
    if (c->flag_mask) check_flags(r.eflags, c->want.eflags, c->flag_mask, c->name);
  }
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
    run_group("segment limits", test_segment_limits);
    return;
  }
  run_group("alu", test_alu);
  run_group("shift", test_shift);
  run_group("muldiv", test_muldiv);
  run_group("bits", test_bits);
  run_group("cond", test_cond);
  run_group("string", test_string);
  run_group("stack", test_stack);
  run_group("atomic", test_atomic);
  run_group("misc", test_misc);
  run_group("bcd", test_bcd);
  run_group("segments", test_segments);
  run_group("intn", test_intn);
  run_group("exceptions", test_exceptions);
}
