/* fpu: x87, MMX, SSE and SSE2 results checked bit for bit, and the state
 * save/restore instructions. Enables the FPU the way Linux does on i386:
 * CR0.EM = 0 (no emulation), CR0.TS = 0 (no lazy-switch trap), CR0.MP = 1
 * (WAIT honours TS), CR0.NE = 1 (native #MF reporting); CR4.OSFXSR and
 * CR4.OSXMMEXCPT for FXSAVE and SSE (SDM Vol. 3A 2.5 and 13.1.3). No
 * exception is unmasked, so the guest takes none; fpu_traps.c covers the
 * faults. */
#include "fpu.h"

/* CPUID.01H:EDX (SDM Vol. 2A, Table 3-11): FPU, CMOV (for FCOMI), MMX,
 * FXSR, SSE, SSE2. */
#define CPUID_NEEDED ((1u << 0) | (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))

static void fpu_enable(void) {
  uint32_t cr0 = (read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE;
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
  uint32_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
  __asm__ volatile("fninit");
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  uint32_t eax = 1, ebx, ecx = 0, edx;
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  if (!check((edx & CPUID_NEEDED) == CPUID_NEEDED, "CPUID.1:EDX %08x lacks %08x", edx,
             CPUID_NEEDED & ~edx)) {
    return;
  }
  fpu_enable();
  test_x87_arith();
  test_x87_convert();
  test_x87_compare();
  test_x87_state();
  test_mmx();
  test_sse();
  test_fxsave();
}
