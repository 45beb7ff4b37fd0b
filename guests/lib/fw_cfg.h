/* QEMU firmware configuration interface, legacy I/O form (QEMU
 * docs/specs/fw_cfg.txt): 16-bit selector at 0x510, 8-bit data at 0x511. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

/* Item keys (fw_cfg.txt, "Selector Register"). */
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_FILE_DIR 0x0019

/* True if the signature item reads "QEMU". */
bool fw_cfg_present(void);

/* Selects `key` and reads `len` bytes from its start. */
void fw_cfg_read(uint16_t key, void *buf, size_t len);

/* Reads an item stored as a little-endian integer. */
uint64_t fw_cfg_read_u64(uint16_t key);
uint32_t fw_cfg_read_u32(uint16_t key);
