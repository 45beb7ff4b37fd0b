/* Regression guest (translator review): STI and MOV SS interrupt shadows; an IRQ pending at STI is
 * taken after the next instruction. */
#include "guest.h"
static volatile uint32_t ticks, in_shadow;
extern char movss_after[];
static void tick(struct trap_frame *f) {
  ticks++;
  if (f->eip == (uint32_t)movss_after) in_shadow++;
  outb(0x20, 0x20);
}
static uint8_t irr(void) {
  outb(0x20, 0x0a);
  return inb(0x20);
}
static void pit(uint8_t mode, uint16_t c) {
  outb(0x43, mode);
  outb(0x40, c & 0xff);
  outb(0x40, c >> 8);
}
__attribute__((noinline)) static uint32_t sti_jmp(void) {
  uint32_t t;
  __asm__ volatile("sti\n\tjmp 1f\n1:\tmovl ticks, %0\n\tcli" : "=r"(t) : : "memory");
  return t;
}
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, 0x20);
  outb(0xa1, 0x28);
  outb(0x21, 4);
  outb(0xa1, 2);
  outb(0x21, 1);
  outb(0xa1, 1);
  outb(0x21, 0xfe);
  outb(0xa1, 0xff);
  set_irq_handler(0, tick);
  outb(0x21, 0xff);
  sti_jmp();
  sti_jmp();
  cli();
  outb(0x21, 0xfe);
  /* 1. STI; JMP with an IRQ pending: taken right after the JMP. */
  for (int i = 0; i < 4; i++) {
    cli();
    uint32_t before = ticks;
    pit(0x30, 200);
    while (!(irr() & 1)) {
    }
    uint32_t seen = sti_jmp();
    printf("iteration %d: ticks at jmp target %u (before %u)\n", i, seen, before);
    check_eq(seen, before + 1, "IRQ taken after the instruction in the STI shadow");
    sti();
    for (volatile int k = 0; k < 1000; k++) {
    }
    cli();
  }
  /* 2. MOV SS shadow: no interrupt right after MOV SS. */
  pit(0x34, 1193);
  uint32_t n = 3000000;
  __asm__ volatile(
      "sti\n\tmovw %%ss, %%ax\n"
      "2:\tmovw %%ax, %%ss\n"
      ".globl movss_after\nmovss_after:\tnop\n\t"
      "decl %0\n\tjnz 2b\n\tcli"
      : "+c"(n)
      :
      : "eax", "memory");
  printf("ticks %u, delivered right after MOV SS: %u\n", ticks, in_shadow);
  check_eq(in_shadow, 0, "interrupts inside the MOV SS shadow");
}
