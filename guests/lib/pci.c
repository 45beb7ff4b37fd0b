/* PCI configuration mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2). */
#include "pci.h"

#include "io.h"

uint32_t pci_config_address(unsigned bus, unsigned dev, unsigned fn, unsigned offset) {
  return 0x80000000u | (bus & 0xff) << 16 | (dev & 0x1f) << 11 | (fn & 7) << 8 | (offset & 0xfc);
}

uint8_t pci_read8(unsigned bus, unsigned dev, unsigned fn, unsigned offset) {
  outl(PCI_CONFIG_ADDRESS, pci_config_address(bus, dev, fn, offset));
  return inb(PCI_CONFIG_DATA + (offset & 3));
}

uint16_t pci_read16(unsigned bus, unsigned dev, unsigned fn, unsigned offset) {
  outl(PCI_CONFIG_ADDRESS, pci_config_address(bus, dev, fn, offset));
  return inw(PCI_CONFIG_DATA + (offset & 2));
}

uint32_t pci_read32(unsigned bus, unsigned dev, unsigned fn, unsigned offset) {
  outl(PCI_CONFIG_ADDRESS, pci_config_address(bus, dev, fn, offset));
  return inl(PCI_CONFIG_DATA);
}

void pci_write32(unsigned bus, unsigned dev, unsigned fn, unsigned offset, uint32_t value) {
  outl(PCI_CONFIG_ADDRESS, pci_config_address(bus, dev, fn, offset));
  outl(PCI_CONFIG_DATA, value);
}
