/* printf core: one formatter writing through a sink, so printf (serial) and
 * snprintf (buffer) share it. 64-bit conversions divide with libgcc's
 * __udivdi3, which the guest link pulls in. */
#include "printf.h"

#include <stdbool.h>
#include <stdint.h>

#include "serial.h"

struct sink {
  bool serial; /* write to COM1 instead of buf */
  char *buf;
  size_t size;
  size_t count; /* characters produced, including any that did not fit */
};

struct spec {
  unsigned width;
  bool left;
  bool zero;
};

static void emit(struct sink *out, char c) {
  if (out->serial) {
    serial_putc(c);
  } else if (out->count + 1 < out->size) {
    out->buf[out->count] = c;
  }
  out->count++;
}

static void emit_repeat(struct sink *out, char c, unsigned n) {
  while (n-- > 0) emit(out, c);
}

/* Emits `sign` (or 0), then `digits`, padded to the field width. */
static void emit_field(struct sink *out, const struct spec *spec, char sign, const char *digits,
                       unsigned len) {
  unsigned total = len + (sign ? 1 : 0);
  unsigned pad = spec->width > total ? spec->width - total : 0;
  if (!spec->left && !spec->zero) emit_repeat(out, ' ', pad);
  if (sign) emit(out, sign);
  if (!spec->left && spec->zero) emit_repeat(out, '0', pad);
  for (unsigned i = 0; i < len; i++) emit(out, digits[i]);
  if (spec->left) emit_repeat(out, ' ', pad);
}

static void emit_number(struct sink *out, const struct spec *spec, uint64_t value, unsigned base,
                        bool upper, char sign) {
  const char *digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[24]; /* 2^64 in octal is 22 digits */
  unsigned len = 0;
  do {
    digits[sizeof digits - 1 - len++] = digit_chars[value % base];
    value /= base;
  } while (value);
  emit_field(out, spec, sign, digits + sizeof digits - len, len);
}

static void emit_string(struct sink *out, const struct spec *spec, const char *s) {
  if (!s) s = "(null)";
  unsigned len = 0;
  while (s[len]) len++;
  struct spec no_zero = *spec;
  no_zero.zero = false;
  emit_field(out, &no_zero, 0, s, len);
}

/* Parses flags and width at *fmt; returns the spec and advances *fmt. */
static struct spec parse_spec(const char **fmt, va_list *ap) {
  struct spec spec = {0, false, false};
  for (;; (*fmt)++) {
    if (**fmt == '-') {
      spec.left = true;
    } else if (**fmt == '0') {
      spec.zero = true;
    } else {
      break;
    }
  }
  if (**fmt == '*') {
    int w = va_arg(*ap, int);
    spec.left |= w < 0;
    spec.width = (unsigned)(w < 0 ? -w : w);
    (*fmt)++;
  }
  for (; **fmt >= '0' && **fmt <= '9'; (*fmt)++) spec.width = spec.width * 10 + (**fmt - '0');
  return spec;
}

static uint64_t take_unsigned(va_list *ap, int longs) {
  return longs >= 2 ? va_arg(*ap, unsigned long long) : va_arg(*ap, unsigned);
}

static void format_one(struct sink *out, char conv, const struct spec *spec, int longs,
                       va_list *ap) {
  switch (conv) {
    case 'd':
    case 'i': {
      int64_t v = longs >= 2 ? va_arg(*ap, long long) : va_arg(*ap, int);
      uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
      emit_number(out, spec, magnitude, 10, false, v < 0 ? '-' : 0);
      break;
    }
    case 'u': emit_number(out, spec, take_unsigned(ap, longs), 10, false, 0); break;
    case 'x': emit_number(out, spec, take_unsigned(ap, longs), 16, false, 0); break;
    case 'X': emit_number(out, spec, take_unsigned(ap, longs), 16, true, 0); break;
    case 'o': emit_number(out, spec, take_unsigned(ap, longs), 8, false, 0); break;
    case 'p': {
      emit(out, '0');
      emit(out, 'x');
      struct spec ptr = {8, false, true};
      emit_number(out, &ptr, (uintptr_t)va_arg(*ap, void *), 16, false, 0);
      break;
    }
    case 'c': {
      char c = (char)va_arg(*ap, int);
      emit_field(out, spec, 0, &c, 1);
      break;
    }
    case 's': emit_string(out, spec, va_arg(*ap, const char *)); break;
    case '%': emit(out, '%'); break;
    default: /* unknown conversion: show it rather than guess */
      emit(out, '%');
      emit(out, conv);
      break;
  }
}

static void format(struct sink *out, const char *fmt, va_list ap) {
  va_list args;
  va_copy(args, ap);
  while (*fmt) {
    if (*fmt != '%') {
      emit(out, *fmt++);
      continue;
    }
    fmt++;
    struct spec spec = parse_spec(&fmt, &args);
    int longs = 0;
    for (; *fmt == 'l'; fmt++) longs++;
    if (!*fmt) break;
    format_one(out, *fmt++, &spec, longs, &args);
  }
  va_end(args);
}

int vprintf(const char *fmt, va_list ap) {
  struct sink out = {true, 0, 0, 0};
  format(&out, fmt, ap);
  return (int)out.count;
}

int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct sink out = {false, buf, size, 0};
  format(&out, fmt, ap);
  if (size > 0) buf[out.count < size ? out.count : size - 1] = '\0';
  return (int)out.count;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
