/* Kernel probes for paging guests (see paging.h): single accesses at
 * known addresses, so that a #PF handler can check the saved EIP against
 * probe_*_insn and resume at probe_*_done. cdecl: probe_read(addr)
 * returns the dword at addr, probe_write(addr, value) stores it,
 * probe_exec(addr) jumps to code at addr that ends in RET. */

        .text
        .globl probe_read, probe_read_insn, probe_read_done
probe_read:
        movl 4(%esp), %edx
probe_read_insn:
        movl (%edx), %eax
probe_read_done:
        ret

        .globl probe_write, probe_write_insn, probe_write_done
probe_write:
        movl 4(%esp), %edx
        movl 8(%esp), %eax
probe_write_insn:
        movl %eax, (%edx)
probe_write_done:
        ret

        .globl probe_exec, probe_exec_done
probe_exec:
        movl 4(%esp), %edx
        jmp *%edx               /* the target's RET returns to our caller */
probe_exec_done:
        ret

        .section .note.GNU-stack, "", @progbits
