/* fw_cfg over legacy port I/O (QEMU docs/specs/fw_cfg.txt). Writing the
 * selector resets the item's read offset; each data read returns the next
 * byte. Integer items are little-endian, which i386 loads as-is. */
#include "fw_cfg.h"

#include "io.h"
#include "kstring.h"

void fw_cfg_read(uint16_t key, void *buf, size_t len) {
  uint8_t *p = buf;
  outw(FW_CFG_PORT_SEL, key);
  for (size_t i = 0; i < len; i++) p[i] = inb(FW_CFG_PORT_DATA);
}

bool fw_cfg_present(void) {
  char signature[4];
  fw_cfg_read(FW_CFG_SIGNATURE, signature, sizeof signature);
  return memcmp(signature, "QEMU", 4) == 0;
}

uint64_t fw_cfg_read_u64(uint16_t key) {
  uint64_t value;
  fw_cfg_read(key, &value, sizeof value);
  return value;
}

uint32_t fw_cfg_read_u32(uint16_t key) {
  uint32_t value;
  fw_cfg_read(key, &value, sizeof value);
  return value;
}
