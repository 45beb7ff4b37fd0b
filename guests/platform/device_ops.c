/* Instructions other than MOV on device memory and on an address nothing
 * decodes, the way kernels use them: OR/AND into an HPET register (Linux's
 * and kvm-unit-tests' `orl $1, cfg`), CMP/TEST/BT/ADD reading a device
 * register, XCHG/INC/LOCK on the APIC's TPR, REP MOVS out of device
 * registers, and arithmetic and REP STOS on a hole. A device sees one read
 * and one write per read-modify-write, and the flags are those of the
 * device's value. Writes to the hole are dropped; it reads all-ones on
 * transvisor (a PC's open bus) and zero on QEMU, and either is accepted.
 * Run with paging off and again with the pages mapped 1:1. */
#include "paging.h"
#include "platform.h"

#define HOLE 0xFF000000u /* outside RAM, no device: the same on both machines */
#define HPET_CAP 0x000
#define HPET_CONFIG 0x010
#define HPET_ENABLE 1u

static void check_hpet_rmw(void) {
  volatile uint32_t *config = mmio_ptr32(HPET_BASE + HPET_CONFIG);
  volatile uint32_t *cap = mmio_ptr32(HPET_BASE + HPET_CAP);
  const uint32_t cap_value = *cap;

  *config = 0;
  __asm__ volatile("orl $1, %0" : "+m"(*config));
  check_eq(*config & HPET_ENABLE, HPET_ENABLE, "HPET ENABLE_CNF after orl $1");
  uint64_t c0 = hpet_counter();
  uint64_t start = rdtsc();
  while (hpet_counter() == c0 && rdtsc() - start < WAIT_CYCLES) {
  }
  check(hpet_counter() != c0, "HPET counter runs after orl $1");
  __asm__ volatile("andl $~1, %0" : "+m"(*config));
  check_eq(*config & HPET_ENABLE, 0, "HPET ENABLE_CNF after andl $~1");

  uint8_t equal, below;
  __asm__ volatile("cmpl %2, %1\n\tsete %0" : "=q"(equal) : "m"(*cap), "r"(cap_value) : "cc");
  check(equal, "cmpl against the HPET capabilities sets ZF");
  __asm__ volatile("cmpl %2, %1\n\tsetb %0" : "=q"(below) : "m"(*cap), "r"(cap_value + 1) : "cc");
  check(below, "cmpl against the HPET capabilities sets CF");
  uint8_t bit; /* LEG_RT_CAP, bit 15 */
  __asm__ volatile("btl $15, %1\n\tsetc %0" : "=q"(bit) : "m"(*cap) : "cc");
  check_eq(bit, (cap_value >> 15) & 1, "btl $15 on the HPET capabilities");
  uint32_t sum = 5;
  __asm__ volatile("addl %1, %0" : "+r"(sum) : "m"(*cap) : "cc");
  check_eq(sum, cap_value + 5, "addl from the HPET capabilities");

  uint32_t copy[2] = {0, 0};
  void *dst = copy, *src = (void *)cap;
  uint32_t count = 2;
  __asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
  check_eq(copy[0], cap_value, "rep movsl from the HPET: capabilities");
  check_eq(copy[1], mmio_read32(HPET_BASE + 4), "rep movsl from the HPET: period");
}

static void check_tpr_rmw(void) {
  volatile uint32_t *tpr = mmio_ptr32(LAPIC_BASE + LAPIC_TPR);
  const uint32_t saved = *tpr;
  *tpr = 0x10;
  uint32_t old = 0x20;
  __asm__ volatile("xchgl %0, %1" : "+r"(old), "+m"(*tpr));
  check_eq(old, 0x10, "xchgl with TPR: old value");
  check_eq(*tpr, 0x20, "xchgl with TPR: new value");
  __asm__ volatile("incl %0" : "+m"(*tpr) : : "cc");
  check_eq(*tpr, 0x21, "incl TPR");
  __asm__ volatile("lock decl %0" : "+m"(*tpr) : : "cc");
  check_eq(*tpr, 0x20, "lock decl TPR");
  uint32_t expect = 0x20, replace = 0x30;
  __asm__ volatile("lock cmpxchgl %2, %1" : "+a"(expect), "+m"(*tpr) : "r"(replace) : "cc");
  check_eq(*tpr, 0x30, "lock cmpxchgl TPR");
  *tpr = saved;
}

static void check_hole(void) {
  volatile uint32_t *hole = mmio_ptr32(HOLE);
  const uint32_t idle = *hole;
  check(idle == 0xFFFFFFFFu || idle == 0, "hole reads 0x%x, not all-ones or zero", idle);
  __asm__ volatile("addl $5, %0" : "+m"(*hole) : : "cc");
  check_eq(*hole, idle, "hole after addl $5");
  __asm__ volatile("lock incl %0" : "+m"(*hole) : : "cc");
  check_eq(*hole, idle, "hole after lock incl");
  uint8_t zero;
  __asm__ volatile("testl $0xFFFFFFFF, %1\n\tsetz %0" : "=q"(zero) : "m"(*hole) : "cc");
  check_eq(zero, idle == 0, "testl on the hole");
  void *dst = (void *)hole;
  uint32_t count = 2048; /* two pages' worth from HOLE: past a page boundary */
  __asm__ volatile("rep stosl" : "+D"(dst), "+c"(count) : "a"(0x12345678u) : "memory");
  check_eq(count, 0, "rep stosl over the hole runs to the end");
  check_eq(mmio_read32(HOLE + 0x1FFC), idle, "hole after rep stosl");
}

static void run_all(void) {
  check_hpet_rmw();
  check_tpr_rmw();
  check_hole();
}

void check_device_instructions(const struct multiboot_info *info) {
  run_group("device instructions", run_all);
  /* Again through page tables: device pages and the hole mapped 1:1,
   * uncached as a kernel maps them. */
  page_pool_init_default(ram_end(info));
  uint32_t *pd = pd_create();
  map_kernel(pd, ram_end(info), PTE_P | PTE_RW);
  const uint32_t pages[] = {HPET_BASE, LAPIC_BASE, HOLE, HOLE + PAGE_SIZE};
  for (unsigned i = 0; i < sizeof pages / sizeof pages[0]; i++)
    map_page(pd, pages[i], pages[i], PTE_P | PTE_RW | PTE_PCD);
  paging_enable(pd);
  run_group("device instructions, paging on", run_all);
  write_cr0(read_cr0() & ~CR0_PG);
}
