/* Regression guest (translator review): pop m and pushfd leave precise state when their store
 * faults. */
#include "guest.h"
/* A code page with a data area inside it; run code in it first so it is translated. */
__asm__(
    ".pushsection .text\n.balign 4096\n"
    ".globl codepage_fn\ncodepage_fn:\n\tmovl $42, %eax\n\tret\n"
    ".balign 64\n.globl codepage_buf\ncodepage_buf:\n\t.skip 256\n"
    ".globl codepage_top\ncodepage_top:\n\t.skip 64\n.popsection\n");
extern int codepage_fn(void);
extern uint32_t codepage_buf[], codepage_top[];

static uint32_t saved_esp, after_esp, pushed, flags_after;

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  check_eq(codepage_fn(), 42, "codepage fn");
  /* 1. pop dword [code page]: ESP must advance by exactly 4 and the word popped. */
  codepage_buf[0] = 0;
  __asm__ volatile(
      "pushl $0x22222222\n\t"
      "pushl $0x11111111\n\t"
      "movl %%esp, %0\n\t"
      "popl codepage_buf\n\t"
      "movl %%esp, %1\n\t"
      "movl %0, %%esp\n\t"
      "addl $8, %%esp\n\t"
      : "=m"(saved_esp), "=m"(after_esp)
      :
      : "memory");
  check_eq(after_esp - saved_esp, 4, "pop m32 to code page: ESP delta");
  check_eq(codepage_buf[0], 0x11111111, "pop m32 to code page: value");
  check_eq(codepage_fn(), 42, "codepage fn again");
  /* 2. pushfd with the stack in a code page: flags must survive. */
  __asm__ volatile(
      "movl %%esp, %%ebx\n\t"
      "movl $codepage_top, %%esp\n\t"
      "movl $0x7f, %%eax\n\t"
      "addb $0x81, %%al\n\t" /* CF=1 ZF=1 AF=1 PF=1 */
      "pushfl\n\t"
      "pushfl\n\t"
      "popl %%ecx\n\t" /* flags after first pushfd, via second pushfd */
      "popl %%edx\n\t"
      "movl %%ebx, %%esp\n\t"
      "movl %%edx, %0\n\t"
      "movl %%ecx, %1\n\t"
      : "=m"(pushed), "=m"(flags_after)
      :
      : "eax", "ebx", "ecx", "edx", "memory", "cc");
  printf("pushed %x after %x\n", pushed, flags_after);
  check_eq(pushed & 0x8d5, 0x55, "pushfd on code page: pushed flags");
  check_eq(flags_after & 0x8d5, 0x55, "pushfd on code page: flags after");
}
