/*
 * tasks: hardware task switches (SDM Vol. 3A chapter 7, "Task
 * Management"). Groups, each printing "<group>: ok":
 *   - JMP to a TSS and back: what the old TSS saves (EIP after the JMP,
 *     registers), busy bits (old cleared, new set), no back link, CR0.TS;
 *   - CALL through a task gate and IRET back: back link, NT, both busy
 *     during the call, the callee freed and saved with NT clear after it;
 *   - #GP through a task gate (its error code on the new task's stack) and
 *     a #DF through one; IRET resumes the faulting task;
 *   - the faults of bad targets: #TS(selector) for a too small TSS, #GP
 *     for a busy one or RPL > DPL, #NP for a missing one, #TS for IRET to
 *     an available back link;
 *   - a bad CS in the new task: #TS raised in that task (back link to it);
 *   - CR3 loaded from the TSS with paging on (two address spaces).
 * This file holds the task helpers and the JMP, CALL and CR3 groups; the
 * fault groups live in faults.c, the task bodies in entries.S.
 */
#include "tasks.h"

#include "paging.h"

volatile struct task_view seen;
uint32_t resume_eip;

static struct tss32 jump_tss, call_tss;
static uint8_t task_stacks[16][4096] __attribute__((aligned(16)));
static bool window_armed;

#define WINDOW 0xC0000000u /* mapped differently in the two address spaces */

static uint8_t *gdt_bytes(void) {
  struct {
    uint16_t limit;
    uint32_t base;
  } __attribute__((packed)) gdtr;
  __asm__ volatile("sgdt %0" : "=m"(gdtr));
  return (uint8_t *)gdtr.base;
}

struct tss32 *tss_of(uint16_t selector) {
  const uint8_t *d = gdt_bytes() + (selector & ~7u);
  return (struct tss32 *)(d[2] | d[3] << 8 | d[4] << 16 | (uint32_t)d[7] << 24);
}

uint8_t tss_type(uint16_t selector) { return gdt_bytes()[(selector & ~7u) + 5] & 0xF; }

void set_tss_type(uint16_t selector, uint8_t type) {
  uint8_t *access = gdt_bytes() + (selector & ~7u) + 5;
  *access = (uint8_t)((*access & 0xF0) | type);
}

uint16_t read_tr(void) {
  uint16_t tr;
  __asm__ volatile("str %0" : "=r"(tr));
  return tr;
}

void task_init(uint16_t selector, struct tss32 *tss, const char *entry, uint32_t limit) {
  memset(tss, 0, sizeof *tss);
  tss->eip = (uint32_t)entry;
  tss->esp = (uint32_t)task_stacks[selector >> 3] + sizeof task_stacks[0];
  tss->eflags = EFLAGS_FIXED;
  tss->cs = GDT_KERNEL_CS;
  tss->ss = tss->ds = tss->es = tss->fs = tss->gs = GDT_KERNEL_DS;
  tss->cr3 = read_cr3();
  tss->iomap_base = sizeof *tss; /* no I/O bitmap */
  gdt_set_entry(selector >> 3, (uint32_t)tss, limit, GDT_ACCESS_PRESENT | GDT_ACCESS_TSS32, 0);
}

void task_record(void) {
  seen.runs++;
  seen.tr = read_tr();
  seen.eflags = read_eflags();
  seen.cr0 = read_cr0();
  seen.cr3 = read_cr3();
  seen.link = tss_of(seen.tr)->link;
  seen.main_type = tss_type(MAIN_TSS);
  seen.own_type = tss_type(seen.tr);
  if (window_armed) seen.window = peek(WINDOW);
}

void task_forget(void) { memset((void *)&seen, 0, sizeof seen); }

void jump_task_body(void) { task_record(); }
void call_task_body(void) { task_record(); }

static void clts(void) { __asm__ volatile("clts"); }

/* JMP to JUMP_TSS; that task JMPs back. EBX/ESI/EDI come back from the
 * main TSS; `after` is the EIP after the JMP. */
static void jump_there_and_back(uint32_t *after, uint32_t regs[3]) {
  __asm__ volatile(
      "movl $1f, %3\n\t"
      "ljmp $%c4, $0\n"
      "1:"
      : "+b"(regs[0]), "+S"(regs[1]), "+D"(regs[2]), "=m"(*after)
      : "i"(JUMP_TSS)
      : "eax", "ecx", "edx", "memory");
}

