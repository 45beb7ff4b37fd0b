/*
 * The tasks guest's fault groups: exceptions delivered through task gates
 * in the IDT (SDM Vol. 3A 6.11, 6.12.2), the faults a bad task-switch
 * target raises before the switch (SDM Vol. 3A Table 7-1, Vol. 2 JMP,
 * CALL and IRET), and a fault raised after it, in the new task.
 */
#include "tasks.h"

#define IDT_TASK_GATE 0x85 /* present, DPL 0, type 5 */

static struct tss32 gp_tss, df_tss, small_tss, busy_tss, bad_cs_tss, ts_tss;

/* The fault tasks resume the main task past the instruction that faulted,
 * by rewriting the EIP its TSS holds, then IRET back to it. */
void gp_task_body(uint32_t error_code) {
  task_record();
  seen.error_code = error_code;
  tss_of(MAIN_TSS)->eip = resume_eip;
}

void df_task_body(uint32_t error_code) { gp_task_body(error_code); }

void ts_task_body(uint32_t error_code) {
  task_record();
  seen.error_code = error_code;
}

/* Loads ES with a selector past the GDT limit: #GP(selector). */
static void load_bad_es(uint16_t selector) {
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "movw %w1, %%es\n"
      "1:"
      : "=m"(resume_eip)
      : "r"((uint32_t)selector)
      : "memory");
}

static void check_task_event(const char *what, uint16_t tss, uint32_t error_code) {
  printf("%s\n", what);
  check_eq(seen.runs, 1, "the fault task ran");
  check_eq(seen.tr, tss, "TR in the fault task");
  check_eq(seen.error_code, error_code, "error code on the fault task's stack");
  check_eq(seen.link, MAIN_TSS, "back link to the faulting task");
  check(seen.eflags & EFLAGS_NT, "NT in the fault task");
  check_eq(seen.main_type, TSS_BUSY, "the faulting task stays busy");
  check_eq(read_tr(), MAIN_TSS, "IRET back to the faulting task");
  check_eq(tss_type(tss), TSS_AVAILABLE, "the fault task is free again");
}

void check_exception_tasks(void) {
  task_init(GP_TSS, &gp_tss, gp_task_entry, TSS_LIMIT);
  idt_set_gate(VEC_GP, 0, GP_TSS, IDT_TASK_GATE);
  task_forget();
  load_bad_es(0x1234);
  check_task_event("#GP(0x1234) through a task gate", GP_TSS, 0x1234);

  /* #GP's gate not present: delivering #GP raises #NP, a double fault,
   * which goes through its own task gate with error code 0. */
  task_init(DF_TSS, &df_tss, df_task_entry, TSS_LIMIT);
  idt_set_gate(VEC_GP, idt_stub(VEC_GP), GDT_KERNEL_CS, IDT_INTERRUPT_GATE & 0x7F);
  idt_set_gate(VEC_DF, 0, DF_TSS, IDT_TASK_GATE);
  task_forget();
  load_bad_es(0x1234);
  check_task_event("#DF through a task gate", DF_TSS, 0);

  idt_set_gate(VEC_GP, idt_stub(VEC_GP), GDT_KERNEL_CS, IDT_INTERRUPT_GATE);
  idt_set_gate(VEC_DF, idt_stub(VEC_DF), GDT_KERNEL_CS, IDT_INTERRUPT_GATE);
}

/* Faults before the commit point, taken by an ordinary handler in the
 * main task, which resumes at resume_eip. */
static struct {
  unsigned count;
  uint32_t vector, error_code;
} caught;

static void resume_after_fault(struct trap_frame *frame) {
  caught.count++;
  caught.vector = frame->vector;
  caught.error_code = frame->error_code;
  frame->eip = resume_eip;
}

struct far_pointer {
  uint32_t offset;
  uint16_t selector;
} __attribute__((packed));

static void far_jump(uint16_t selector) {
  struct far_pointer target = {0, selector};
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "ljmp *%1\n"
      "1:"
      : "=m"(resume_eip)
      : "m"(target)
      : "eax", "ecx", "edx", "memory");
}

static void far_call(uint16_t selector) {
  struct far_pointer target = {0, selector};
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "lcall *%1\n"
      "1:"
      : "=m"(resume_eip)
      : "m"(target)
      : "eax", "ecx", "edx", "memory");
}

