/* run_regs(struct regs *r, void (*code)(void)), declared in run_regs.h:
 * loads EFLAGS and the general registers but ESP from *r, calls the
 * snippet, and stores the registers and EFLAGS the snippet left. Offsets
 * follow struct regs. The snippet returns with RET; CLD afterwards restores
 * the DF = 0 the C ABI relies on (System V i386 ABI, 2.2.2). No globals and
 * no absolute addresses: the differential test's native runner, a Linux
 * program, links it too. */

        .text
        .globl run_regs
        .type run_regs, @function
run_regs:
        pushl %ebp
        pushl %ebx
        pushl %esi
        pushl %edi
        movl 20(%esp), %eax     /* r */
        movl 24(%esp), %ecx     /* code */
        pushl %eax
        pushl %ecx              /* stack: code, r, saved registers */
        pushl 32(%eax)
        popfl                   /* the MOVs below leave EFLAGS alone */
        movl 4(%eax), %ecx
        movl 8(%eax), %edx
        movl 12(%eax), %ebx
        movl 20(%eax), %ebp
        movl 24(%eax), %esi
        movl 28(%eax), %edi
        movl 0(%eax), %eax
        call *(%esp)
        pushfl
        pushl %eax
        movl 12(%esp), %eax     /* stack: eax, eflags, code, r */
        popl 0(%eax)
        popl 32(%eax)
        movl %ecx, 4(%eax)
        movl %edx, 8(%eax)
        movl %ebx, 12(%eax)
        leal -4(%esp), %ecx     /* ESP inside the snippet, after CALL */
        movl %ecx, 16(%eax)
        movl %ebp, 20(%eax)
        movl %esi, 24(%eax)
        movl %edi, 28(%eax)
        cld
        addl $8, %esp
        popl %edi
        popl %esi
        popl %ebx
        popl %ebp
        ret
        .size run_regs, . - run_regs

        .section .note.GNU-stack, "", @progbits
