/* GDT construction and loading (SDM Vol. 3A 3.4.5 and 3.5.1, "Segment
 * Descriptor Tables"). After LGDT the old descriptor caches stay in use
 * until each segment register is reloaded (SDM Vol. 3A 3.4.3), hence the far
 * jump and the data-segment reloads. */
#include "gdt.h"

#include "check.h"
#include "printf.h"

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));

void gdt_set_entry(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
  if (index >= GDT_ENTRIES) {
    printf("gdt_set_entry: index %u out of range\n", index);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  uint64_t d = limit & 0xFFFF;
  d |= (uint64_t)(base & 0xFFFFFF) << 16;
  d |= (uint64_t)access << 40;
  d |= (uint64_t)((limit >> 16) & 0xF) << 48;
  d |= (uint64_t)(flags & 0xF) << 52;
  d |= (uint64_t)(base >> 24) << 56;
  gdt[index] = d;
}

void gdt_set_segment(unsigned index, uint32_t base, unsigned dpl, uint8_t type) {
  gdt_set_entry(index, base, 0xFFFFF,
                GDT_ACCESS_PRESENT | GDT_ACCESS_DPL(dpl) | GDT_ACCESS_CODE_DATA | type,
                GDT_FLAG_4K | GDT_FLAG_32);
}

uint64_t gdt_get_entry(unsigned index) { return index < GDT_ENTRIES ? gdt[index] : 0; }

void gdt_init(void) {
  gdt_set_entry(0, 0, 0, 0, 0);
  gdt_set_segment(GDT_KERNEL_CS >> 3, 0, 0, GDT_ACCESS_CODE_RX);
  gdt_set_segment(GDT_KERNEL_DS >> 3, 0, 0, GDT_ACCESS_DATA_RW);

  struct {
    uint16_t limit;
    uint32_t base;
  } __attribute__((packed)) gdtr = {sizeof gdt - 1, (uint32_t)gdt};
  __asm__ volatile(
      "lgdt %0\n\t"
      "ljmp $%c1, $1f\n"
      "1:\n\t"
      "mov %2, %%ds\n\t"
      "mov %2, %%es\n\t"
      "mov %2, %%fs\n\t"
      "mov %2, %%gs\n\t"
      "mov %2, %%ss"
      :
      : "m"(gdtr), "i"(GDT_KERNEL_CS), "r"((uint32_t)GDT_KERNEL_DS)
      : "memory");
}
