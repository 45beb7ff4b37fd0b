// The PIIX3 IDE function (82371SB function 1, 8086:7010, class 0x010180:
// IDE, bus-master capable, both channels in compatibility mode): two ATA
// channels at the fixed ISA ports and IRQs of the PC, and the bus-master
// IDE registers (SFF-8038i) behind BAR4.
//
// What the integrator wires:
// - PciBus::add the function (on a real PIIX3: slot 1, function 1, behind
//   the ISA bridge). It has no INTx pin: compatibility mode interrupts are
//   ISA IRQ 14 (primary) and 15 (secondary), driven as levels on
//   `isa_irqs` (the ISA router; the 8259A takes the edge). BAR4 is a
//   16-byte I/O BAR that the guest (or firmware) places.
// - legacy_ports(): four ranges for the port bus (0x1F0+8, 0x3F6+1,
//   0x170+8, 0x376+1). 0x3F7 and 0x377 (the floppy's DIR) are not ours.
// - `dma`: guest RAM for the bus masters; `disks`: positions primary
//   master, primary slave, secondary master, secondary slave (null = absent).
//
// The legacy ports, like BAR4, decode only while the PCI command
// register's I/O enable is set (set at power-on, as firmware leaves it, so
// guests that never touch PCI find their disk) and, per channel, while the
// IDE timing register's decode enable bit is set (also set at power-on;
// Linux's ata_piix skips a channel whose bit is clear). Timing values are
// stored and read back; they change nothing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "devices/block.h"
#include "devices/device.h"
#include "devices/dma.h"
#include "devices/ide/ata_channel.h"
#include "devices/pci/pci_device.h"

namespace tv::dev {

class PiixIde final : public PciDevice {
 public:
  static constexpr unsigned kChannels = 2;
  static constexpr unsigned kPositions = 4;
  static constexpr uint16_t kPrimaryCommandBase = 0x1F0, kPrimaryControlBase = 0x3F6;
  static constexpr uint16_t kSecondaryCommandBase = 0x170, kSecondaryControlBase = 0x376;
  static constexpr unsigned kPrimaryIrq = 14, kSecondaryIrq = 15;
  static constexpr unsigned kBusMasterBar = 4;
  static constexpr uint64_t kBusMasterLength = 16;

  using Disks = std::array<std::shared_ptr<BlockDevice>, kPositions>;

  // `isa_irqs` may be null (not wired). The port devices refer to this
  // function and must not outlive it.
  PiixIde(DmaSpace& dma, IrqSink* isa_irqs, Disks disks);

  struct PortRange {
    uint16_t base;
    uint16_t length;
    std::shared_ptr<IoDevice> device;
  };
  // Primary command block, primary control, secondary command block,
  // secondary control.
  const std::array<PortRange, 4>& legacy_ports() const { return ports_; }

  AtaChannel& channel(unsigned index) { return *channels_[index % kChannels]; }

 private:
  class CommandBlockPort;
  class ControlPort;
  class BusMasterPort;

  bool decodes(unsigned channel) const;
  bool bus_master_enabled() const;

  std::array<std::unique_ptr<AtaChannel>, kChannels> channels_;
  std::array<PortRange, 4> ports_;
};

}  // namespace tv::dev
