/* Helpers shared by the fpu and fpu_traps guests: group reports and the
 * QEMU TCG deviations, recognised by the CPUID brand string (QEMU's
 * "QEMU Virtual CPU ..."; Transvisor's is "Transvisor Virtual CPU"). */
#include "fpu.h"

void group_done(const char *group, unsigned before) {
  unsigned failed = check_failures() - before;
  if (failed == 0) {
    printf("%s: ok\n", group);
  } else {
    printf("%s: %u failed\n", group, failed);
  }
}

static bool brand_is_qemu(void) {
  uint32_t regs[4] = {0x80000000, 0, 0, 0};
  __asm__ volatile("cpuid" : "+a"(regs[0]), "=b"(regs[1]), "+c"(regs[2]), "=d"(regs[3]));
  if (regs[0] < 0x80000002) return false;
  regs[0] = 0x80000002;
  regs[2] = 0;
  __asm__ volatile("cpuid" : "+a"(regs[0]), "=b"(regs[1]), "+c"(regs[2]), "=d"(regs[3]));
  return memcmp(regs, "QEMU", 4) == 0;
}

bool qemu_deviation(const char *what) {
  static int qemu = -1;
  if (qemu < 0) qemu = brand_is_qemu();
  if (qemu) printf("note: not checked on QEMU TCG, which departs from the SDM: %s\n", what);
  return qemu;
}
