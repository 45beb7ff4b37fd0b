/* IDT construction and the C trap dispatcher (SDM Vol. 3A 6.10 "Interrupt
 * Descriptor Table" and 6.11 "IDT Descriptors"). */
#include "idt.h"

#include "check.h"
#include "gdt.h"
#include "io.h"
#include "printf.h"

/* From isr.S: the entry points of the 256 stubs, indexed by vector. */
extern const uint32_t trap_stubs[IDT_ENTRIES];

void trap_dispatch(struct trap_frame *frame);

static uint64_t idt[IDT_ENTRIES] __attribute__((aligned(8)));
static trap_handler handlers[IDT_ENTRIES];

void idt_set_gate(uint8_t vector, uint32_t handler, uint16_t selector, uint8_t type_attr) {
  uint64_t g = handler & 0xFFFF;
  g |= (uint64_t)selector << 16;
  g |= (uint64_t)type_attr << 40;
  g |= (uint64_t)(handler >> 16) << 48;
  idt[vector] = g;
}

uint32_t idt_stub(uint8_t vector) { return trap_stubs[vector]; }

void idt_init(void) {
  for (unsigned v = 0; v < IDT_ENTRIES; v++) {
    idt_set_gate((uint8_t)v, trap_stubs[v], GDT_KERNEL_CS, IDT_INTERRUPT_GATE);
  }
  struct {
    uint16_t limit;
    uint32_t base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (uint32_t)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void descriptor_tables_init(void) {
  gdt_init();
  idt_init();
}

void trap_log_add(struct trap_log *log, const struct trap_frame *frame) {
  log->count++;
  log->vector = frame->vector;
  log->error_code = frame->error_code;
  log->eip = frame->eip;
}

void set_exception_handler(uint8_t vector, trap_handler fn) { handlers[vector] = fn; }

void set_irq_handler(unsigned irq, trap_handler fn) {
  set_exception_handler((uint8_t)(IRQ_BASE + (irq & 15)), fn);
}

/* Called by isr.S with interrupts off (interrupt gates clear IF). */
void trap_dispatch(struct trap_frame *frame) {
  trap_handler fn = handlers[frame->vector & 0xFF];
  if (fn) {
    fn(frame);
    return;
  }
  if (frame->vector < 32) {
    printf("unexpected exception %u at EIP 0x%08x err 0x%x", frame->vector, frame->eip,
           frame->error_code);
    if (frame->vector == VEC_PF) printf(" cr2 0x%08x", read_cr2());
    printf("\n");
  } else {
    printf("unexpected interrupt %u at EIP 0x%08x\n", frame->vector, frame->eip);
  }
  exit_guest(EXIT_UNEXPECTED_TRAP);
}
