/* A small printf for guests, writing to COM1. Conversions: %d %i %u %x %X
 * %o %c %s %p %%, flags '-' and '0', a field width (or '*'), and the length
 * modifiers l (no-op on i386) and ll (64-bit). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
