/* Multiboot v1 header and entry point (Multiboot Specification 0.6.96).
 * The header must lie 4-byte aligned in the image's first 8 KiB (spec
 * 3.1.1); linker.ld puts .multiboot first. The loader enters in 32-bit
 * protected mode with paging and interrupts off, EAX = 0x2BADB002, EBX =
 * the information structure, and no valid stack (spec 3.2). */

#define MB_MAGIC 0x1BADB002
#define MB_FLAG_PAGE_ALIGN (1 << 0) /* modules on 4 KiB boundaries */
#define MB_FLAG_MEMORY_INFO (1 << 1) /* mem_* and mmap_* wanted */
#define MB_FLAGS (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO)

#define STACK_SIZE 16384

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .text
        .globl _start
_start:
        cli
        cld
        /* Zero .bss before using the stack in it: a loader need not clear
         * it. REP STOSB uses EAX/ECX/EDI, so park the loader's EAX/EBX. */
        movl %eax, %esi
        movl %ebx, %edx
        movl $__bss_start, %edi
        movl $__bss_end, %ecx
        subl %edi, %ecx
        xorl %eax, %eax
        rep stosb

        movl $stack_top, %esp
        xorl %ebp, %ebp         /* ends frame-pointer walks */
        pushl $0                /* clear EFLAGS, including AC and NT */
        popfl
        subl $8, %esp           /* keep ESP 16-byte aligned at the call */
        pushl %edx              /* const struct multiboot_info * */
        pushl %esi              /* magic */
        call start_c
1:      cli                     /* start_c does not return */
        hlt
        jmp 1b

        .bss
        .balign 16
stack_bottom:
        .skip STACK_SIZE
stack_top:

        .section .note.GNU-stack, "", @progbits
