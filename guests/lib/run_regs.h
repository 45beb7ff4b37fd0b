/* run_regs(): runs a snippet with chosen general registers and EFLAGS and
 * records what it left in them. The cpu guest's directed checks and the
 * differential test's runners (../../tests/diff) share it. Not included by
 * guest.h. */
#pragma once

#include <stdint.h>

/* The general registers by name or by number (the ModRM order, EAX = 0 to
 * EDI = 7: SDM Vol. 2A 2.1.5), and EFLAGS. `esp` is unused on entry; on return it holds
 * ESP as the snippet left it before its RET. */
struct regs {
  union {
    struct {
      uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    };
    uint32_t gpr[8];
  };
  uint32_t eflags;
};

/* Loads all general registers but ESP, and EFLAGS, from *r, calls `code`
 * (which ends with RET and keeps the stack balanced), stores them back and
 * clears DF again. Defined in run_regs.S. */
void run_regs(struct regs *r, void (*code)(void));
