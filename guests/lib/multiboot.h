/* Multiboot v1 structures as the loader hands them to the kernel
 * (Multiboot Specification 0.6.96, section 3.3 "Boot information format"). */
#pragma once

#include <stdint.h>

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* multiboot_info.flags: which fields below are valid (spec 3.3). */
#define MULTIBOOT_INFO_MEMORY (1u << 0)
#define MULTIBOOT_INFO_BOOTDEV (1u << 1)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS (1u << 3)
#define MULTIBOOT_INFO_AOUT_SYMS (1u << 4)
#define MULTIBOOT_INFO_ELF_SHDR (1u << 5)
#define MULTIBOOT_INFO_MEM_MAP (1u << 6)
#define MULTIBOOT_INFO_DRIVE_INFO (1u << 7)
#define MULTIBOOT_INFO_CONFIG_TABLE (1u << 8)
#define MULTIBOOT_INFO_BOOT_LOADER_NAME (1u << 9)
#define MULTIBOOT_INFO_APM_TABLE (1u << 10)
#define MULTIBOOT_INFO_VBE_INFO (1u << 11)

/* multiboot_mmap_entry.type (spec 3.3, "mmap_*"). */
#define MULTIBOOT_MEMORY_AVAILABLE 1u
#define MULTIBOOT_MEMORY_RESERVED 2u

struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower; /* KiB below 1 MiB */
  uint32_t mem_upper; /* KiB from 1 MiB to the first hole */
  uint32_t boot_device;
  uint32_t cmdline; /* physical address of a NUL-terminated string */
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
  uint32_t drives_length;
  uint32_t drives_addr;
  uint32_t config_table;
  uint32_t boot_loader_name;
  uint32_t apm_table;
  uint32_t vbe_control_info;
  uint32_t vbe_mode_info;
  uint16_t vbe_mode;
  uint16_t vbe_interface_seg;
  uint16_t vbe_interface_off;
  uint16_t vbe_interface_len;
};

/* One memory map entry. `size` counts the bytes after itself, so the next
 * entry is at (char *)entry + entry->size + 4 (spec 3.3). */
struct multiboot_mmap_entry {
  uint32_t size;
  uint64_t addr;
  uint64_t len;
  uint32_t type;
} __attribute__((packed));

struct multiboot_module {
  uint32_t mod_start;
  uint32_t mod_end; /* exclusive */
  uint32_t string;  /* physical address of the module's command line */
  uint32_t reserved;
};

static inline const struct multiboot_mmap_entry *multiboot_mmap_next(
    const struct multiboot_mmap_entry *entry) {
  return (const struct multiboot_mmap_entry *)((const char *)entry + entry->size + 4);
}