/* IRET with NT set: a task return to the main TSS's back link. */
static void task_return(void) {
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "pushfl\n\t"
      "orl $%c1, (%%esp)\n\t"
      "popfl\n\t"
      "iret\n"
      "1:\n\t"
      "pushfl\n\t"
      "andl $~%c1, (%%esp)\n\t"
      "popfl"
      : "=m"(resume_eip)
      : "i"(EFLAGS_NT)
      : "memory");
}

static void expect_fault(const char *what, uint8_t vector, uint32_t error_code) {
  check_eq(caught.count, 1, what);
  check_eq(caught.vector, vector, what);
  check_eq(caught.error_code, error_code, what);
  check_eq(read_tr(), MAIN_TSS, what);
  check_eq(tss_type(MAIN_TSS), TSS_BUSY, what);
  caught.count = 0;
}

void check_bad_tss(void) {
  set_exception_handler(VEC_TS, resume_after_fault);
  set_exception_handler(VEC_NP, resume_after_fault);
  set_exception_handler(VEC_GP, resume_after_fault);
  caught.count = 0;

  task_init(SMALL_TSS, &small_tss, jump_task_entry, 0x50);
  far_jump(SMALL_TSS);
  expect_fault("jmp to a TSS with limit 0x50: #TS(selector)", VEC_TS, SMALL_TSS);
  task_init(BUSY_TSS, &busy_tss, jump_task_entry, TSS_LIMIT);
  set_tss_type(BUSY_TSS, TSS_BUSY);
  far_jump(BUSY_TSS);
  expect_fault("jmp to a busy TSS: #GP(selector)", VEC_GP, BUSY_TSS);
  far_call(BUSY_TSS);
  expect_fault("call to a busy TSS: #GP(selector)", VEC_GP, BUSY_TSS);
  far_jump(JUMP_TSS | 3);
  expect_fault("jmp to a DPL 0 TSS with RPL 3: #GP(selector)", VEC_GP, JUMP_TSS);
  gdt_set_entry(SMALL_TSS >> 3, (uint32_t)&small_tss, TSS_LIMIT, GDT_ACCESS_TSS32, 0);
  far_jump(SMALL_TSS);
  expect_fault("jmp to a TSS not present: #NP(selector)", VEC_NP, SMALL_TSS);
  tss_of(MAIN_TSS)->link = JUMP_TSS;
  task_return();
  expect_fault("iret to an available back link: #TS(selector)", VEC_TS, JUMP_TSS);
  tss_of(MAIN_TSS)->link = 0;

  set_exception_handler(VEC_TS, 0);
  set_exception_handler(VEC_NP, 0);
  set_exception_handler(VEC_GP, 0);
}

/* A CS that names a data segment is found after the new TSS is loaded
 * (SDM Vol. 3A 7.3 step 13): the #TS is the new task's, so its task gate
 * links back to that task, which saved its own first instruction. The
 * #TS task then JMPs to the main task, which resumes after its JMP. */
void check_fault_in_new_task(void) {
  task_init(BAD_CS_TSS, &bad_cs_tss, jump_task_entry, TSS_LIMIT);
  bad_cs_tss.cs = GDT_KERNEL_DS;
  task_init(TS_TSS, &ts_tss, ts_task_entry, TSS_LIMIT);
  idt_set_gate(VEC_TS, 0, TS_TSS, IDT_TASK_GATE);
  task_forget();
  far_jump(BAD_CS_TSS);
  check_eq(seen.runs, 1, "the #TS task ran");
  check_eq(seen.tr, TS_TSS, "TR in the #TS task");
  check_eq(seen.error_code, GDT_KERNEL_DS, "#TS error code: the bad CS");
  check_eq(seen.link, BAD_CS_TSS, "back link: the new task, not the main one");
  check_eq(seen.main_type, TSS_AVAILABLE, "the main task left by JMP");
  /* QEMU TCG saves the EIP of the JMP that started the switch instead. */
  if (!qemu_deviation("the EIP a task saves when its first load faults"))
    check_eq(bad_cs_tss.eip, (uint32_t)jump_task_entry, "the new task's EIP, not yet run");
  check_eq(tss_type(BAD_CS_TSS), TSS_BUSY, "the new task stays busy");
  check_eq(read_tr(), MAIN_TSS, "back in the main task");
  set_tss_type(BAD_CS_TSS, TSS_AVAILABLE);
  idt_set_gate(VEC_TS, idt_stub(VEC_TS), GDT_KERNEL_CS, IDT_INTERRUPT_GATE);
}
