/* Helpers shared by the fpu and fpu_traps guests: the QEMU TCG deviations,
 * recognised by the CPUID brand string (QEMU's "QEMU Virtual CPU ...";
 * Transvisor's is "Transvisor Virtual CPU"). */
#include "fpu.h"
