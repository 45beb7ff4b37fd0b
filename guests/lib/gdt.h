/* A flat GDT for guests (SDM Vol. 3A 3.4.5, "Segment Descriptors"): ring-0
 * code at 0x08 and data at 0x10, both base 0 and limit 4 GiB, with free
 * slots for user segments, a TSS or odd segments a test builds itself. */
#pragma once

#define GDT_ENTRIES 16
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_FIRST_FREE 3 /* first index gdt_init() leaves empty */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Access byte (SDM Vol. 3A 3.4.5, Figure 3-8). */
#define GDT_ACCESS_PRESENT 0x80
#define GDT_ACCESS_DPL(n) ((n) << 5)
#define GDT_ACCESS_CODE_DATA 0x10 /* S = 1 */
#define GDT_ACCESS_CODE_RX 0x0A   /* execute/read */
#define GDT_ACCESS_DATA_RW 0x02   /* read/write */
#define GDT_ACCESS_TSS32 0x09     /* available 32-bit TSS (S = 0) */

/* Flags nibble: G (4 KiB granularity) and D/B (32-bit). */
#define GDT_FLAG_4K 0x8
#define GDT_FLAG_32 0x4

/* Builds the flat GDT, loads it with LGDT and reloads CS (far jump) and
 * DS/ES/FS/GS/SS, replacing whatever the boot loader left. */
void gdt_init(void);

/* Writes descriptor `index`; the GDT stays loaded, so a later segment load
 * of selector (index << 3) | RPL sees it. `limit` is in bytes, or in 4 KiB
 * pages when `flags` has GDT_FLAG_4K. */
void gdt_set_entry(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);

/* gdt_set_entry() for a present 32-bit code or data segment of 4 GiB (4 KiB
 * granularity) at `base`: `type` is GDT_ACCESS_CODE_RX or GDT_ACCESS_DATA_RW,
 * `dpl` its privilege level. */
void gdt_set_segment(unsigned index, uint32_t base, unsigned dpl, uint8_t type);

/* Raw 8-byte descriptor, for tests that inspect accessed bits. */
uint64_t gdt_get_entry(unsigned index);
#endif /* __ASSEMBLER__ */
