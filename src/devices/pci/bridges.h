// The two bus-0 functions every PC of the i440FX generation has: the host
// bridge (82441FX PMC, 8086:1237, slot 0) and the PCI-to-ISA bridge
// (82371SB PIIX3 function 0, 8086:7000, slot 1), whose PIRQ route control
// registers steer the PCI links to 8259 inputs. Neither has BARs.
//
// Only what software reads or what changes routing is modelled: the
// i440FX's PAM and SMRAM registers hold what the guest writes but remap
// nothing (RAM is RAM everywhere below its top, BIOS area included); the
// other i440FX and PIIX3 registers read 0 and ignore writes, except
// PIRQRC[A:D], which route the PCI links.
#pragma once

#include "devices/pci/pci_device.h"

namespace tv::dev {

class HostBridge final : public PciDevice {
 public:
  HostBridge();
};

class IsaBridge final : public PciDevice {
 public:
  IsaBridge();

 protected:
  uint32_t config_read(unsigned offset, unsigned size) override;
  void config_write(unsigned offset, unsigned size, uint32_t value) override;
};

}  // namespace tv::dev
