/*
 * storage: the PCI storage devices a kernel finds on transvisor and on
 * QEMU's i440FX machine with the same options: a virtio-rng function and a
 * virtio-blk disk driven through the modern virtio-pci capabilities (one
 * polled split virtqueue each), and a disk on the PIIX3 IDE controller's
 * primary channel (IDENTIFY, PIO read and write, bus-master DMA read).
 * The disks hold a known pattern (storage.h), written by run_guest.
 *
 * With `tv.hold` on the command line it stops after the virtio-blk
 * write and flush, prints "storage: flushed" and waits forever: the host
 * test kills transvisor with SIGKILL there and reads the image
 * (tests/storage/check_sigkill).
 */
#include "storage.h"

#include "kstring.h"

bool pci_find(uint16_t vendor, uint16_t id_a, uint16_t id_b, struct pci_fn *out) {
  for (unsigned dev = 0; dev < 32; dev++)
    for (unsigned fn = 0; fn < 8; fn++) {
      uint32_t id = pci_read32(0, dev, fn, 0);
      if ((id & 0xFFFF) != vendor) continue;
      uint16_t device = (uint16_t)(id >> 16);
      if (device != id_a && device != id_b) continue;
      out->dev = dev;
      out->fn = fn;
      return true;
    }
  return false;
}

bool hold_after_flush;

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  hold_after_flush =
      (info->flags & MULTIBOOT_INFO_CMDLINE) && strstr((const char *)info->cmdline, "tv.hold");
  run_group("virtio-rng", check_virtio_rng);
  run_group("virtio-blk", check_virtio_blk);
  run_group("ide", check_ide);
}
