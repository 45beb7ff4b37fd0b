/*
 * platform: the PC platform around the CPU, as a kernel finds it on QEMU's
 * i440FX machine: the local APIC (base MSR, version, TPR/PPR, self-IPIs,
 * nesting by priority class, ISR/EOI, the timer in one-shot, periodic and
 * masked modes), the I/O APIC (version, PIT IRQ0 on pin 2, masking,
 * redirection entry read-back), the HPET (capabilities, main counter, a
 * comparator interrupt through the I/O APIC), the ACPI PM timer and its
 * rate against the HPET, the ACPI and MP tables the firmware leaves in the
 * BIOS area, PCI configuration mechanism #1, and instructions other than
 * MOV on device memory and holes (device_ops.c).
 *
 * Every wait for an interrupt is bounded by the TSC, so a missing interrupt
 * fails its check instead of hanging; HLT is used only for sources that
 * already interrupted once. The 8259A pair is remapped to 0x20/0x28 and
 * kept fully masked: every interrupt here comes through the APICs.
 */
#include "platform.h"

volatile uint32_t vector_count[256];

/* Spurious interrupts (8259A IRQ7/IRQ15, the APIC's spurious vector) have
 * no in-service bit and want no EOI (SDM Vol. 3A 11.9). */
static void spurious(struct trap_frame *frame) { vector_count[frame->vector & 0xff]++; }

void apic_counting_handler(struct trap_frame *frame) {
  vector_count[frame->vector & 0xff]++;
  lapic_write(LAPIC_EOI, 0);
}

uint32_t ioapic_read(uint8_t index) {
  mmio_write32(IOAPIC_BASE, index);
  return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(uint8_t index, uint32_t value) {
  mmio_write32(IOAPIC_BASE, index);
  mmio_write32(IOAPIC_BASE + 0x10, value);
}

void ioapic_route(unsigned pin, uint32_t low, uint32_t high) {
  ioapic_write(IOREDTBL(pin), IOAPIC_MASKED);
  ioapic_write(IOREDTBL(pin) + 1, high);
  ioapic_write(IOREDTBL(pin), low);
}

/* The main counter at 0xF0, high half re-read until stable (HPET 1.0a
 * 2.4.7: a 32-bit reader may see the low half wrap between the reads). */
uint64_t hpet_counter(void) {
  uint32_t hi, lo;
  do {
    hi = mmio_read32(HPET_BASE + 0xF4);
    lo = mmio_read32(HPET_BASE + 0xF0);
  } while (mmio_read32(HPET_BASE + 0xF4) != hi);
  return (uint64_t)hi << 32 | lo;
}

bool wait_count(volatile uint32_t *counter, uint32_t target) {
  uint64_t start = rdtsc();
  sti();
  while (*counter < target && rdtsc() - start < WAIT_CYCLES) {
  }
  cli();
  return *counter >= target;
}

bool halt_until(volatile uint32_t *counter, uint32_t target, unsigned max_halts) {
  for (unsigned i = 0; i < max_halts && *counter < target; i++) {
    __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
  }
  return *counter >= target;
}

void spin_open(uint64_t cycles) {
  uint64_t start = rdtsc();
  sti();
  while (rdtsc() - start < cycles) {
  }
  cli();
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  /* The 8259A pair remapped and fully masked: under QEMU, SeaBIOS left some
   * of its inputs open; on transvisor it starts masked. */
  pic_init();
  set_exception_handler(IRQ_BASE + 7, spurious);
  set_exception_handler(IRQ_BASE + 15, spurious);
  set_exception_handler(SPURIOUS_VECTOR, spurious);
  run_group("apic base and version", check_apic_base);
  run_group("lapic priorities", check_lapic_priorities);
  run_group("lapic timer", check_lapic_timer);
  run_group("ioapic pit routing", check_ioapic);
  run_group("hpet", check_hpet);
  run_group("acpi pm timer", check_pm_timer);
  run_group("acpi tables", check_acpi_tables);
  run_group("mp table", check_mp_table);
  run_group("pci config", check_pci);
  check_device_instructions(info);
}
