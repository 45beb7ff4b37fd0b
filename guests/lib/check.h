/* Self-checking guests: count failed checks, report PASS/FAIL on COM1 and
 * end through QEMU's isa-debug-exit device (port 0xF4), whose exit status
 * is (value << 1) | 1. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define DEBUG_EXIT_PORT 0xF4

/* Debug-exit values the library itself uses. */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_UNEXPECTED_TRAP 3

/* Writes `value` to the debug-exit port. Without that device the write is
 * ignored and the guest halts with interrupts off. */
__attribute__((noreturn)) void exit_guest(uint32_t value);
__attribute__((noreturn)) void halt_forever(void);

/* Records one check. On failure prints "check failed: <message>". Returns
 * `cond` so callers can skip checks that depend on this one. */
bool check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* check() for equality, printing both values in hex on a mismatch. */
bool check_eq(uint32_t got, uint32_t want, const char *what);
bool check_eq64(uint64_t got, uint64_t want, const char *what);

unsigned check_failures(void);

/* Prints "<group>: ok", or "<group>: N failed" if checks failed since
 * check_failures() returned `before`. */
void group_done(const char *group, unsigned before);

/* Runs `fn` as one group: group_done(name, ...) for the checks it made. */
void run_group(const char *name, void (*fn)(void));

/* Prints "PASS" and exits with 0, or "FAIL: N checks failed" and exits
 * with 1. Returning from kmain() calls this. */
__attribute__((noreturn)) void finish(void);
