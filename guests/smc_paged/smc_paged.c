/* smc_paged: self-modifying code with paging, where linear and physical
 * addresses of code part ways. A translator that caches code must key it
 * by the frame it came from and notice writes to that frame through any
 * linear address (SDM Vol. 3A 11.6: the code-cache check is by physical
 * address), and must re-translate when a linear code page is remapped.
 *
 * Groups: code patched through a write alias B of the frame executed at A
 * (and at a second execute alias C); code that patches its own page
 * through B while running from A, once and in a loop; a code page
 * remapped to other frames (INVLPG or CR3), patched through the 1:1 map,
 * and a frame reused for other code at another address; an instruction
 * straddling two pages whose frames are far apart, patched on its second
 * page and with that page remapped. The execute aliases are read-only
 * (W^X, as JITs map code): a store through them faults. */
#include "guest.h"
#include "paging.h"

#define EXEC_A 0x60000000u
#define WRITE_B 0x60400000u
#define EXEC_C 0x60800000u
#define REMAP_D 0x60C00000u
#define REUSE_E 0x61000000u
#define STRADDLE_S 0x61400000u
#define CODE_OFFSET 0x100u

typedef uint32_t (*code_fn)(void);
typedef uint32_t (*code_fn2)(uint32_t ecx, uint32_t edx);

extern char tpl_ret[], tpl_ret_end[], tpl_inc[], tpl_inc_end[];
extern char tpl_self[], tpl_self_imm[], tpl_self_end[];
extern char tpl_loop[], tpl_loop_imm[], tpl_loop_end[];

static uint32_t *pd;
static volatile unsigned faults;
static volatile uint32_t fault_error, fault_cr2;

/* ECX/EDX-argument call for the templates (regparm would do the same). */
static uint32_t call2(uint32_t fn, uint32_t ecx, uint32_t edx) {
  uint32_t eax;
  __asm__ volatile("call *%3" : "=a"(eax), "+c"(ecx), "+d"(edx) : "r"(fn) : "memory", "cc");
  return eax;
}

static uint32_t call0(uint32_t fn) { return ((code_fn)fn)(); }

