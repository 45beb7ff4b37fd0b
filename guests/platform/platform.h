/* Shared pieces of the platform guest: the fixed addresses of the PC
 * platform, register access to the local APIC, I/O APIC and HPET, the
 * vectors each check uses, and bounded waits for interrupts. */
#pragma once

#include "guest.h"
#include "hw.h"
#include "pic.h"

/* Fixed places (SDM Vol. 3A 11.4.1; 82093AA datasheet; IA-PC HPET 1.0a;
 * ACPI 6.x 4.8.3.3 for the PIIX4-style PM timer QEMU puts at 0x608). */
#define LAPIC_BASE 0xFEE00000u
#define IOAPIC_BASE 0xFEC00000u
#define HPET_BASE 0xFED00000u
#define PM_TIMER_PORT 0x608
#define PM_TIMER_HZ 3579545u

/* Local APIC registers (SDM Vol. 3A Table 11-1). */
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_PPR 0x0A0
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_ISR 0x100
#define LAPIC_IRR 0x200
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3E0

#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define SVR_ENABLE (1u << 8)
#define SPURIOUS_VECTOR 0xFF

/* The vectors the checks use: APIC priority class = vector >> 4. */
#define VEC_TPR_TEST 0x45
#define VEC_LOW 0x32
#define VEC_HIGH 0x61
#define VEC_TIMER_ONESHOT 0x40
#define VEC_TIMER_PERIODIC 0x41
#define VEC_TIMER_MASKED 0x42
#define VEC_IOAPIC_PIT 0x50
#define VEC_IOAPIC_HPET 0x51

/* I/O APIC: IOREGSEL at +0, IOWIN at +0x10; redirection entry n at
 * indices 0x10 + 2n (low) and 0x11 + 2n (high) (82093AA 3.2). */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOREDTBL(n) (0x10 + 2 * (n))
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_LOGICAL (1u << 11)
#define IOAPIC_PIT_PIN 2 /* ISA IRQ0: the interrupt source override */

/* Generous bound on a wait for an event, in TSC cycles: seconds at any
 * plausible TSC rate. Only a failing check ever waits this long. */
#define WAIT_CYCLES 20000000000ull
/* A quiet period in which an interrupt that should not come would: at
 * least 10 ms at a TSC of 5 GHz or less. */
#define QUIET_CYCLES 50000000ull

static inline uint32_t lapic_read(unsigned reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(unsigned reg, uint32_t value) {
  mmio_write32(LAPIC_BASE + reg, value);
}

/* Bit `vector` of the 256-bit ISR, TMR or IRR starting at `reg`. */
static inline bool lapic_vector_bit(unsigned reg, uint8_t vector) {
  return lapic_read(reg + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

uint32_t ioapic_read(uint8_t index);
void ioapic_write(uint8_t index, uint32_t value);
/* Writes pin's entry: `high` first with the pin masked, then `low`. */
void ioapic_route(unsigned pin, uint32_t low, uint32_t high);

/* HPET registers are 64-bit; the guest reads them as two dwords. */
uint64_t hpet_counter(void);

/* Per-vector counts, kept by apic_counting_handler. */
extern volatile uint32_t vector_count[256];
/* Counts the vector and writes EOI; the handler every check installs. */
void apic_counting_handler(struct trap_frame *frame);

/* Lets interrupts in until `*counter` reaches `target` or WAIT_CYCLES
 * pass; true if it got there. */
bool wait_count(volatile uint32_t *counter, uint32_t target);
/* STI; HLT until `*counter` reaches `target`, at most `max_halts` times;
 * for a source already known to keep interrupting. */
bool halt_until(volatile uint32_t *counter, uint32_t target, unsigned max_halts);
/* Interrupts on for `cycles` TSC cycles. */
void spin_open(uint64_t cycles);

/* The checks, by group (lapic.c, timers.c, firmware.c). */
void check_apic_base(void);
void check_lapic_priorities(void);
void check_lapic_timer(void);
void check_ioapic(void);
void check_hpet(void);
void check_pm_timer(void);
void check_acpi_tables(void);
void check_mp_table(void);
void check_pci(void);
/* Runs two groups of its own (paging off, then on). */
void check_device_instructions(const struct multiboot_info *info);
