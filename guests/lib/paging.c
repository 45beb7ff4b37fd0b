/* Page-frame pool and 32-bit page tables (SDM Vol. 3A 4.3). Tables are
 * edited through their physical addresses, which the kernel maps 1:1. */
#include "paging.h"

#include "check.h"
#include "kstring.h"
#include "printf.h"

#define MIB 0x100000u
#define POOL_MAX_BYTES (32u * MIB)
#define PDE_TABLE_FLAGS (PTE_P | PTE_RW | PTE_US)

extern char __image_end[];

static uint32_t pool_next, pool_end;

void page_pool_init(uint32_t start, uint32_t end) {
  pool_next = (start + PAGE_SIZE - 1) & PAGE_MASK;
  pool_end = end & PAGE_MASK;
}

void page_pool_init_default(uint32_t ram_end) {
  uint32_t start = ((uint32_t)__image_end + 2 * MIB - 1) & ~(MIB - 1);
  uint32_t end = ram_end;
  if (end > start + POOL_MAX_BYTES) end = start + POOL_MAX_BYTES;
  page_pool_init(start, end);
}

uint32_t page_alloc(void) {
  if (pool_next >= pool_end) {
    printf("page_alloc: pool exhausted at 0x%x\n", pool_next);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  uint32_t frame = pool_next;
  pool_next += PAGE_SIZE;
  memset((void *)frame, 0, PAGE_SIZE);
  return frame;
}

uint32_t *pd_create(void) { return (uint32_t *)page_alloc(); }

uint32_t *pt_for(uint32_t *pd, uint32_t linear) {
  uint32_t *pde = &pd[pd_index(linear)];
  if (!(*pde & PTE_P)) *pde = page_alloc() | PDE_TABLE_FLAGS;
  if (*pde & PTE_PS) {
    printf("pt_for: 0x%x lies in a 4 MiB page\n", linear);
    exit_guest(EXIT_UNEXPECTED_TRAP);
  }
  return (uint32_t *)(*pde & PAGE_MASK);
}

uint32_t *pte_for(uint32_t *pd, uint32_t linear) {
  uint32_t *pde = &pd[pd_index(linear)];
  if ((*pde & (PTE_P | PTE_PS)) == (PTE_P | PTE_PS)) return pde;
  return &pt_for(pd, linear)[pt_index(linear)];
}

void map_page(uint32_t *pd, uint32_t linear, uint32_t phys, uint32_t flags) {
  pt_for(pd, linear)[pt_index(linear)] = (phys & PAGE_MASK) | flags;
}

void map_large(uint32_t *pd, uint32_t linear, uint32_t phys, uint32_t flags) {
  pd[pd_index(linear)] = (phys & LARGE_PAGE_MASK) | PTE_PS | flags;
}

void map_kernel(uint32_t *pd, uint32_t ram_end, uint32_t flags) {
  for (uint32_t a = PAGE_SIZE; a < LARGE_PAGE_SIZE; a += PAGE_SIZE) map_page(pd, a, a, flags);
  for (uint32_t a = LARGE_PAGE_SIZE; a < ram_end && a != 0; a += LARGE_PAGE_SIZE) {
    map_large(pd, a, a, flags);
  }
}

void map_update(uint32_t *pd, uint32_t start, uint32_t end, uint32_t set, uint32_t clear) {
  for (uint32_t a = start & PAGE_MASK; a < end; a += PAGE_SIZE) {
    uint32_t *pte = &pt_for(pd, a)[pt_index(a)];
    *pte = (*pte & ~clear) | set;
  }
}

void paging_enable(uint32_t *pd) {
  write_cr4(read_cr4() | CR4_PSE);
  write_cr3((uint32_t)pd);
  write_cr0(read_cr0() | CR0_PG);
}

uint32_t ram_end(const struct multiboot_info *info) {
  if (!(info->flags & MULTIBOOT_INFO_MEMORY)) return 64 * MIB;
  return MIB + info->mem_upper * 1024;
}
