/* The runner shared by the native program and the guest kernel: runs every
 * case of a case file (../common/case_format.h) and reports one line per case.
 * Both sides print the same lines for a correct CPU, so comparing them
 * line by line compares the two CPUs. */
#pragma once

#include <stdint.h>

#include "case_format.h"
#include "run_regs.h"

/* Checks a case file in memory; returns its case count, or -1 and sets
 * *error. */
int diff_check_file(const void *file, uint32_t size, const char **error);

/* Runs every case of a checked file. code_area holds count slots of
 * DIFF_SLOT_SIZE bytes and must be writable and executable; each case runs
 * from its own slot, written once, so no case depends on the translator's
 * handling of code that is rewritten after it ran. emit() gets each line
 * without a newline. */
void diff_run_all(const void *file, uint8_t *code_area, void (*emit)(const char *line));
