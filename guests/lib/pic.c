/* The guests' PIC and PIT set-up (pic.h). */
#include "pic.h"

#include "idt.h"
#include "io.h"

void pic_init(void) {
  outb(PIC1_CMD, 0x11);
  outb(PIC2_CMD, 0x11);
  outb(PIC1_DATA, IRQ_BASE);
  outb(PIC2_DATA, IRQ_BASE + 8);
  outb(PIC1_DATA, 0x04);
  outb(PIC2_DATA, 0x02);
  outb(PIC1_DATA, 0x01);
  outb(PIC2_DATA, 0x01);
  pic_mask(0xff);
}

void pic_mask(uint8_t master) {
  outb(PIC1_DATA, master);
  outb(PIC2_DATA, 0xff);
}

void pit_start(uint8_t mode, uint16_t count) {
  outb(PIT_CMD, mode);
  outb(PIT_CH0, count & 0xff);
  outb(PIT_CH0, count >> 8);
}
