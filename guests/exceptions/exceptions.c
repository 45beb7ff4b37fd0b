/*
 * exceptions: the guest lib's GDT and IDT helpers, and two exceptions
 * taken through them: #BP (a trap, SDM Vol. 3A 6.5: EIP after INT3) and
 * #UD (a fault: EIP at the UD2). The handlers see the interrupted registers.
 */
#include "guest.h"

static struct trap_frame seen; /* copy of the last frame a handler got */
static unsigned traps;

static void record_trap(struct trap_frame *frame) {
  seen = *frame;
  traps++;
}

/* #UD is a fault: EIP points at UD2 (SDM Vol. 3A 6.5), so skip its 2 bytes. */
static void skip_ud2(struct trap_frame *frame) {
  record_trap(frame);
  frame->eip += 2;
}

static void check_traps(void) {
  descriptor_tables_init();

  /* #BP is a trap: the saved EIP is the instruction after INT3. */
  set_exception_handler(VEC_BP, record_trap);
  uint32_t after_int3;
  __asm__ volatile("int3\n1:\n\tmovl $1b, %0"
                   : "=r"(after_int3)
                   : "a"(0x12345678), "b"(0x9abcdef0)
                   : "memory");
  check_eq(traps, 1, "#BP handler calls");
  check_eq(seen.vector, VEC_BP, "#BP frame vector");
  check_eq(seen.eip, after_int3, "#BP frame EIP");
  check_eq(seen.cs, GDT_KERNEL_CS, "#BP frame CS");
  check_eq(seen.eax, 0x12345678, "#BP frame EAX");
  check_eq(seen.ebx, 0x9abcdef0, "#BP frame EBX");
  check_eq(seen.ds & 0xFFFF, GDT_KERNEL_DS, "#BP frame DS");

  set_exception_handler(VEC_UD, skip_ud2);
  __asm__ volatile("ud2" : : : "memory");
  check_eq(traps, 2, "#UD handler calls");
  check_eq(seen.vector, VEC_UD, "#UD frame vector");
  check_eq(seen.error_code, 0, "#UD frame error code");
  printf("exceptions: #BP and #UD handled\n");
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  check_traps();
}
