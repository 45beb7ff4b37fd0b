// i440FX host bridge and PIIX3 ISA bridge (82441FX and 82371SB
// datasheets; the values are those of the parts QEMU's "pc" machine
// models, which is what kernels expect to find).
#include "devices/pci/bridges.h"

#include "devices/pc_platform.h"
#include "devices/pci/pci_bus.h"

namespace tv::dev {
namespace {

constexpr uint16_t kIntelVendor = 0x8086;

// 82441FX: PAM0-PAM6 (0x59-0x5F) pick RAM or ROM for the BIOS areas, two
// bits per 16 KiB half (PAM0 has only the high half, 0xF0000); the SMRAM
// control register (0x72) opens SMRAM. Stored only.
constexpr unsigned kPam0 = 0x59;
constexpr unsigned kPamCount = 7;
constexpr unsigned kSmram = 0x72;

// 82371SB PIIX3, PIRQRC[A:D].
constexpr unsigned kPirqRouteBase = 0x60;
// 82371SB PIIX3, TOM (top of memory, 0x69) and other ISA-side controls are
// not modelled: they read 0 and ignore writes.

PciIdentity host_bridge_identity() {
  PciIdentity id;
  id.vendor = kIntelVendor;
  id.device = 0x1237;
  id.revision = 0x02;
  id.class_code = 0x060000;  // bridge, host
  return id;
}

PciIdentity isa_bridge_identity() {
  PciIdentity id;
  id.vendor = kIntelVendor;
  id.device = 0x7000;
  id.class_code = 0x060100;  // bridge, ISA
  id.multi_function = true;  // IDE (function 1) and USB (2) sit behind it on a real PIIX3
  return id;
}

}  // namespace

HostBridge::HostBridge() : PciDevice(host_bridge_identity()) {
  // PCICMD: memory and bus master are always on in the 82441FX.
  set_config(pci::kCommand, 2, pci::kCommandMemory | pci::kCommandBusMaster);
  set_write_mask(kPam0, 1, 0x30);
  for (unsigned i = 1; i < kPamCount; ++i) set_write_mask(kPam0 + i, 1, 0x33);
  set_write_mask(kSmram, 1, 0x78);  // bits 2:0 are hard-wired to 010 (C_BASE_SEG)
  set_config(kSmram, 1, 0x02);
}

IsaBridge::IsaBridge() : PciDevice(isa_bridge_identity()) {
  // PCICMD: I/O, memory and bus master are always on in the PIIX3.
  set_config(pci::kCommand, 2, pci::kCommandIo | pci::kCommandMemory | pci::kCommandBusMaster);
  claim_config(kPirqRouteBase, pc::kPciLinks);
}

// Before it is on a bus, the route registers read their reset value.
uint32_t IsaBridge::config_read(unsigned offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    unsigned link = offset + i - kPirqRouteBase;
    uint8_t route = bus() ? bus()->route_register(link) : 0x80;
    value |= uint32_t(route) << (8 * i);
  }
  return value;
}

void IsaBridge::config_write(unsigned offset, unsigned size, uint32_t value) {
  if (!bus()) return;
  for (unsigned i = 0; i < size; ++i)
    bus()->set_route_register(offset + i - kPirqRouteBase, uint8_t(value >> (8 * i)));
}

}  // namespace tv::dev
