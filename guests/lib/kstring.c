/* String and memory functions. memcpy/memset use REP MOVSB/STOSB (SDM
 * Vol. 2B, REP prefix) rather than C loops: at -O2 gcc recognises a byte
 * loop as memset and would compile memset into a call to itself. */
#include "kstring.h"

void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  if ((char *)dst <= (const char *)src || (char *)dst >= (const char *)src + n) {
    return memcpy(dst, src, n);
  }
  /* Overlap with dst above src: copy backwards (DF=1), then restore DF=0
   * as the i386 System V ABI requires. */
  char *d = (char *)dst + n - 1;
  const char *s = (const char *)src + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  void *d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *p = a, *q = b;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != q[i]) return p[i] - q[i];
  }
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (; n > 0; n--, a++, b++) {
    if (*a != *b || !*a) return (unsigned char)*a - (unsigned char)*b;
  }
  return 0;
}

char *strstr(const char *haystack, const char *needle) {
  size_t n = strlen(needle);
  for (; *haystack; haystack++) {
    if (strncmp(haystack, needle, n) == 0) return (char *)haystack;
  }
  return n == 0 ? (char *)haystack : 0;
}