static void page_fault(struct trap_frame *frame) {
  if (frame->eip != (uint32_t)probe_write_insn) {
    printf("unexpected #PF at EIP 0x%08x err 0x%x cr2 0x%08x\n", frame->eip, frame->error_code,
           read_cr2());
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  faults++;
  fault_error = frame->error_code;
  fault_cr2 = read_cr2();
  frame->eip = (uint32_t)probe_write_done;
}

static void copy_template(uint32_t dst, const char *start, const char *end) {
  memcpy((void *)dst, start, (size_t)(end - start));
}

static void map(uint32_t linear, uint32_t frame, uint32_t flags) {
  map_page(pd, linear, frame, flags);
  invlpg(linear);
}

static uint32_t imm_offset(const char *tpl, const char *imm_label) {
  return (uint32_t)(imm_label - tpl) + 1; /* past the B8 opcode */
}

/* A patched through B, and C seeing the same frame. */
static void test_alias(uint32_t f) {
  unsigned before = check_failures();
  uint32_t a = EXEC_A + CODE_OFFSET, b = WRITE_B + CODE_OFFSET, c = EXEC_C + CODE_OFFSET;
  copy_template(f + CODE_OFFSET, tpl_ret, tpl_ret_end);
  check_eq(call0(a), 0x11111111, "A before any patch");
  check_eq(call0(c), 0x11111111, "C before any patch");
  unsigned wrong = 0;
  for (uint32_t i = 1; i <= 50; i++) {
    poke(b + 1, i * 0x01000193u);
    wrong += call0(a) != i * 0x01000193u;
  }
  check_eq(wrong, 0, "A after patches of its immediate through B");
  check_eq(call0(c), 50 * 0x01000193u, "C after the patches through B");
  copy_template(b, tpl_inc, tpl_inc_end); /* REP MOVSB of a new body */
  check_eq(call0(a), 0x101, "A after a new body through B");
  check_eq(call0(c), 0x101, "C after a new body through B");
  probe_write(a, 0x90909090);
  check_eq(faults, 1, "store through the read-only A");
  check_eq(fault_error, PF_P | PF_W, "error code for a store through A");
  check_eq(fault_cr2, a, "CR2 for a store through A");
  check_eq(call0(a), 0x101, "A after the refused store");
  group_done("patch through an alias", before);
}

/* The running code stores into its own page through B. */
static void test_self(uint32_t f) {
  unsigned before = check_failures();
  uint32_t off = 0x800, a = EXEC_A + off, b = WRITE_B + off;
  copy_template(f + off, tpl_self, tpl_self_end);
  uint32_t imm = b + imm_offset(tpl_self, tpl_self_imm);
  check_eq(call2(a, 0xAAAA0001, imm), 0xAAAA0001, "own page patched through B, first");
  check_eq(call2(a, 0xAAAA0002, imm), 0xAAAA0002, "own page patched through B, second");
  copy_template(f + 0xC00, tpl_loop, tpl_loop_end);
  uint32_t loop_imm = WRITE_B + 0xC00 + imm_offset(tpl_loop, tpl_loop_imm);
  check_eq(call2(EXEC_A + 0xC00, 100, loop_imm), 5050, "loop patching its own immediate");
  check_eq(call2(EXEC_A + 0xC00, 200, loop_imm), 20100, "the loop again");
  group_done("patch the running page", before);
}

/* One linear page, several frames in turn. */
static void test_remap(void) {
  unsigned before = check_failures();
  uint32_t f2 = page_alloc(), f3 = page_alloc(), f4 = page_alloc(), d = REMAP_D + CODE_OFFSET;
  copy_template(f2 + CODE_OFFSET, tpl_ret, tpl_ret_end);
  copy_template(f3 + CODE_OFFSET, tpl_ret, tpl_ret_end);
  copy_template(f4 + CODE_OFFSET, tpl_ret, tpl_ret_end);
  poke(f2 + CODE_OFFSET + 1, 2);
  poke(f3 + CODE_OFFSET + 1, 3);
  map(REMAP_D, f2, PTE_P);
  check_eq(call0(d), 2, "D on frame 2");
  map(REMAP_D, f3, PTE_P);
  check_eq(call0(d), 3, "D remapped to frame 3 (INVLPG)");
  poke(f3 + CODE_OFFSET + 1, 33);
  check_eq(call0(d), 33, "frame 3 patched through the 1:1 map");
  map(REMAP_D, f2, PTE_P);
  check_eq(call0(d), 2, "D back on the untouched frame 2");
  poke(f4 + CODE_OFFSET + 1, 4); /* written while mapped nowhere */
  map_page(pd, REMAP_D, f4, PTE_P);
  reload_cr3();
  check_eq(call0(d), 4, "D remapped to frame 4 (CR3 reload)");

  /* Frame 3 unmapped, reused for other code, mapped at E. */
  copy_template(f3 + CODE_OFFSET, tpl_inc, tpl_inc_end);
  map(REUSE_E, f3, PTE_P);
  check_eq(call0(REUSE_E + CODE_OFFSET), 0x101, "frame reused for other code at E");
  map(REMAP_D, f3, PTE_P);
  check_eq(call0(d), 0x101, "D on the reused frame");
  group_done("remap a code page", before);
}

/* mov $imm32, %eax at S + 0xFFD: opcode and two bytes on the first page,
 * two bytes and RET on the second, whose frames are far apart. */
static void test_straddle(void) {
  unsigned before = check_failures();
  uint32_t second = page_alloc(), gap = page_alloc(), first = page_alloc(), other = page_alloc();
  (void)gap;
  uint8_t *p1 = (uint8_t *)(first + 0xFFD), *p2 = (uint8_t *)second, *p3 = (uint8_t *)other;
  p1[0] = 0xB8, p1[1] = 0x44, p1[2] = 0x33;
  p2[0] = 0x22, p2[1] = 0x11, p2[2] = 0xC3;
  p3[0] = 0x66, p3[1] = 0x55, p3[2] = 0xC3;
  map(STRADDLE_S, first, PTE_P);
  map(STRADDLE_S + PAGE_SIZE, second, PTE_P);
  uint32_t s = STRADDLE_S + 0xFFD;
  check_eq(call0(s), 0x11223344, "instruction across two far frames");
  p2[1] = 0x77;
  check_eq(call0(s), 0x77223344, "second page patched");
  p1[1] = 0x88;
  check_eq(call0(s), 0x77223388, "first page patched");
  map(STRADDLE_S + PAGE_SIZE, other, PTE_P);
  check_eq(call0(s), 0x55663388, "second page remapped (INVLPG)");
  group_done("instruction across pages", before);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  descriptor_tables_init();
  set_exception_handler(VEC_PF, page_fault);
  uint32_t end = ram_end(info);
  page_pool_init_default(end);
  pd = pd_create();
  map_kernel(pd, end, PTE_P | PTE_RW | PTE_G);
  uint32_t f = page_alloc();
  map_page(pd, EXEC_A, f, PTE_P);           /* execute alias, read-only */
  map_page(pd, WRITE_B, f, PTE_P | PTE_RW); /* write alias */
  map_page(pd, EXEC_C, f, PTE_P);
  write_cr4(read_cr4() | CR4_PGE);
  paging_enable(pd);
  write_cr0(read_cr0() | CR0_WP);
  test_alias(f);
  test_self(f);
  test_remap();
  test_straddle();
}
