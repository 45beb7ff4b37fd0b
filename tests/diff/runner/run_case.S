/* diff_run_case: runs one case's code with the registers and flags of a
 * struct diff_regs and stores what they became. Shared by the native and
 * the guest runner, so it is position-independent and keeps no globals.
 *
 *   void diff_run_case(struct diff_regs *regs, const void *code);
 *
 * The code ends with RET, so it is CALLed with the case's registers live;
 * the case's own pushes and pops balance (the generator sees to it). ESP
 * is the runner's throughout and never stored. DF may come back set: CLD
 * restores what the C ABI expects (System V i386 ABI, 2.2.2). */

        .text
        .globl diff_run_case
        .type diff_run_case, @function
diff_run_case:
        pushl %ebp
        pushl %ebx
        pushl %esi
        pushl %edi
        movl 20(%esp), %eax     /* regs */
        pushl %eax              /* 4(%esp) = regs ... */
        pushl 28(%esp)          /* ... 0(%esp) = code */
        pushl 32(%eax)          /* the case's EFLAGS */
        popfl
        movl 4(%eax), %ecx
        movl 8(%eax), %edx
        movl 12(%eax), %ebx
        movl 20(%eax), %ebp
        movl 24(%eax), %esi
        movl 28(%eax), %edi
        movl 0(%eax), %eax
        call *(%esp)
        pushfl                  /* 4(%esp) = EFLAGS, 8 = code, 12 = regs */
        pushl %eax              /* 0(%esp) = EAX */
        movl 12(%esp), %eax
        movl %ecx, 4(%eax)
        movl %edx, 8(%eax)
        movl %ebx, 12(%eax)
        movl %ebp, 20(%eax)
        movl %esi, 24(%eax)
        movl %edi, 28(%eax)
        popl 0(%eax)
        popl 32(%eax)
        addl $8, %esp
        cld
        popl %edi
        popl %esi
        popl %ebx
        popl %ebp
        ret
        .size diff_run_case, . - diff_run_case

        .section .note.GNU-stack, "", @progbits
