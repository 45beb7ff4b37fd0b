// What a PC BIOS does to PCI bus 0 before the kernel runs (SeaBIOS's
// pci_setup, PCI Firmware 3.0 "resource allocation"): every BAR of every
// function is sized with the all-ones protocol through configuration
// space and placed in the host bridge's windows (pc_platform.h, the same
// the DSDT's _CRS describes), largest first so each is naturally aligned;
// then I/O and memory decode and bus mastering are enabled. Kernels that
// take the BIOS's assignment (Linux does, and teaching kernels have no
// allocator) find the devices working.
#pragma once

namespace tv {

namespace dev {
class PciBus;
}

// Throws tv::Error if the BARs do not fit the windows (too many devices).
void assign_pci_resources(dev::PciBus& bus);

}  // namespace tv
