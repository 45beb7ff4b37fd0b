/* COM1 output for guests: a polled 16550 transmitter, no interrupts. */
#pragma once

#define COM1_PORT 0x3F8

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
