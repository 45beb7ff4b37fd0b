/* Which machine a guest runs on, for the few checks where QEMU TCG (the
 * reference the guests are cross-checked against) departs from the SDM. */
#ifndef GUEST_REFERENCE_H
#define GUEST_REFERENCE_H

#include <stdbool.h>

/* True on QEMU TCG (CPUID brand string "QEMU ..."). */
bool on_qemu(void);

/* On QEMU, prints that `what` is not checked there and returns true. */
bool qemu_deviation(const char *what);

#endif
