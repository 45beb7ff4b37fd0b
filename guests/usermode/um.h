/* usermode guest: the shared pieces. Ring-3 code lives in user.S, in pages
 * of its own that the kernel maps with U/S = 1; the kernel's own pages are
 * supervisor-only. Ring 3 leaves through INT 0x80 (SYS_EXIT), INT 0x81 (a
 * snapshot of the trap frame), or a fault, each of which ends the pending
 * user_call(). */
#pragma once

#include "guest.h"
#include "paging.h"
#include "pic.h"
#include "tss.h"

#define USER_STACK_TOP 0x7FFFF000u /* two stack pages below */
#define USER_DATA 0x70000000u      /* U/S = 1, R/W = 1 */
#define USER_RODATA 0x70001000u    /* U/S = 1, R/W = 0 */

/* INT 0x80 services: EAX = number; EBX, ECX, EDX arguments. */
#define SYS_EXIT 0 /* user_call() returns EBX */
#define SYS_ADD 1  /* EAX = EBX + 2 * ECX + 3 * EDX */

/* What user_call() returns besides a SYS_EXIT value. */
#define RET_NO_FAULT 0x5A000000u /* user_no_fault: the instruction ran */
#define RET_SNAPSHOT 0x5A000001u /* INT 0x81 */
#define RET_GP 0x5A000002u
#define RET_PF 0x5A000003u
#define RET_TIMEOUT 0x80000000u /* ORed in by user_spin when no stop came */

/* The frame INT 0x81 saw, where it lay, and EFLAGS inside the handler. */
extern struct trap_frame snap;
extern uint32_t snap_frame_addr, snap_handler_eflags;

/* The last fault taken in ring 3. */
extern struct user_fault { uint32_t vector, error, cr2, eip; } last_fault;

/* Checks made inside the INT 0x80 handler: frames that were not ring 3's
 * and handler IF values that differed from the interrupted IF (a trap gate
 * leaves IF alone, SDM Vol. 3A 6.12.1.3). */
extern unsigned syscall_bad_frames, syscall_if_mismatches;

/* Runs ring 3 at `eip` with the user stack, EFLAGS `eflags` and EBX/ECX/EDX
 * as given; returns what user_call() returns. */
uint32_t run_user(uint32_t eip, uint32_t eflags, uint32_t ebx, uint32_t ecx, uint32_t edx);

/* The groups. */
void test_iret(void);
void test_int80(void);
void test_sysenter(void);
void test_irq(void);
void test_privileged(void);
void test_io_bitmap(void);
void test_user_faults(void);

/* Ring-3 entry points and labels (user.S). */
extern char user_text_start[], user_text_end[];
extern char user_snapshot[], user_snapshot_after[], user_report_segs[], user_report_flags[];
extern char user_popf[], user_syscall_loop[], user_sysenter_loop[], user_spin[];
extern char user_no_fault[], user_read[], user_write[];
