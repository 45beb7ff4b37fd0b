/* Task bodies for the tasks guest. A task's saved EIP is where it left
 * off, so each body loops: entered again, it starts over. A task entered
 * through an exception's task gate finds the error code on its stack
 * (SDM Vol. 3A 6.12.2) and pops it before leaving; IRET with EFLAGS.NT
 * set returns to the task in the back link (SDM Vol. 3A 7.3). */
#include "tasks.h"

  .text

  /* Entered by JMP; JMPs back to the main task, which is not busy then. */
  .globl jump_task_entry, jump_task_back
jump_task_entry:
  call jump_task_body
  ljmp $MAIN_TSS, $0
jump_task_back:
  jmp jump_task_entry

  /* Entered by CALL through a task gate; IRETs back. */
  .globl call_task_entry, call_task_back
call_task_entry:
  call call_task_body
  iret
call_task_back:
  jmp call_task_entry

  /* #GP and #DF through task gates: the error code is the C half's
   * argument; IRET returns to the faulting task. */
  .globl gp_task_entry
gp_task_entry:
  call gp_task_body
  addl $4, %esp
  iret
  jmp gp_task_entry

  .globl df_task_entry
df_task_entry:
  call df_task_body
  addl $4, %esp
  iret
  jmp df_task_entry

  /* #TS raised in a new task whose CS is bad: that task cannot be
   * resumed, so this one JMPs to the main task instead of IRETing. */
  .globl ts_task_entry
ts_task_entry:
  call ts_task_body
  addl $4, %esp
  ljmp $MAIN_TSS, $0
  jmp ts_task_entry

  .section .note.GNU-stack, "", @progbits
