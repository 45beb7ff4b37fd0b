/* PCI configuration space through configuration mechanism #1 (PCI Local
 * Bus Specification 3.0, 3.2.2.3.2): a dword address written to 0xCF8
 * (enable bit 31, bus, device, function, register), data through the four
 * ports 0xCFC-0xCFF. Not included by guest.h. */
#pragma once

#include <stdint.h>

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

/* The CONFIG_ADDRESS value selecting the dword holding `offset`. */
uint32_t pci_config_address(unsigned bus, unsigned dev, unsigned fn, unsigned offset);

/* Reads of 1, 2 or 4 bytes at `offset`; a 2-byte read wants offset & 1 == 0,
 * a 4-byte read offset & 3 == 0. An absent function reads all ones. */
uint8_t pci_read8(unsigned bus, unsigned dev, unsigned fn, unsigned offset);
uint16_t pci_read16(unsigned bus, unsigned dev, unsigned fn, unsigned offset);
uint32_t pci_read32(unsigned bus, unsigned dev, unsigned fn, unsigned offset);
void pci_write32(unsigned bus, unsigned dev, unsigned fn, unsigned offset, uint32_t value);
