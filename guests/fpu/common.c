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

