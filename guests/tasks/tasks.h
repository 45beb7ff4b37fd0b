/* What the tasks guest's files share: the TSS layout, the GDT slots of
 * its tasks and gates, the task entry points (entries.S) and what the
 * tasks record while they run. */
#pragma once

/* GDT slots (guests/lib uses 3-5: user code, user data, the main TSS). */
#define MAIN_TSS 0x28   /* the lib's TSS: the task kmain runs in */
#define JUMP_TSS 0x30   /* entered by JMP, JMPs back */
#define CALL_TSS 0x38   /* entered by CALL through CALL_GATE, IRETs back */
#define CALL_GATE 0x40  /* task gate to CALL_TSS */
#define GP_TSS 0x48     /* #GP's task gate in the IDT */
#define DF_TSS 0x50     /* #DF's task gate in the IDT */
#define SMALL_TSS 0x58  /* limit below 0x67 */
#define BUSY_TSS 0x60   /* marked busy, never running */
#define BAD_CS_TSS 0x68 /* its CS selector names a data segment */
#define TS_TSS 0x70     /* #TS's task gate in the IDT (for BAD_CS_TSS) */

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "guest.h"
#include "tss.h"

#define TSS_LIMIT (sizeof(struct tss32) - 1) /* 0x67 */
#define EFLAGS_NT 0x4000u
#define CR0_TS 0x8u

/* Descriptor types of a 32-bit TSS (SDM Vol. 3A Table 3-2). */
#define TSS_AVAILABLE 0x9
#define TSS_BUSY 0xB

/* The task bodies (entries.S): each calls its C half, then leaves the
 * task (JMP or IRET) and starts over when the task is entered again. */
extern char jump_task_entry[], jump_task_back[], call_task_entry[], call_task_back[];
extern char gp_task_entry[], df_task_entry[], ts_task_entry[];

/* What a task saw while it ran (written by the C halves). */
struct task_view {
  unsigned runs;
  uint32_t tr, eflags, cr0, cr3, link, error_code, window;
  uint8_t main_type, own_type;
};
extern volatile struct task_view seen;

/* The TSS of `selector` (from its GDT descriptor) and its descriptor type. */
struct tss32 *tss_of(uint16_t selector);
uint8_t tss_type(uint16_t selector);
void set_tss_type(uint16_t selector, uint8_t type);
uint16_t read_tr(void);

/* A TSS for a ring-0 task starting at `entry` with its own stack, flat
 * kernel segments and the current CR3, and its GDT descriptor. */
void task_init(uint16_t selector, struct tss32 *tss, const char *entry, uint32_t limit);

/* Records what the running task sees into `seen`; task_forget clears it. */
void task_record(void);
void task_forget(void);

/* The C halves of the task bodies. */
void jump_task_body(void);
void call_task_body(void);
void gp_task_body(uint32_t error_code);
void df_task_body(uint32_t error_code);
void ts_task_body(uint32_t error_code);

/* The EIP a fault handler (or a fault task) resumes the main task at. */
extern uint32_t resume_eip;

/* Groups in faults.c. */
void check_exception_tasks(void);
void check_bad_tss(void);
void check_fault_in_new_task(void);
#endif /* __ASSEMBLER__ */
