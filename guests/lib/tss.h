/* Ring 3 for guests: user code and data segments, a 32-bit TSS whose
 * SS0:ESP0 receives interrupts from ring 3 (SDM Vol. 3A 6.12.1) and whose
 * I/O permission bitmap can open single ports (SDM Vol. 1, "I/O
 * Permission Bit Map"), a way into ring 3 that returns when a trap handler
 * says so, and the MSR instructions SYSENTER needs. Not included by
 * guest.h: ring-3 guests include it themselves.
 *
 * The GDT layout follows SYSENTER/SYSEXIT (SDM Vol. 2B): with
 * IA32_SYSENTER_CS = 0x08, SYSENTER loads SS 0x10, and SYSEXIT loads CS
 * 0x18|3 and SS 0x20|3, which are the user segments below. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gdt.h"

#define GDT_USER_CS 0x1B /* index 3, RPL 3 */
#define GDT_USER_DS 0x23 /* index 4, RPL 3 */
#define GDT_TSS_SEL 0x28 /* index 5 */

/* EFLAGS bits (SDM Vol. 1 3.4.3). */
#define EFLAGS_FIXED 0x0002u
#define EFLAGS_IF 0x0200u
#define EFLAGS_IOPL3 0x3000u

/* MSRs (SDM Vol. 4, Table 2-2). */
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

#define TSS_STACK_SIZE 16384

/* A 32-bit TSS without its I/O bitmap (SDM Vol. 3A 7.2.1, Figure 7-2). */
struct tss32 {
  uint16_t link, link_hi;
  uint32_t esp0;
  uint16_t ss0, ss0_hi;
  uint32_t esp1;
  uint16_t ss1, ss1_hi;
  uint32_t esp2;
  uint16_t ss2, ss2_hi;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint16_t es, es_hi, cs, cs_hi, ss, ss_hi, ds, ds_hi, fs, fs_hi, gs, gs_hi, ldt, ldt_hi;
  uint16_t trap;
  uint16_t iomap_base;
} __attribute__((packed));

/* Writes user code/data descriptors (flat, DPL 3) and the TSS descriptor
 * into the GDT and loads TR. SS0:ESP0 = kernel data : top of a 16 KiB
 * stack of its own; every I/O port is closed. Call after gdt_init(). */
void tss_init(void);

/* The top of the TSS's own stack (the initial ESP0). */
uint32_t tss_stack_top(void);

/* ESP0, the ring-0 stack an interrupt from ring 3 switches to. */
void tss_set_esp0(uint32_t esp0);
uint32_t tss_esp0(void);

/* Opens (or closes) `port` to ring 3 while CPL > IOPL. */
void tss_allow_port(uint16_t port, bool allow);

/* Registers on entry to ring 3. eflags gets bit 1 set; IF and IOPL as given. */
struct user_regs {
  uint32_t eax, ebx, ecx, edx, esi, edi, ebp;
  uint32_t eip, esp, eflags;
};

/* Enters ring 3 with IRET (CS GDT_USER_CS, SS/DS/ES/FS/GS GDT_USER_DS)
 * and the registers in `regs`. Returns the value a trap handler passes to
 * user_return(), with interrupts off and kernel data segments. Not
 * reentrant. */
uint32_t user_call(const struct user_regs *regs);

/* From a handler of a trap taken in ring 3 (running on the ESP0 stack):
 * abandons that stack and makes the pending user_call() return `value`.
 * A handler for an IRQ sends its EOI first. */
__attribute__((noreturn)) void user_return(uint32_t value);

/* What sysenter_entry saved: the user's registers and data segments. */
struct sysenter_frame {
  uint32_t eax, ebx, ecx, edx, esi, edi, ebp, es, ds;
};

/* A SYSENTER entry point for IA32_SYSENTER_EIP (sysenter.S): saves the
 * user's registers on the IA32_SYSENTER_ESP stack, loads kernel data
 * segments, calls sysenter_handler with the frame (which it may change,
 * EAX for a result) and SYSEXITs with the frame's registers. */
extern char sysenter_entry[];
extern void (*sysenter_handler)(struct sysenter_frame *frame);

static inline void wrmsr(uint32_t msr, uint64_t value) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
