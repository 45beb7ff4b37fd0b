/* crc32: the IEEE 802.3 CRC-32 (reflected polynomial 0xEDB88320, as zlib),
 * one table lookup per byte, over a generated buffer read several times.
 * A long dependency chain of loads, shifts and xors. */
#include "kernels.h"

#define CRC_BUFFER_BYTES (256u << 10)
#define CRC_PASSES 144

struct crc_scratch {
  uint32_t table[256];
  uint8_t buffer[CRC_BUFFER_BYTES];
};

static void crc_table(uint32_t *table) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
}

/* Continues a CRC: `crc` is the value a previous call returned (0 at first). */
static uint32_t crc_update(const uint32_t *table, uint32_t crc, const uint8_t *p, uint32_t n) {
  crc = ~crc;
  for (uint32_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

static uint32_t crc32_run(void *scratch, uint32_t seed) {
  struct crc_scratch *s = scratch;
  crc_table(s->table);
  uint32_t state = bench_seed_state(seed);
  uint32_t *words = (uint32_t *)s->buffer;
  for (uint32_t i = 0; i < CRC_BUFFER_BYTES / 4; i++) words[i] = bench_xorshift(&state);
  /* The standard check value (zlib's crc32 of "123456789"). */
  static const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  uint32_t crc = crc_update(s->table, 0, check, sizeof check) ^ 0xCBF43926u;
  for (int pass = 0; pass < CRC_PASSES; pass++) {
    crc = crc_update(s->table, crc, s->buffer, CRC_BUFFER_BYTES);
  }
  return crc;
}

const struct bench_kernel bench_crc32 = {
    .name = "crc32",
    .what = "table-driven CRC-32, 144 passes over a 256 KiB buffer",
    .run = crc32_run,
    .scratch_bytes = sizeof(struct crc_scratch),
};
