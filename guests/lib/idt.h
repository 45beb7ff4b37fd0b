/* Interrupt handling for guests: an IDT whose 256 gates all lead to one C
 * dispatcher through assembly stubs (isr.S) that build a uniform frame.
 * A registered handler runs for its vector; an unregistered exception or
 * interrupt is reported and ends the guest with debug-exit value 3. */
#pragma once

#include <stdint.h>

#define IDT_ENTRIES 256
#define IRQ_BASE 0x20 /* vectors 0x20-0x2F: where a guest puts the 8259 pair */

/* Gate type and attributes (SDM Vol. 3A 6.11, Figure 6-2). */
#define IDT_INTERRUPT_GATE 0x8E /* present, DPL 0, 32-bit, clears IF */
#define IDT_TRAP_GATE 0x8F      /* present, DPL 0, 32-bit, keeps IF */
#define IDT_DPL3 0x60           /* OR in to allow INT n from ring 3 */

/* Exception vectors (SDM Vol. 3A 6.3.1, Table 6-1). */
enum {
  VEC_DE = 0,
  VEC_DB = 1,
  VEC_NMI = 2,
  VEC_BP = 3,
  VEC_OF = 4,
  VEC_BR = 5,
  VEC_UD = 6,
  VEC_NM = 7,
  VEC_DF = 8,
  VEC_TS = 10,
  VEC_NP = 11,
  VEC_SS = 12,
  VEC_GP = 13,
  VEC_PF = 14,
  VEC_MF = 16,
  VEC_AC = 17,
  VEC_MC = 18,
  VEC_XM = 19,
};

/* The stack at dispatch, lowest address first. isr.S pushes the segment
 * registers, PUSHAD's eight, then the vector and error code (0 for vectors
 * without one); the CPU pushed eip, cs and eflags, and user_esp/user_ss only
 * on a change to ring 0 (SDM Vol. 3A 6.12.1, Figure 6-4). A handler may
 * change any field, e.g. advance eip past a faulting instruction. */
struct trap_frame {
  uint32_t gs, fs, es, ds;
  uint32_t edi, esi, ebp, esp_before_pushad, ebx, edx, ecx, eax;
  uint32_t vector;
  uint32_t error_code;
  uint32_t eip, cs, eflags;
  uint32_t user_esp, user_ss; /* valid only if (cs & 3) != 0 */
};

typedef void (*trap_handler)(struct trap_frame *frame);

/* Fills all 256 gates with interrupt gates to the stubs (selector 0x08)
 * and loads the IDT. Call gdt_init() first. */
void idt_init(void);

/* gdt_init() then idt_init(): the flat protected-mode setup most guests
 * start from. */
void descriptor_tables_init(void);

/* Rewrites one gate, e.g. to give INT 0x80 DPL 3 or make a trap gate. */
void idt_set_gate(uint8_t vector, uint32_t handler, uint16_t selector, uint8_t type_attr);

/* The isr.S stub for `vector`, for use with idt_set_gate(). */
uint32_t idt_stub(uint8_t vector);

/* For a test's handler: how many traps it took, and the vector, error code
 * and saved EIP of the last. trap_log_add() records one. */
struct trap_log {
  unsigned count;
  uint32_t vector, error_code, eip;
};
void trap_log_add(struct trap_log *log, const struct trap_frame *frame);

/* Registers `fn` (or NULL to unregister) for any vector 0-255. */
void set_exception_handler(uint8_t vector, trap_handler fn);

/* Same, for IRQ line 0-15 at vector IRQ_BASE + irq. The handler sends its
 * own EOI. */
void set_irq_handler(unsigned irq, trap_handler fn);
