/* CPUID, MSRs, the TSC and memory-mapped registers, as inlines for guests
 * that probe platform hardware (SDM Vol. 2: CPUID, RDMSR, WRMSR, RDTSC).
 * Not included by guest.h, so that guests defining their own rdmsr() keep
 * building; include it where needed. */
#pragma once

#include <stdint.h>

struct cpuid_regs {
  uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf) {
  struct cpuid_regs r;
  __asm__ volatile("cpuid"
                   : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                   : "a"(leaf), "c"(subleaf));
  return r;
}

static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value) {
  __asm__ volatile("wrmsr"
                   :
                   : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

/* One 32-bit access to a device register at physical address `addr`
 * (paging off, or mapped 1:1). The asm hides the constant address from
 * GCC, which may otherwise take a low one for a null-pointer offset. */
static inline volatile uint32_t *mmio_ptr32(uintptr_t addr) {
  volatile uint32_t *p;
  __asm__("" : "=r"(p) : "0"(addr));
  return p;
}

static inline uint32_t mmio_read32(uintptr_t addr) { return *mmio_ptr32(addr); }

static inline void mmio_write32(uintptr_t addr, uint32_t value) { *mmio_ptr32(addr) = value; }
