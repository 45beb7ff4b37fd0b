// PCI bus 0 of the PC: configuration mechanism #1 (PCI Local Bus 3.0,
// 3.2.2.3.2: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC), the functions
// in its 32 slots, the placement of their BARs on the port and MMIO buses,
// and the INTx wiring of pc_platform.h: slot S pin P drives link
// pc::pci_link(S, P), each link drives I/O APIC pin 16 + link and, through
// the PIIX3 PIRQ route registers, an 8259 input. Links are shared,
// level-triggered lines: a link is asserted while any function on it is.
//
// The route registers' values live here, where they take effect; the PIIX3
// function (bridges.h) is their face in config space.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "devices/device.h"
#include "devices/pc_platform.h"
#include "devices/pci/pci_device.h"

namespace tv::dev {

class PciBus {
 public:
  static constexpr unsigned kSlots = 32;
  static constexpr unsigned kFunctions = 8;

  // True if [base, base+length) overlaps guest RAM.
  using RamCheck = std::function<bool(uint64_t base, uint64_t length)>;
  // RAM as one block at [0, size), which is how GuestMemory lays it out.
  static RamCheck ram_below(uint64_t size);

  // `ioapic` receives the links as GSIs 16-19 and `pic` the routed 8259
  // IRQs; either may be null (not wired). Levels are logical (asserted =
  // true): PCI's active-low polarity is the I/O APIC entry's business.
  PciBus(Bus& pio, Bus& mmio, RamCheck overlaps_ram, IrqSink* ioapic, IrqSink* pic);
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  // Places `device` at slot 0-31, function 0-7. Throws tv::Error for a bad
  // or taken position. A function > 0 is visible only while function 0 of
  // its slot is present and multi-function. As firmware would, a function
  // with an interrupt pin gets its link's 8259 IRQ in its interrupt line.
  void add(unsigned slot, unsigned function, std::shared_ptr<PciDevice> device);

  // The port facades: CONFIG_ADDRESS goes at pc::kPciConfigAddress with
  // length 1 (0xCF9 is the reset control register; dword accesses to
  // 0xCF8 still arrive at offset 0), CONFIG_DATA at pc::kPciConfigData
  // with length 4. They refer to this bus and must not outlive it.
  std::shared_ptr<IoDevice> address_port() { return address_port_; }
  std::shared_ptr<IoDevice> data_port() { return data_port_; }

  // Configuration access to bus 0 as mechanism #1 performs it (absent
  // functions read all-ones and ignore writes).
  uint32_t config_read(unsigned slot, unsigned function, unsigned offset, unsigned size);
  void config_write(unsigned slot, unsigned function, unsigned offset, unsigned size,
                    uint32_t value);

  // The visible functions in slot/function order, for firmware tables.
  struct Function {
    unsigned slot;
    unsigned function;
    IntxPin pin;
    std::optional<unsigned> link;  // nullopt: no interrupt pin
    const PciDevice* device;
  };
  std::vector<Function> functions() const;

  // PIIX3 PIRQ route control (PIIX3 datasheet, PIRQRC[A:D], 0x60-0x63):
  // bit 7 set = not routed to the 8259, bits 3:0 = IRQ. Writes keep the
  // defined bits; a route to a reserved IRQ (0-2, 8, 13) is taken as "not
  // routed". An asserted link moves to its new IRQ.
  uint8_t route_register(unsigned link) const { return routes_[link % pc::kPciLinks]; }
  void set_route_register(unsigned link, uint8_t value);
  std::optional<uint8_t> link_irq(unsigned link) const;
  bool link_level(unsigned link) const { return link_levels_[link % pc::kPciLinks]; }

  // Called by PciDevice.
  void intx_changed(const PciDevice& device);
  bool map_bar(const PciDevice& device, unsigned index, const BarSpec& spec, uint64_t base);
  void unmap_bar(const BarSpec& spec, uint64_t base);

 private:
  PciDevice* find(unsigned slot, unsigned function) const;
  uint64_t read_address(uint64_t offset, unsigned size);
  void write_address(uint64_t offset, unsigned size, uint64_t value);
  uint64_t read_data(uint64_t offset, unsigned size);
  void write_data(uint64_t offset, unsigned size, uint64_t value);
  void update_link(unsigned link);
  void update_pic();
  void log_bar_conflict(const std::string& what);

  Bus& pio_;
  Bus& mmio_;
  RamCheck overlaps_ram_;
  IrqSink* ioapic_;
  IrqSink* pic_;
  std::array<std::shared_ptr<PciDevice>, kSlots * kFunctions> functions_{};
  uint32_t config_address_ = 0;
  std::array<uint8_t, pc::kPciLinks> routes_{};
  std::array<bool, pc::kPciLinks> link_levels_{};
  std::array<bool, pc::kIsaIrqs> pic_levels_{};
  std::shared_ptr<IoDevice> address_port_;
  std::shared_ptr<IoDevice> data_port_;
  unsigned bar_conflicts_logged_ = 0;
  bool logged_reserved_route_ = false;
};

}  // namespace tv::dev
