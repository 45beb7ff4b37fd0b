/* The 8259A pair and channel 0 of the 8254 as the guests set them up: the
 * PIC remapped to vectors IRQ_BASE..IRQ_BASE + 15 with every line masked,
 * and the PIT counting from the 1193182 Hz input clock. Not included by
 * guest.h: guests that take IRQs include it themselves. */
#pragma once

#include <stdint.h>

/* 8259A ports and commands (Intel 8259A datasheet, ICW1-4, OCW1-3). */
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI 0x20          /* OCW2: non-specific EOI */
#define PIC_SPECIFIC_EOI 0x60 /* OCW2: specific EOI, | level */
#define PIC_READ_IRR 0x0a     /* OCW3 */
#define PIC_READ_ISR 0x0b     /* OCW3 */

/* 8254 (Intel 8254 datasheet, "Control Word Format"): channel 0, LSB then
 * MSB, binary; mode 2 is the rate generator, mode 0 interrupt on terminal
 * count (one rising edge of OUT). 1193182 Hz / 1193 = 1000.15 Hz. */
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_MODE0 0x30
#define PIT_MODE2 0x34
#define PIT_1KHZ 1193

/* ICW1 edge-triggered cascade with ICW4; ICW2 vector bases IRQ_BASE and
 * IRQ_BASE + 8; ICW3 slave on IR2; ICW4 8086 mode, normal EOI. Leaves
 * every input masked (a BIOS may have left IRQ0 on at vector 8). */
void pic_init(void);

/* OCW1: the master's mask (bit n masks IRQ n); the slave stays masked. */
void pic_mask(uint8_t master);

/* Starts channel 0 in `mode` (PIT_MODE0 or PIT_MODE2) with `count`. */
void pit_start(uint8_t mode, uint16_t count);
