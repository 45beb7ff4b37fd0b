/*
 * Entry into and exits from translated code. The register convention of
 * translated code (DESIGN.md "BT: state mapping"): guest EAX..EDI in the
 * same host registers (low halves), guest ESP in R12D, R15 = CpuState*,
 * R13/R14 scratch, guest arithmetic flags and DF in the host RFLAGS, guest
 * x87/SSE state in the host FP registers. The host RSP stays the real host
 * stack, 16-byte aligned while translated code runs.
 *
 * CpuState offsets come from the struct itself (cpu_state_offsets.h is
 * generated at build time by tools/gen_cpu_state_offsets.cc).
 */
#include "cpu_state_offsets.h"

.set GPR_SLOT_eax, 0
.set GPR_SLOT_ecx, 4
.set GPR_SLOT_edx, 8
.set GPR_SLOT_ebx, 12
.set GPR_SLOT_r12d, 16
.set GPR_SLOT_ebp, 20
.set GPR_SLOT_esi, 24
.set GPR_SLOT_edi, 28

/* Guest EAX..EDI in CpuState.gpr[] order; guest ESP lives in R12D. */
.macro SAVE_GUEST_GPRS
  .irp reg, eax, ecx, edx, ebx, r12d, ebp, esi, edi
  movl %\reg, CS_GPR + GPR_SLOT_\reg(%r15)
  .endr
.endm

.macro LOAD_GUEST_GPRS
  .irp reg, eax, ecx, edx, ebx, r12d, ebp, esi, edi
  movl CS_GPR + GPR_SLOT_\reg(%r15), %\reg
  .endr
.endm

/* The guest's arithmetic flags and DF from the RFLAGS image in CpuState,
 * without POPFQ (microcoded and slow, and it would also load AC/TF): DF by
 * CLD/STD, OF by an 8-bit ADD that overflows exactly when the guest's OF is
 * set, then SF ZF AF PF CF by SAHF (which leaves OF alone). Clobbers EAX
 * and ECX: the guest GPRs are loaded after it. */
.macro LOAD_GUEST_FLAGS
  movl CS_HOST_FLAGS(%r15), %eax
  cld
  testl $0x400, %eax
  jz 77f
  std
77:
  movl %eax, %ecx
  shrl $11, %ecx
  andb $1, %cl
  addb $0x7f, %cl
  movb %al, %ah
  sahf
.endm

/* Guest FP state out, host FP control state back (SysV: MXCSR control
 * bits and the x87 control word are callee-saved; the x87 stack must be
 * empty at calls). */
.macro SWITCH_FP_TO_HOST
  fxsave64 CS_FPU(%r15)
  fninit
  fldcw CS_HOST_FCW(%r15)
  ldmxcsr CS_HOST_MXCSR(%r15)
  cld
.endm

/* The SSE half of the guest FP state (XMM0-7 and MXCSR; a 32-bit guest
 * has no XMM8-15), kept in place in the fxsave image. */
.macro SAVE_GUEST_SSE
  .irp n, 0, 1, 2, 3, 4, 5, 6, 7
  movups %xmm\n, CS_FPU_XMM + \n * 16(%r15)
  .endr
  stmxcsr CS_FPU_MXCSR(%r15)
  ldmxcsr CS_HOST_MXCSR(%r15)
  cld
.endm

.macro LOAD_GUEST_SSE
  .irp n, 0, 1, 2, 3, 4, 5, 6, 7
  movups CS_FPU_XMM + \n * 16(%r15), %xmm\n
  .endr
  ldmxcsr CS_FPU_MXCSR(%r15)
.endm

/* The SSE half is loaded lazily: translated code calls tv_bt_load_sse
 * before its first SSE instruction when sse_live is clear, so the paths
 * below save it only if it is live and never load it back. */
.macro SAVE_GUEST_SSE_IF_LIVE
  cmpb $0, CS_SSE_LIVE(%r15)
  je 78f
  SAVE_GUEST_SSE
  movb $0, CS_SSE_LIVE(%r15)
78:
  cld
.endm

/* Before an FXSAVE of the whole state: the SSE half into the registers if
 * they do not hold it. */
.macro LOAD_GUEST_SSE_UNLESS_LIVE
  cmpb $0, CS_SSE_LIVE(%r15)
  jne 79f
  LOAD_GUEST_SSE
79:
.endm

/* Jumps to `full` unless only the SSE half of the guest FP state needs
 * saving: no x87/MMX instruction ran since the last full save (so the x87
 * part of the image is current) and the x87 unit is as the host ABI wants
 * it (the host's control word, an empty register stack, no pending
 * exception), so host C++ may run with it as is. Clobbers EAX. */
.macro JUMP_UNLESS_X87_CLEAN full
  cmpb $0, CS_X87_DIRTY(%r15)
  jne \full
  movzwl CS_FPU(%r15), %eax       /* FCW */
  cmpw CS_HOST_FCW(%r15), %ax
  jne \full
  cmpb $0, CS_FPU + 4(%r15)       /* abridged tag word: all empty */
  jne \full
  testb $0x80, CS_FPU + 2(%r15)   /* FSW.ES: an exception pending */
  jnz \full
.endm

/* The whole guest FP state into the image (the SSE half first, if the
 * registers do not hold it) and the host's FP control state back. */
.macro SAVE_GUEST_FP
  LOAD_GUEST_SSE_UNLESS_LIVE
  SWITCH_FP_TO_HOST
  movb $0, CS_SSE_LIVE(%r15)
