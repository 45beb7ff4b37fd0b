/* Regression guest (translator review): CLI at CPL 3 with IOPL 0 raises #GP. */
#include "guest.h"
static struct {
  uint32_t link, esp0, ss0;
  uint32_t rest[23];
} __attribute__((aligned(64))) tss;
static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));
static volatile uint32_t gps;
static void on_gp(struct trap_frame *f) {
  gps++;
  f->eip += 1;
}
static void on_80(struct trap_frame *f) {
  printf("user: #GP count %u, user EFLAGS after CLI %x\n", gps, f->eax);
  check_eq(gps, 1, "CLI at CPL3/IOPL0 raises #GP");
  check(f->eax & 0x200, "IF still set after CLI at CPL3");
  finish();
}
extern char user_fn[];
__asm__(
    ".pushsection .text\nuser_fn:\n\tcli\n\tpushfl\n\tpopl %eax\n\tint $0x80\n1:\tjmp "
    "1b\n.popsection\n");
void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  gdt_set_segment(4, 0, 3, GDT_ACCESS_CODE_RX);
  gdt_set_segment(5, 0, 3, GDT_ACCESS_DATA_RW);
  tss.esp0 = (uint32_t)(kstack + sizeof kstack);
  tss.ss0 = 0x10;
  gdt_set_entry(6, (uint32_t)&tss, sizeof tss - 1, GDT_ACCESS_PRESENT | GDT_ACCESS_TSS32, 0);
  __asm__ volatile("ltr %w0" : : "r"(0x30));
  set_exception_handler(13, on_gp);
  set_exception_handler(0x80, on_80);
  idt_set_gate(0x80, idt_stub(0x80), 0x08, IDT_INTERRUPT_GATE | IDT_DPL3);
  __asm__ volatile(
      "pushl $0x2b\n\tpushl %0\n\tpushl $0x202\n\tpushl $0x23\n\tpushl $user_fn\n\tiret"
      :
      : "r"((uint32_t)(ustack + sizeof ustack)));
}
