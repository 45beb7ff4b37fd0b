#include "reference.h"

#include <stdint.h>

#include "kstring.h"
#include "printf.h"

bool on_qemu(void) {
  static int qemu = -1;
  if (qemu >= 0) return qemu;
  uint32_t r[4] = {0x80000000, 0, 0, 0};
  __asm__ volatile("cpuid" : "+a"(r[0]), "=b"(r[1]), "+c"(r[2]), "=d"(r[3]));
  qemu = 0;
  if (r[0] >= 0x80000002) {
    r[0] = 0x80000002;
    r[2] = 0;
    __asm__ volatile("cpuid" : "+a"(r[0]), "=b"(r[1]), "+c"(r[2]), "=d"(r[3]));
    qemu = memcmp(r, "QEMU", 4) == 0;
  }
  return qemu;
}

bool qemu_deviation(const char *what) {
  bool qemu = on_qemu();
  if (qemu) printf("note: not checked on QEMU TCG, which departs from the SDM: %s\n", what);
  return qemu;
}
