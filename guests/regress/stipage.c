/* Regression guest (translator review): code on the page after an STI at a page end is traced for
 * self-modifying code. */
#include "guest.h"
__asm__(
    ".pushsection .text\n.balign 4096\n.skip 4096 - 3\n"
    ".globl sti_fn\nsti_fn:\n\tnop\n\tnop\n\tsti\n" /* sti is the last byte of the page */
    ".globl sti_next\nsti_next:\n\tmovl $0x11111111, %eax\n\tcli\n\tret\n.popsection\n");
extern uint32_t sti_fn(void);
extern uint8_t sti_next[];
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  check_eq(sti_fn(), 0x11111111, "first run");
  *(volatile uint32_t *)(sti_next + 1) = 0x22222222;
  check_eq(sti_fn(), 0x22222222, "after patching the instruction in the STI shadow (next page)");
}