.endm

/* Back from a full save into translated code: the whole image into the
 * registers, the x87 part now current in both. */
.macro LOAD_GUEST_FP
  fxrstor64 CS_FPU(%r15)
  movb $0, CS_X87_DIRTY(%r15)
  movb $1, CS_SSE_LIVE(%r15)
.endm

/* Where translated code leaves (exit stubs, callouts): the guest GPRs and
 * RFLAGS into CpuState. */
.macro SAVE_GUEST_STATE
  SAVE_GUEST_GPRS
  pushfq
  popq CS_HOST_FLAGS(%r15)
.endm

/* tv_bt_callout_entry(cpu, site) with the host stack 16-byte aligned; the
 * flags then say whether it returned 0. */
.macro CALL_CALLOUT_ENTRY
  subq $8, %rsp
  movq %r15, %rdi
  movq %r14, %rsi
  call tv_bt_callout_entry
  addq $8, %rsp
  testl %eax, %eax
.endm

  .text

/* uint32_t tv_bt_enter(CpuState* cpu, const void* code) */
  .globl tv_bt_enter
  .type tv_bt_enter, @function
tv_bt_enter:
  pushq %rbx
  pushq %rbp
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  movq %rsp, CS_HOST_RSP(%rdi)
  movq %rdi, %r15
  movq %rsi, %r13
  stmxcsr CS_HOST_MXCSR(%r15)
  fnstcw CS_HOST_FCW(%r15)
  cmpb $0, CS_SSE_ONLY(%r15)
  jne 2f                          /* the x87 registers already match the image; SSE loads lazily */
  fxrstor64 CS_FPU(%r15)
  movb $1, CS_SSE_LIVE(%r15)
2:
  movb $0, CS_X87_DIRTY(%r15)
  LOAD_GUEST_FLAGS
  LOAD_GUEST_GPRS
  jmpq *%r13
  .size tv_bt_enter, .-tv_bt_enter

/* Jumped to by block exit stubs with the guest state live; the stub has
 * stored cpu.eip and, if needed, exit_reason and exit_slot. */
  .globl tv_bt_exit
  .type tv_bt_exit, @function
tv_bt_exit:
  SAVE_GUEST_STATE
  /* fall through */

/* The guest GPRs and flags are already in CpuState; the FP state is live.
 * The fault handler resumes here after writing the state from a signal
 * frame (whose FP state the kernel has just restored into the registers). */
  .globl tv_bt_exit_saved
tv_bt_exit_saved:
  JUMP_UNLESS_X87_CLEAN full_exit
  SAVE_GUEST_SSE_IF_LIVE
  movb $1, CS_SSE_ONLY(%r15)
  jmp return_to_host
full_exit:
  SAVE_GUEST_FP
  movb $0, CS_SSE_ONLY(%r15)
return_to_host:
  movq CS_HOST_RSP(%r15), %rsp
  movl CS_EXIT_REASON(%r15), %eax
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbp
  popq %rbx
  ret
  .size tv_bt_exit, .-tv_bt_exit

/* Called from translated code with R14 = the CalloutSite. Saves the guest
 * state, runs tv_bt_callout_entry(cpu, site) on the host stack, and either
 * returns into the block (0) or leaves translated code (non-zero).
 *
 * When no x87/MMX instruction ran since the last full save (x87_dirty is
 * clear; translated code sets it before such instructions), the x87 part of
 * the image is still current and only XMM0-7 and MXCSR are saved, provided
 * the x87 unit is as the host ABI wants it: the host's control word, an
 * empty register stack and no pending exception (C++ may use x87 too). */
  .globl tv_bt_callout
  .type tv_bt_callout, @function
tv_bt_callout:
  SAVE_GUEST_STATE
  JUMP_UNLESS_X87_CLEAN full_callout
  SAVE_GUEST_SSE_IF_LIVE
  CALL_CALLOUT_ENTRY
  jnz leave_or_go_on_sse
  LOAD_GUEST_FLAGS
  LOAD_GUEST_GPRS
  ret
leave_or_go_on_sse:
  cmpl $2, %eax
  jne leave_after_sse_save
go_on:
  LOAD_GUEST_FLAGS
  LOAD_GUEST_GPRS
  leaq 8(%rsp), %rsp              /* drop the return address into the old block */
  jmpq *CS_CONTINUE_AT(%r15)
leave_after_sse_save:
  movb $1, CS_SSE_ONLY(%r15)
  jmp return_to_host
full_callout:
  SAVE_GUEST_FP
  CALL_CALLOUT_ENTRY
  jnz leave_or_go_on_full
  LOAD_GUEST_FP
  LOAD_GUEST_FLAGS
  LOAD_GUEST_GPRS
  ret
leave_or_go_on_full:
  cmpl $2, %eax
  jne leave_after_full_save
  LOAD_GUEST_FP
  jmp go_on
leave_after_full_save:
  movb $0, CS_SSE_ONLY(%r15)
  jmp return_to_host
  .size tv_bt_callout, .-tv_bt_callout

/* Called from translated code (flag-free) before an SSE instruction when
 * sse_live is clear: XMM0-7 and MXCSR from the image. */
  .globl tv_bt_load_sse
  .type tv_bt_load_sse, @function
tv_bt_load_sse:
  LOAD_GUEST_SSE
  movb $1, CS_SSE_LIVE(%r15)
  ret
  .size tv_bt_load_sse, .-tv_bt_load_sse

  .section .note.GNU-stack,"",@progbits
