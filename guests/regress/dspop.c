/* Regression guest (translator review): pop m with a non-zero DS base stores through the segment.
 */
#include "guest.h"
static uint32_t area[64];
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  gdt_set_segment(3, (uint32_t)area, 0, GDT_ACCESS_DATA_RW);
  __asm__ volatile(
      "movw $0x18, %%ax\n\tmovw %%ax, %%ds\n\t"
      "pushl $0x5a5a5a5a\n\tpopl 16\n\t"
      "movl $0x77, 20\n\t"
      "movw $0x10, %%ax\n\tmovw %%ax, %%ds" ::
          : "eax", "memory");
  check_eq(area[5], 0x77, "mov to ds:20 (non-flat DS)");
  check_eq(area[4], 0x5a5a5a5a, "pop to ds:16 (non-flat DS)");
}
