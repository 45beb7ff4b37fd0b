/* usermode guest: the ring-3 code (SYSENTER enters lib/sysenter.S), which
 * sits in whole pages of its own ([user_text_start, user_text_end)) so
 * that only it is mapped user-accessible. Ring 3 leaves with INT 0x80
 * (EAX = 0: exit with EBX), INT 0x81 (snapshot) or a fault. */

#define SYS_EXIT 0
#define SYS_ADD 1
#define RET_NO_FAULT 0x5A000000
#define RET_TIMEOUT 0x80000000
#define CANARY 0x5A5A5A5A

        .text
        .balign 4096
        .globl user_text_start, user_text_end
user_text_start:

/* Leaves ring 3 at once: the kernel looks at the registers it passed. */
        .globl user_snapshot, user_snapshot_after
user_snapshot:
        int $0x81
user_snapshot_after:

/* The selectors and EFLAGS as ring 3 sees them. */
        .globl user_report_segs
user_report_segs:
        movl %cs, %eax
        movl %ss, %ebx
        movl %ds, %ecx
        movl %es, %edx
        movl %fs, %esi
        movl %gs, %edi
        int $0x81

        .globl user_report_flags
user_report_flags:
        pushfl
        popl %eax
        movl %esp, %ebx
        int $0x81

/* POPF at CPL 3 > IOPL may change neither IF nor IOPL, and does not
 * fault (SDM Vol. 2B POPF). EAX = EFLAGS afterwards. */
        .globl user_popf
user_popf:
        pushfl
        popl %eax
        andl $~0x200, %eax
        orl $0x3000, %eax
        pushl %eax
        popfl
        pushfl
        popl %eax
        int $0x81

/* ECX = N round trips through INT 0x80 SYS_ADD; exits with the number of
 * wrong results or clobbered registers. ESI counts, EDI counts errors,
 * EBP holds a canary the kernel must not change. */
        .globl user_syscall_loop
user_syscall_loop:
        pushl %ecx
        xorl %esi, %esi
        xorl %edi, %edi
        movl $CANARY, %ebp
1:      movl $SYS_ADD, %eax
        movl %esi, %ebx
        leal 7(%esi), %ecx
        leal (,%esi,8), %edx
        int $0x80
        imull $27, %esi, %ebx   /* i + 2 (i + 7) + 3 (8 i) = 27 i + 14 */
        addl $14, %ebx
        cmpl %ebx, %eax
        jne 2f
        cmpl $CANARY, %ebp
        je 3f
2:      incl %edi
3:      incl %esi
        cmpl (%esp), %esi
        jb 1b
        movl $SYS_EXIT, %eax
        movl %edi, %ebx
        int $0x80

/* ECX = N round trips through SYSENTER (EAX = SYS_ADD, arguments EBX, ESI,
 * EDI: the kernel returns EBX + 2 ESI + 3 EDI). After each SYSEXIT it
 * checks the result, the canary in EBP, CS = 0x1B, SS = 0x23 and IF = 0
 * (SYSENTER cleared it and SYSEXIT leaves EFLAGS alone). Stack: (%esp) i,
 * 4(%esp) N, 8(%esp) errors. Exits through SYSENTER SYS_EXIT. */
        .globl user_sysenter_loop
user_sysenter_loop:
        pushl $0
        pushl %ecx
        pushl $0
1:      movl (%esp), %ebx
        leal 7(%ebx), %esi
        leal (,%ebx,8), %edi
        movl $SYS_ADD, %eax
        movl $CANARY, %ebp
        movl %esp, %ecx
        movl $2f, %edx
        sysenter
2:      movl (%esp), %ebx
        imull $27, %ebx, %ebx
        addl $14, %ebx
        cmpl %ebx, %eax
        jne 3f
        cmpl $CANARY, %ebp
        jne 3f
        movl %cs, %ebx
        cmpw $0x1B, %bx
        jne 3f
        movl %ss, %ebx
        cmpw $0x23, %bx
        jne 3f
        pushfl
        popl %ebx
        testl $0x200, %ebx
        jz 4f
3:      incl 8(%esp)
4:      incl (%esp)
        movl (%esp), %eax
        cmpl 4(%esp), %eax
        jb 1b
        movl $SYS_EXIT, %eax
        movl 8(%esp), %ebx
        movl %esp, %ecx
        movl $5f, %edx
        sysenter
5:      ud2                     /* SYS_EXIT does not return */

/* Spins with interrupts on, recomputing a register-only mix and counting
 * results that differ from the first, until the dword at EBX becomes
 * nonzero (the IRQ0 handler sets it) or ECX passes run out. Exits with
 * the count, | RET_TIMEOUT if it ran out. */
        .globl user_spin
user_spin:
        movl %ecx, %ebp
        xorl %edi, %edi
        call 5f
        movl %eax, %esi
1:      call 5f
        cmpl %eax, %esi
        je 2f
        incl %edi
2:      cmpl $0, (%ebx)
        jne 3f
        decl %ebp
        jnz 1b
        orl $RET_TIMEOUT, %edi
3:      movl $SYS_EXIT, %eax
        movl %edi, %ebx
        int $0x80
5:      movl $2000, %ecx
        xorl %eax, %eax
        movl $1, %edx
6:      addl %edx, %eax
        roll $3, %edx
        xorl %eax, %edx
        adcl %ecx, %eax
        decl %ecx
        jnz 6b
        ret

/* EBX = address: one load or one store (ECX), then exit RET_NO_FAULT. */
        .globl user_read, user_write
user_read:
        movl (%ebx), %eax
        jmp user_no_fault
user_write:
        movl %ecx, (%ebx)
        jmp user_no_fault

/* Privileged or I/O instructions, one per label; each falls through to
 * user_no_fault if it does not fault. EDX holds a port, EAX a value. */
        .macro priv name, insn:vararg
        .globl priv_\name
priv_\name:
        \insn
        jmp user_no_fault
        .endm

        priv cli, cli
        priv sti, sti
        priv hlt, hlt
        priv read_cr0, movl %cr0, %eax
        priv write_cr0, movl %eax, %cr0
        priv read_cr3, movl %cr3, %eax
        priv write_cr4, movl %eax, %cr4
        priv read_dr7, movl %dr7, %eax
        priv lgdt, lgdt (%esp)
        priv lidt, lidt (%esp)
        priv lldt, lldt %ax
        priv ltr, ltr %ax
        priv lmsw, lmsw %ax
        priv clts, clts
        priv invlpg, invlpg (%esp)
        priv invd, invd
        priv wbinvd, wbinvd
        priv rdmsr, rdmsr
        priv wrmsr, wrmsr
        priv sysexit, sysexit
        priv sysenter, sysenter
        priv int82, int $0x82
        priv inb_imm, inb $0x81, %al
        priv outb_imm, outb %al, $0x81
        priv inb_dx, inb %dx, %al
        priv outb_dx, outb %al, %dx
        priv inw_dx, inw %dx, %ax
        priv outw_dx, outw %ax, %dx
        priv insb, insb
        priv outsb, outsb
        priv in80, inb $0x80, %al
        priv out80, outb %al, $0x80
        priv rdtsc, rdtsc

        .globl priv_cli_sti
priv_cli_sti:
        cli
        sti
        jmp user_no_fault

        .globl user_no_fault
user_no_fault:
        movl $SYS_EXIT, %eax
        movl $RET_NO_FAULT, %ebx
        int $0x80

        .balign 4096
user_text_end:

        .section .note.GNU-stack, "", @progbits
