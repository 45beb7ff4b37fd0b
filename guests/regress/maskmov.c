/* Regression guest (translator review): MASKMOVQ/MASKMOVDQU write through the shadow window. */
#include "guest.h"
static uint8_t buf[16] __attribute__((aligned(8)));
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  __asm__ volatile("movl %%cr4, %%eax\n\torl $0x200, %%eax\n\tmovl %%eax, %%cr4" ::: "eax");
  static const uint64_t val = 0x1122334455667788ull, mask = ~0ull;
  __asm__ volatile(
      "movq %0, %%mm0\n\tmovq %1, %%mm1\n\tmovl %2, %%edi\n\t"
      ".byte 0x0f, 0xf7, 0xc1\n\temms" /* maskmovq mm0, mm1 */
      :
      : "m"(val), "m"(mask), "r"(buf)
      : "edi", "memory");
  check_eq(*(uint32_t *)buf, 0x55667788, "maskmovq stores to DS:[EDI]");
}