static void check_jump(void) {
  task_init(JUMP_TSS, &jump_tss, jump_task_entry, TSS_LIMIT);
  task_forget();
  uint32_t after = 0, regs[3] = {0x11111111, 0x22222222, 0x33333333};
  jump_there_and_back(&after, regs);
  check_eq(seen.runs, 1, "jmp: the task ran");
  check_eq(seen.tr, JUMP_TSS, "jmp: TR in the new task");
  check_eq(seen.eflags & EFLAGS_NT, 0, "jmp: NT in the new task");
  check_eq(seen.main_type, TSS_AVAILABLE, "jmp: the old task's type (not busy)");
  check_eq(seen.own_type, TSS_BUSY, "jmp: the new task's type (busy)");
  check_eq(seen.link, 0, "jmp: back link (unchanged)");
  check(seen.cr0 & CR0_TS, "jmp: CR0.TS set by the switch");
  check_eq(read_tr(), MAIN_TSS, "jmp back: TR");
  check_eq(tss_type(MAIN_TSS), TSS_BUSY, "jmp back: the main task's type");
  check_eq(tss_type(JUMP_TSS), TSS_AVAILABLE, "jmp back: the task's type");
  check_eq(tss_of(MAIN_TSS)->eip, after, "jmp: EIP saved in the old TSS");
  check_eq(jump_tss.eip, (uint32_t)jump_task_back, "jmp back: EIP saved in the task's TSS");
  check_eq(regs[0], 0x11111111, "jmp back: EBX");
  check_eq(regs[1], 0x22222222, "jmp back: ESI");
  check_eq(regs[2], 0x33333333, "jmp back: EDI");
  jump_there_and_back(&after, regs);
  check_eq(seen.runs, 2, "jmp again: the task starts over");
  clts();
}

static void call_task(void) {
  __asm__ volatile("lcall $%c0, $0" : : "i"(CALL_GATE) : "eax", "ecx", "edx", "memory");
}

static void check_call(void) {
  task_init(CALL_TSS, &call_tss, call_task_entry, TSS_LIMIT);
  /* A task gate holds the TSS selector where a segment's base bits 0-15
   * are (SDM Vol. 3A Figure 7-6): type 5, present. */
  gdt_set_entry(CALL_GATE >> 3, CALL_TSS, 0, GDT_ACCESS_PRESENT | 0x5, 0);
  task_forget();
  call_task();
  check_eq(seen.runs, 1, "call: the task ran");
  check_eq(seen.tr, CALL_TSS, "call: TR in the new task");
  check(seen.eflags & EFLAGS_NT, "call: NT set in the new task");
  check_eq(seen.link, MAIN_TSS, "call: back link");
  check_eq(seen.main_type, TSS_BUSY, "call: the caller stays busy");
  check_eq(seen.own_type, TSS_BUSY, "call: the new task is busy");
  check_eq(read_tr(), MAIN_TSS, "iret back: TR");
  check_eq(read_eflags() & EFLAGS_NT, 0, "iret back: the caller's NT");
  check_eq(tss_type(CALL_TSS), TSS_AVAILABLE, "iret back: the callee is no longer busy");
  check_eq(call_tss.eflags & EFLAGS_NT, 0, "iret back: the callee saved with NT clear");
  check_eq(call_tss.eip, (uint32_t)call_task_back, "iret back: the callee's EIP after IRET");
  call_task();
  check_eq(seen.runs, 2, "call again: the task starts over");
  clts();
}

/* Two address spaces that map WINDOW to different frames; the called task
 * runs in the second one. */
static const struct multiboot_info *boot_info;

static void check_cr3(void) {
  uint32_t end = ram_end(boot_info);
  page_pool_init_default(end);
  uint32_t *pd[2], frame[2];
  for (int i = 0; i < 2; i++) {
    pd[i] = pd_create();
    map_kernel(pd[i], end, PTE_P | PTE_RW);
    frame[i] = page_alloc();
    poke(frame[i], 0x1111 * (i + 1));
    map_page(pd[i], WINDOW, frame[i], PTE_P | PTE_RW);
  }
  paging_enable(pd[0]);
  /* A switch does not save CR3 (SDM Vol. 3A 7.3 step 8): the way back
   * loads what the main TSS holds. */
  tss_of(MAIN_TSS)->cr3 = (uint32_t)pd[0];
  call_tss.cr3 = (uint32_t)pd[1];
  window_armed = true;
  task_forget();
  check_eq(peek(WINDOW), 0x1111, "cr3: the main task's window");
  call_task();
  check_eq(seen.runs, 1, "cr3: the task ran");
  check_eq(seen.cr3, (uint32_t)pd[1], "cr3: loaded from the new TSS");
  check_eq(seen.window, 0x2222, "cr3: the new task's window");
  check_eq(read_cr3(), (uint32_t)pd[0], "cr3: back in the main task");
  check_eq(peek(WINDOW), 0x1111, "cr3: the main task's window again");
  window_armed = false;
  clts();
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  boot_info = info;
  gdt_init();
  idt_init();
  tss_init();
  run_group("jmp to a TSS", check_jump);
  run_group("call through a task gate", check_call);
  run_group("exceptions through task gates", check_exception_tasks);
  run_group("bad TSS faults", check_bad_tss);
  run_group("fault in the new task", check_fault_in_new_task);
  run_group("cr3 per task", check_cr3);
}
