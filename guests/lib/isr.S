/* Interrupt entry stubs for all 256 vectors. Each stub makes the stack look
 * the same (struct trap_frame in idt.h): it pushes a 0 where the CPU pushes
 * no error code, then the vector. The CPU pushes an error code only for the
 * exceptions listed in SDM Vol. 3A 6.3.1, Table 6-1 (8, 10-14, 17, 21, 29,
 * 30), and never for INT n, so `int $13` from software gives a frame one
 * word off; guests raise those vectors with real faults. */

#include "gdt.h"

        .altmacro

        .macro trap_stub vec
        .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
        .else
        pushl $0
        .endif
        pushl $\vec
        jmp trap_common
        .endm

        /* The .rept below appends one entry point per vector here. */
        .section .rodata
        .balign 4
        .globl trap_stubs
trap_stubs:

        .text
        .set vector, 0
        .rept 256
1:      trap_stub %vector
        .pushsection .rodata
        .long 1b
        .popsection
        .set vector, vector + 1
        .endr

        .text
trap_common:
        pushal
        pushl %ds
        pushl %es
        pushl %fs
        pushl %gs
        /* Ring-3 code may have left user selectors in DS/ES. */
        movl $GDT_KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        cld                     /* the C ABI assumes DF = 0 */
        pushl %esp              /* struct trap_frame * */
        call trap_dispatch
        addl $4, %esp
        popl %gs
        popl %fs
        popl %es
        popl %ds
        popal
        addl $8, %esp           /* vector and error code */
        iret

        .section .note.GNU-stack, "", @progbits
