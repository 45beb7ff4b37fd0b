/* The ring-0 SYSENTER entry shared by the guests that use SYSENTER (see
 * tss.h). SYSENTER arrives with CS 0x08, SS 0x10, ESP from
 * IA32_SYSENTER_ESP and IF = 0; the user's return EIP is in EDX and its
 * ESP in ECX, which SYSEXIT loads back (SDM Vol. 2B SYSENTER, SYSEXIT).
 * The pushes below are struct sysenter_frame, EAX lowest. */

        .text
        .globl sysenter_entry
sysenter_entry:
        pushl %ds
        pushl %es
        pushl %ebp
        pushl %edi
        pushl %esi
        pushl %edx
        pushl %ecx
        pushl %ebx
        pushl %eax
        movl $0x10, %eax        /* GDT_KERNEL_DS */
        movl %eax, %ds
        movl %eax, %es
        pushl %esp              /* struct sysenter_frame * */
        call *sysenter_handler
        addl $4, %esp
        popl %eax
        popl %ebx
        popl %ecx
        popl %edx
        popl %esi
        popl %edi
        popl %ebp
        popl %es
        popl %ds
        sysexit

        .section .note.GNU-stack, "", @progbits
