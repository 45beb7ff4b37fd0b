/* User segments, the TSS and the way into ring 3 (see tss.h). The TSS
 * layout is SDM Vol. 3A 7.2.1, Figure 7-2; the I/O bitmap follows it, one
 * bit per port, plus the all-ones byte the SDM asks for after its last
 * byte (SDM Vol. 1, "I/O Permission Bit Map"), so the TSS limit covers
 * base + 8192. */
#include "tss.h"

#include "kstring.h"

#define IO_BITMAP_BYTES 8192

/* The ring-3 TSS: the architectural part and the I/O bitmap after it. */
struct tss_with_iomap {
  struct tss32 t;
  uint8_t iomap[IO_BITMAP_BYTES + 1];
} __attribute__((packed));

_Static_assert(__builtin_offsetof(struct tss32, iomap_base) == 0x66, "TSS layout (Figure 7-2)");

static struct tss_with_iomap tss __attribute__((aligned(128)));
static uint8_t tss_stack[TSS_STACK_SIZE] __attribute__((aligned(16)));

void (*sysenter_handler)(struct sysenter_frame *frame);

/* user_call()'s ESP after it saved the callee-saved registers; used by
 * user_return(). */
uint32_t user_call_kernel_esp;

void tss_init(void) {
  gdt_set_segment(GDT_USER_CS >> 3, 0, 3, GDT_ACCESS_CODE_RX);
  gdt_set_segment(GDT_USER_DS >> 3, 0, 3, GDT_ACCESS_DATA_RW);

  memset(&tss, 0, sizeof tss);
  tss.t.ss0 = GDT_KERNEL_DS;
  tss.t.esp0 = tss_stack_top();
  tss.t.iomap_base = __builtin_offsetof(struct tss_with_iomap, iomap);
  memset(tss.iomap, 0xFF, sizeof tss.iomap);
  gdt_set_entry(GDT_TSS_SEL >> 3, (uint32_t)&tss, sizeof tss - 1,
                GDT_ACCESS_PRESENT | GDT_ACCESS_TSS32, 0);
  __asm__ volatile("ltr %w0" : : "r"((uint16_t)GDT_TSS_SEL) : "memory");
}

uint32_t tss_stack_top(void) { return (uint32_t)tss_stack + sizeof tss_stack; }

void tss_set_esp0(uint32_t esp0) { tss.t.esp0 = esp0; }

uint32_t tss_esp0(void) { return tss.t.esp0; }

void tss_allow_port(uint16_t port, bool allow) {
  uint8_t bit = (uint8_t)(1u << (port & 7));
  if (allow) {
    tss.iomap[port >> 3] &= (uint8_t)~bit;
  } else {
    tss.iomap[port >> 3] |= bit;
  }
}

/* user_call(regs): saves EBP/EBX/ESI/EDI and ESP, builds the IRET frame
 * for a privilege change (SDM Vol. 2A IRET: EIP, CS, EFLAGS, ESP, SS), loads
 * user data segments and the registers, and IRETs. user_return(value)
 * comes back onto that saved stack. Offsets follow struct user_regs. */
// clang-format off
__asm__(".pushsection .text\n"
        ".globl user_call\n"
        "user_call:\n\t"
        "pushl %ebp\n\tpushl %ebx\n\tpushl %esi\n\tpushl %edi\n\t"
        "movl %esp, user_call_kernel_esp\n\t"
        "movl 20(%esp), %ebp\n\t"
        "pushl $0x23\n\t"       /* SS: GDT_USER_DS */
        "pushl 32(%ebp)\n\t"    /* ESP */
        "movl 36(%ebp), %eax\n\t"
        "orl $2, %eax\n\t"
        "pushl %eax\n\t"        /* EFLAGS */
        "pushl $0x1B\n\t"       /* CS: GDT_USER_CS */
        "pushl 28(%ebp)\n\t"    /* EIP */
        "movl $0x23, %eax\n\t"
        "movl %eax, %ds\n\tmovl %eax, %es\n\tmovl %eax, %fs\n\tmovl %eax, %gs\n\t"
        "movl 0(%ebp), %eax\n\t"
        "movl 4(%ebp), %ebx\n\t"
        "movl 8(%ebp), %ecx\n\t"
        "movl 12(%ebp), %edx\n\t"
        "movl 16(%ebp), %esi\n\t"
        "movl 20(%ebp), %edi\n\t"
        "movl 24(%ebp), %ebp\n\t"
        "iret\n"
        ".globl user_return\n"
        "user_return:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl user_call_kernel_esp, %esp\n\t"
        "movl $0x10, %ecx\n\t"  /* GDT_KERNEL_DS */
        "movl %ecx, %ds\n\tmovl %ecx, %es\n\tmovl %ecx, %fs\n\tmovl %ecx, %gs\n\t"
        "popl %edi\n\tpopl %esi\n\tpopl %ebx\n\tpopl %ebp\n\t"
        "ret\n"
        ".popsection");
// clang-format on

_Static_assert(GDT_USER_CS == 0x1B && GDT_USER_DS == 0x23 && GDT_KERNEL_DS == 0x10,
               "selectors hard-coded in user_call");
_Static_assert(__builtin_offsetof(struct user_regs, eip) == 28 &&
                   __builtin_offsetof(struct user_regs, eflags) == 36,
               "struct user_regs offsets used by user_call");
