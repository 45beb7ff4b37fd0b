/* smc_paged guest: code templates that the tests copy into page frames of
 * their own and run there. They use relative jumps only, so they run at
 * any address. Offsets of patch points are template-relative labels.
 *
 * Where a template patches itself through another linear address (an
 * alias of its frame), CPUID follows the store: the SDM makes prefetch
 * checks by linear address and asks for a serializing instruction before
 * code written through a different linear address runs (SDM Vol. 3A
 * 8.1.3 and 11.6). */

        .text
        .globl tpl_ret, tpl_ret_end
/* mov $imm32, %eax; ret -- the immediate is at tpl_ret + 1. */
tpl_ret:
        movl $0x11111111, %eax
        ret
tpl_ret_end:

        .globl tpl_inc, tpl_inc_end
/* Another body for tpl_ret's place: returns 0x101. */
tpl_inc:
        movl $0x100, %eax
        incl %eax
        ret
tpl_inc_end:

/* ECX = value, EDX = where (through the write alias) tpl_self_imm's
 * immediate lies: stores ECX there, serializes, runs the patched MOV. */
        .globl tpl_self, tpl_self_imm, tpl_self_end
tpl_self:
        pushl %ebx
        movl %ecx, (%edx)
        xorl %eax, %eax
        cpuid
tpl_self_imm:
        movl $0, %eax
        popl %ebx
        ret
tpl_self_end:

/* ECX = n, EDX = tpl_loop_imm's immediate through the write alias. For
 * i = n .. 1 patches the immediate to i and adds what the MOV loads:
 * returns n (n + 1) / 2. */
        .globl tpl_loop, tpl_loop_imm, tpl_loop_end
tpl_loop:
        pushl %ebp
        pushl %esi
        pushl %edi
        pushl %ebx
        movl %ecx, %esi
        movl %edx, %edi
        xorl %ebp, %ebp
1:      movl %esi, (%edi)
        xorl %eax, %eax
        cpuid
tpl_loop_imm:
        movl $0, %eax
        addl %eax, %ebp
        decl %esi
        jnz 1b
        movl %ebp, %eax
        popl %ebx
        popl %edi
        popl %esi
        popl %ebp
        ret
tpl_loop_end:

        .section .note.GNU-stack, "", @progbits
