/* 32-bit paging for guests (SDM Vol. 3A 4.3, "32-Bit Paging"): a bump
 * allocator for page frames, page directories and tables built in them,
 * 4 KiB and 4 MiB (CR4.PSE) mappings, and the control-register and TLB
 * instructions a paging test needs. Not included by guest.h: paging guests
 * include it themselves.
 *
 * Frames come from a pool the kernel maps 1:1 (map_kernel), so a table is
 * reached through its physical address whether paging is on or off. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "multiboot.h"

#define PAGE_SIZE 0x1000u
#define LARGE_PAGE_SIZE 0x400000u
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define LARGE_PAGE_MASK (~(LARGE_PAGE_SIZE - 1))

/* Paging-structure entry bits (SDM Vol. 3A 4.3, Tables 4-4 to 4-6). */
#define PTE_P 0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_PWT 0x008u
#define PTE_PCD 0x010u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u /* in a PDE: maps a 4 MiB page (with CR4.PSE) */
#define PTE_G 0x100u
#define PDE_LARGE_RSVD 0x200000u /* bit 21 of a 4 MiB PDE: reserved (Table 4-4) */

/* #PF error code (SDM Vol. 3A 4.7, Figure 4-12). */
#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_RSVD 0x08u
#define PF_ID 0x10u

/* Control-register bits (SDM Vol. 3A 2.5). */
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u
#define CR4_TSD 0x00000004u
#define CR4_PSE 0x00000010u
#define CR4_PGE 0x00000080u

static inline uint32_t pd_index(uint32_t linear) { return linear >> 22; }
static inline uint32_t pt_index(uint32_t linear) { return (linear >> 12) & 0x3ff; }

static inline void reload_cr3(void) { write_cr3(read_cr3()); }
static inline void invlpg(uint32_t linear) {
  __asm__ volatile("invlpg (%0)" : : "r"(linear) : "memory");
}

/* Accesses that the compiler must emit exactly once, as written. */
static inline uint32_t peek(uint32_t linear) { return *(volatile uint32_t *)linear; }
static inline void poke(uint32_t linear, uint32_t value) { *(volatile uint32_t *)linear = value; }

/* Kernel probes (probe.S): one access each, at probe_*_insn, so that a
 * #PF handler can recognise it and resume at probe_*_done. probe_read
 * returns the dword at `addr`, probe_write stores `value` there,
 * probe_exec calls code at `addr` that ends in RET. */
uint32_t probe_read(uint32_t addr);
void probe_write(uint32_t addr, uint32_t value);
uint32_t probe_exec(uint32_t addr);
extern char probe_read_insn[], probe_read_done[], probe_write_insn[], probe_write_done[];
extern char probe_exec_done[];

/* Hands out zeroed 4 KiB frames from [start, end), both rounded inward to
 * pages. The pool must not overlap the image or the loader's data. */
void page_pool_init(uint32_t start, uint32_t end);

/* The usual pool: from the second MiB boundary past the image (the loader
 * puts its information and command line just past the image) up to
 * `ram_end`, capped at 32 MiB of frames. */
void page_pool_init_default(uint32_t ram_end);

/* A zeroed frame's physical address; ends the guest if the pool is empty. */
uint32_t page_alloc(void);

/* An empty page directory. */
uint32_t *pd_create(void);

/* The page table behind `linear`'s PDE, created (PDE flags P|RW|US, so the
 * PTE alone decides) if the PDE is not present. Ends the guest if the PDE
 * maps a 4 MiB page. */
uint32_t *pt_for(uint32_t *pd, uint32_t linear);

/* A pointer to the PTE for `linear` (creating its table), or to the PDE
 * when that maps a 4 MiB page. */
uint32_t *pte_for(uint32_t *pd, uint32_t linear);

/* Maps one 4 KiB page: PTE = phys | flags. */
void map_page(uint32_t *pd, uint32_t linear, uint32_t phys, uint32_t flags);

/* Maps one 4 MiB page: PDE = phys | PTE_PS | flags. */
void map_large(uint32_t *pd, uint32_t linear, uint32_t phys, uint32_t flags);

/* Identity-maps [4 KiB, 4 MiB) with 4 KiB pages (page 0 stays unmapped to
 * catch null pointers) and [4 MiB, ram_end) with 4 MiB pages, all with
 * `flags` (P|RW, perhaps G). The 4 MiB pages need CR4.PSE. */
void map_kernel(uint32_t *pd, uint32_t ram_end, uint32_t flags);

/* ORs `set` into and clears `clear` from the PTEs of [start, end), which
 * must already be mapped with 4 KiB pages. No TLB flush. */
void map_update(uint32_t *pd, uint32_t start, uint32_t end, uint32_t set, uint32_t clear);

/* Turns on CR4.PSE, loads CR3 with `pd` and sets CR0.PG. */
void paging_enable(uint32_t *pd);

/* The end of the RAM above 1 MiB that the loader reported (mem_upper), or
 * 64 MiB if it reported none. */
uint32_t ram_end(const struct multiboot_info *info);
