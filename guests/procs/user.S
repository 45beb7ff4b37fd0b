/* procs guest: the code each process runs in ring 3, in pages of its own
 * that every address space maps with U/S = 1. EBP holds the process id
 * for its whole life; its private memory sits at the same linear address
 * in every process: a header page, then PROC_DATA_PAGES data pages. */

#define PRIVATE_BASE 0x40000000
#define DATA_BASE 0x40001000
#define DATA_DWORDS 4096        /* 4 pages */
#define HDR_ID 0
#define HDR_ITERATIONS 4
#define HDR_SUM_FAILURES 8
#define HDR_EXPECTED 12
#define HDR_PID_FAILURES 16
#define HDR_ID_FAILURES 20
#define HDR_SLICE_ITERATIONS 24  /* zeroed by the kernel at each switch */
#define SYS_GETPID 1
#define SYS_GIVE_UP 2
#define GIVE_UP_ITERATIONS 0x100000

        .text
        .balign 4096
        .globl user_text_start, user_text_end, proc_main
user_text_start:

/* Forever: check the header's id against EBP, ask the kernel who is
 * running, sum the data pages and compare with the header's expected sum,
 * then change one data word and the expected sum alike. */
proc_main:
        movl $PRIVATE_BASE, %ebx
1:      cmpl HDR_ID(%ebx), %ebp
        je 2f
        incl HDR_ID_FAILURES(%ebx)
2:      movl $SYS_GETPID, %eax
        int $0x80
        cmpl %eax, %ebp
        je 3f
        incl HDR_PID_FAILURES(%ebx)
3:      xorl %eax, %eax
        movl $DATA_BASE, %esi
        movl $DATA_DWORDS, %ecx
4:      addl (%esi), %eax
        addl $4, %esi
        decl %ecx
        jnz 4b
        cmpl HDR_EXPECTED(%ebx), %eax
        je 5f
        incl HDR_SUM_FAILURES(%ebx)
5:      movl HDR_ITERATIONS(%ebx), %ecx
        andl $(DATA_DWORDS - 1), %ecx
        leal 1(%ebp), %edx
        addl %edx, DATA_BASE(,%ecx,4)
        addl %edx, HDR_EXPECTED(%ebx)
        incl HDR_ITERATIONS(%ebx)
        incl HDR_SLICE_ITERATIONS(%ebx)
        cmpl $GIVE_UP_ITERATIONS, HDR_SLICE_ITERATIONS(%ebx)
        jb 1b
        /* No scheduler tick for far too long: tell the kernel. */
        movl $SYS_GIVE_UP, %eax
        int $0x80
        jmp 1b

        .balign 4096
user_text_end:

        .section .note.GNU-stack, "", @progbits
