/* ubenchguest: the ring-3 loops the microbenchmarks time (SYSENTER
 * enters lib/sysenter.S). Ring-3 code sits in pages of its own, mapped with
 * U/S = 1. Every loop ends with SYS_EXIT, which makes user_call() return. */

#define SYS_EXIT 0
#define SYS_NOP 1
#define SYS_UNMAP 2
#define SYS_SWITCH 3
#define PF_WINDOW_PAGES 1024
#define PRIVATE_BASE 0x40000000
#define TOUCH_PAGES 4

        .text
        .balign 4096
        .globl user_text_start, user_text_end
user_text_start:

/* ECX = N: N x INT 0x80 SYS_NOP. */
        .globl user_int80_loop
user_int80_loop:
1:      movl $SYS_NOP, %eax
        int $0x80
        decl %ecx
        jnz 1b
        movl $SYS_EXIT, %eax
        int $0x80

/* ECX = N: N x SYSENTER SYS_NOP. */
        .globl user_sysenter_loop
user_sysenter_loop:
        movl %ecx, %esi
1:      movl $SYS_NOP, %eax
        movl %esp, %ecx
        movl $2f, %edx
        sysenter
2:      decl %esi
        jnz 1b
        movl $SYS_EXIT, %eax
        movl %esp, %ecx
        movl $3f, %edx
        sysenter
3:      ud2

/* ECX = N, EBX = window base: writes one dword to each of N pages, going
 * through a window of PF_WINDOW_PAGES absent pages and asking the kernel
 * to unmap the window (SYS_UNMAP) each time it is used up. */
        .globl user_pf_loop
user_pf_loop:
        movl %ecx, %esi
        xorl %edi, %edi
1:      movl %edi, %eax
        shll $12, %eax
        movl %esi, (%ebx,%eax)
        incl %edi
        cmpl $PF_WINDOW_PAGES, %edi
        jne 2f
        movl $SYS_UNMAP, %eax
        int $0x80
        xorl %edi, %edi
2:      decl %esi
        jnz 1b
        movl $SYS_EXIT, %eax
        int $0x80

/* Both sides of the CR3 ping-pong: ECX = round trips left (side A) or 0
 * (side B, which never exits). Each turn increments a dword on each of
 * TOUCH_PAGES private pages, then SYS_SWITCH hands over to the other. */
        .globl user_switch_loop
user_switch_loop:
        movl %ecx, %esi
1:      movl $PRIVATE_BASE, %ebx
        movl $TOUCH_PAGES, %ecx
2:      incl (%ebx)
        addl $4096, %ebx
        decl %ecx
        jnz 2b
        movl $SYS_SWITCH, %eax
        int $0x80
        testl %esi, %esi
        jz 1b                   /* side B: forever */
        decl %esi
        jnz 1b
        movl $SYS_EXIT, %eax
        int $0x80

        .balign 4096
user_text_end:

        .section .note.GNU-stack, "", @progbits
