/* Regression guest (translator review): FS/GS overrides on push m, pop m and indirect branches in
 * flat mode. */
#include "guest.h"
static uint32_t area[64];
static uint32_t got_push, got_mov;
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  gdt_set_segment(3, (uint32_t)area, 0, GDT_ACCESS_DATA_RW);
  __asm__ volatile("movw $0x18, %%ax\n\tmovw %%ax, %%fs" ::: "eax");
  area[4] = 0xabcdef01;
  __asm__ volatile("movl %%fs:16, %%eax\n\tmovl %%eax, %0" : "=m"(got_mov)::"eax");
  __asm__ volatile("pushl %%fs:16\n\tpopl %0" : "=m"(got_push)::"memory");
  check_eq(got_mov, 0xabcdef01, "mov from fs:16");
  check_eq(got_push, 0xabcdef01, "push fs:16");
  __asm__ volatile("pushl $0x5a5a5a5a\n\tpopl %%fs:20" ::: "memory");
  check_eq(area[5], 0x5a5a5a5a, "pop fs:20");
  __asm__ volatile("movw $0x10, %%ax\n\tmovw %%ax, %%fs" ::: "eax");
}
