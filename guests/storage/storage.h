/* Shared pieces of the storage guest: the disks' known contents, PCI
 * lookup, sized MMIO accessors, and the two drivers (virtio.c, ide.c). */
#pragma once

#include "guest.h"
#include "hw.h"
#include "pci.h"

/* Byte `i` of sector `sector` of test disk `disk` as run_guest wrote it
 * (tests/guest/run_guest, "# disk:"). */
static inline uint8_t disk_pattern(unsigned disk, uint32_t sector, unsigned i) {
  return (uint8_t)(sector * 31 + i + disk * 0x55);
}

/* The first function with this vendor and one of two device IDs (QEMU's
 * transitional virtio IDs next to the modern ones); false if none. */
struct pci_fn {
  unsigned dev, fn;
};
bool pci_find(uint16_t vendor, uint16_t id_a, uint16_t id_b, struct pci_fn *out);

static inline volatile uint8_t *mmio_ptr8(uintptr_t addr) {
  volatile uint8_t *p;
  __asm__("" : "=r"(p) : "0"(addr));
  return p;
}
static inline volatile uint16_t *mmio_ptr16(uintptr_t addr) {
  volatile uint16_t *p;
  __asm__("" : "=r"(p) : "0"(addr));
  return p;
}

/* A TSC-bounded wait: true once `cond` holds. */
#define WAIT_UNTIL(cond)                                                            \
  ({                                                                                \
    uint64_t start_ = rdtsc();                                                      \
    while (!(cond) && rdtsc() - start_ < 20000000000ull) __asm__ volatile("pause"); \
    (cond);                                                                         \
  })

/* tv.hold: stop after the flushed write (storage.c). */
extern bool hold_after_flush;

void check_virtio_rng(void);
void check_virtio_blk(void);
void check_ide(void);
