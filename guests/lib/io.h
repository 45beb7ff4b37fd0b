/* Port I/O and a few privileged instructions as inlines, for freestanding
 * 32-bit guests. Operand forms follow SDM Vol. 2 (IN, OUT, CLI, HLT, MOV
 * to and from control registers). */
#pragma once

#include <stdint.h>

/* OUT and IN of a byte, word or dword (b, w, l) through AL/AX/EAX. */
#define DEFINE_PORT_IO(suffix, type)                                      \
  static inline void out##suffix(uint16_t port, type value) {             \
    __asm__ volatile("out" #suffix " %0, %1" : : "a"(value), "Nd"(port)); \
  }                                                                       \
  static inline type in##suffix(uint16_t port) {                          \
    type value;                                                           \
    __asm__ volatile("in" #suffix " %1, %0" : "=a"(value) : "Nd"(port));  \
    return value;                                                         \
  }

DEFINE_PORT_IO(b, uint8_t)
DEFINE_PORT_IO(w, uint16_t)
DEFINE_PORT_IO(l, uint32_t)
#undef DEFINE_PORT_IO

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" : : : "memory"); }

static inline uint32_t read_eflags(void) {
  uint32_t value;
  __asm__ volatile("pushfl; popl %0" : "=r"(value));
  return value;
}

/* read_crN() and write_crN() for CR0, CR2, CR3 and CR4 (SDM Vol. 2B, "MOV-
 * Move to/from Control Registers"). A write is also a compiler barrier, so
 * memory accesses stay on their side of a paging or CR0.TS change. */
#define DEFINE_CONTROL_REGISTER(n)                                 \
  static inline uint32_t read_cr##n(void) {                        \
    uint32_t value;                                                \
    __asm__ volatile("mov %%cr" #n ", %0" : "=r"(value));          \
    return value;                                                  \
  }                                                                \
  static inline void write_cr##n(uint32_t value) {                 \
    __asm__ volatile("mov %0, %%cr" #n : : "r"(value) : "memory"); \
  }

DEFINE_CONTROL_REGISTER(0)
DEFINE_CONTROL_REGISTER(2)
DEFINE_CONTROL_REGISTER(3)
DEFINE_CONTROL_REGISTER(4)
#undef DEFINE_CONTROL_REGISTER
