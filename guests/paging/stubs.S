/* paging guest: assembly helpers at known addresses (the kernel probes
 * whose faults the tests provoke are lib/probe.S). Ring-3 stubs live in
 * pages of their own ([user_text_start, user_text_end), mapped with
 * U/S = 1) and end with INT 0x80, whose handler leaves ring 3. */

        .text
/* Returns its own return address, i.e. where it runs: called through the
 * higher-half alias, the CALL below is relative and stays in the alias. */
        .globl hh_where, hh_where_label
hh_where:
        call 1f
hh_where_label:
1:      popl %eax
        ret

/* REP MOVSB with all three operands given; returns the final ECX. */
        .globl rep_movsb_probe
rep_movsb_probe:
        pushl %esi
        pushl %edi
        movl 12(%esp), %edi
        movl 16(%esp), %esi
        movl 20(%esp), %ecx
        rep movsb
        movl %ecx, %eax
        popl %edi
        popl %esi
        ret

        .balign 4096
        .globl user_text_start, user_text_end
user_text_start:

/* EBX = address; EAX = the dword read. */
        .globl user_read_stub
user_read_stub:
        movl (%ebx), %eax
        int $0x80

/* EBX = address, ECX = value. */
        .globl user_write_stub
user_write_stub:
        movl %ecx, (%ebx)
        int $0x80

/* Demand paging from ring 3: ESP points into a not-present stack page and
 * EBX at a not-present data page. EAX returns what was pushed and popped,
 * EDX what the data page held before the store. */
        .globl user_demand_stub, user_demand_push, user_demand_load
user_demand_stub:
user_demand_push:
        pushl $0x12345678
        popl %eax
user_demand_load:
        movl (%ebx), %edx
        movl %eax, (%ebx)
        int $0x80

        .balign 4096
user_text_end:

        .section .note.GNU-stack, "", @progbits
