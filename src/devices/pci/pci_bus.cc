// PCI bus 0: configuration mechanism #1, BAR placement and INTx links.
//
// BAR placement: hardware decodes whatever the guest programs, so a BAR
// over RAM or over another device makes both answer (and the result is
// undefined). We cannot let two devices own one address, so such a BAR
// stays unmapped (its accesses go wherever they went before) and the
// guest error is logged, rate-limited; it is mapped once the guest moves
// it somewhere free. Memory BARs are checked against guest RAM through
// the RamCheck predicate, since RAM is not on the MMIO bus.
#include "devices/pci/pci_bus.h"

#include <fmt/format.h>

#include "base/error.h"
#include "base/log.h"
#include "devices/range_view.h"

namespace tv::dev {
namespace {

constexpr uint32_t kConfigEnable = 1u << 31;
// CONFIG_ADDRESS bits that hold state: enable, bus, device, function,
// dword register. Bits 30:24 and 1:0 are reserved and read 0.
constexpr uint32_t kConfigAddressMask = 0x80FFFFFC;
constexpr unsigned kMaxBarConflictLogs = 8;

uint32_t all_ones(unsigned size) { return size >= 4 ? ~0u : (1u << (8 * size)) - 1; }

// PIIX3 PIRQRC bits 3:0: 0-2, 8 and 13 are reserved (no such ISA input).
bool valid_route_irq(unsigned irq) { return irq >= 3 && irq != 8 && irq != 13; }

}  // namespace

PciBus::RamCheck PciBus::ram_below(uint64_t size) {
  return [size](uint64_t base, uint64_t) { return base < size; };
}

PciBus::PciBus(Bus& pio, Bus& mmio, RamCheck overlaps_ram, IrqSink* ioapic, IrqSink* pic)
    : pio_(pio),
      mmio_(mmio),
      overlaps_ram_(std::move(overlaps_ram)),
      ioapic_(ioapic),
      pic_(pic),
      address_port_(make_range_view(*this, "pci-config-address", &PciBus::read_address,
                                    &PciBus::write_address)),
      data_port_(
          make_range_view(*this, "pci-config-data", &PciBus::read_data, &PciBus::write_data)) {
  // The PIIX3 resets these to 0x80 (not routed) and the BIOS programs
  // them. There is no firmware here, so they start as SeaBIOS leaves them.
  for (unsigned link = 0; link < pc::kPciLinks; ++link)
    routes_[link] = pc::kPciLinkDefaultIrq[link];
}

void PciBus::add(unsigned slot, unsigned function, std::shared_ptr<PciDevice> device) {
  if (slot >= kSlots || function >= kFunctions || !device)
    throw Error(fmt::format("bad PCI position {:02x}.{}", slot, function));
  auto& cell = functions_[slot * kFunctions + function];
  if (cell) throw Error(fmt::format("PCI function {:02x}.{} is taken", slot, function));
  cell = std::move(device);
  cell->attach(*this, slot, function);
  if (cell->intx_pin() != IntxPin::kNone) {
    unsigned link = pc::pci_link(slot, unsigned(cell->intx_pin()) - 1);
    if (auto irq = link_irq(link)) cell->set_config(pci::kInterruptLine, 1, *irq);
    update_link(link);  // the device may have asserted INTx before it was attached
  }
}

PciDevice* PciBus::find(unsigned slot, unsigned function) const {
  if (slot >= kSlots || function >= kFunctions) return nullptr;
  const auto& first = functions_[slot * kFunctions];
  // Software probes functions 1-7 only if function 0 is multi-function
  // (6.2.1, header type bit 7); we make the others absent to match.
  if (function > 0 && (!first || !first->multi_function())) return nullptr;
  return functions_[slot * kFunctions + function].get();
}

std::vector<PciBus::Function> PciBus::functions() const {
  std::vector<Function> list;
  for (unsigned slot = 0; slot < kSlots; ++slot) {
    for (unsigned function = 0; function < kFunctions; ++function) {
      const PciDevice* device = find(slot, function);
      if (!device) continue;
      IntxPin pin = device->intx_pin();
      std::optional<unsigned> link;
      if (pin != IntxPin::kNone) link = pc::pci_link(slot, unsigned(pin) - 1);
      list.push_back({slot, function, pin, link, device});
    }
  }
  return list;
}

// --- Configuration mechanism #1 ---------------------------------------------

uint32_t PciBus::config_read(unsigned slot, unsigned function, unsigned offset, unsigned size) {
  PciDevice* device = find(slot, function);
  if (!device || offset + size > pci::kConfigSize) return all_ones(size);
  return device->read_config(offset, size);
}

void PciBus::config_write(unsigned slot, unsigned function, unsigned offset, unsigned size,
                          uint32_t value) {
  PciDevice* device = find(slot, function);
  if (device && offset + size <= pci::kConfigSize) device->write_config(offset, size, value);
}

// 0xCF8: only dword accesses reach CONFIG_ADDRESS (3.2.2.3.2); byte and
// word accesses belong to other PC registers, so they read all-ones and
// are dropped here.
uint64_t PciBus::read_address(uint64_t offset, unsigned size) {
  if (offset != 0 || size != 4) return all_ones(size);
  return config_address_;
}

void PciBus::write_address(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == 0 && size == 4) config_address_ = uint32_t(value) & kConfigAddressMask;
}

// CONFIG_DATA: byte n of the window is byte n of the dword that
// CONFIG_ADDRESS selects. Only bus 0 exists; with the enable bit clear
// the window is not decoded at all. Bytes of a wide access that fall past
// 0xCFF are not part of the window and read all-ones.
uint64_t PciBus::read_data(uint64_t offset, unsigned size) {
  uint32_t address = config_address_;
  if (!(address & kConfigEnable) || ((address >> 16) & 0xFF) != 0 || offset >= 4)
    return all_ones(size);
  unsigned inside = std::min(size, 4 - unsigned(offset));
  uint32_t value = config_read((address >> 11) & 0x1F, (address >> 8) & 0x7,
                               (address & 0xFC) + unsigned(offset), inside);
  return value | (all_ones(size) & ~all_ones(inside));
}

void PciBus::write_data(uint64_t offset, unsigned size, uint64_t value) {
  uint32_t address = config_address_;
  if (!(address & kConfigEnable) || ((address >> 16) & 0xFF) != 0 || offset >= 4) return;
  unsigned inside = std::min(size, 4 - unsigned(offset));
  config_write((address >> 11) & 0x1F, (address >> 8) & 0x7, (address & 0xFC) + unsigned(offset),
               inside, uint32_t(value) & all_ones(inside));
}

// --- BARs ----------------------------------------------------------------------

void PciBus::log_bar_conflict(const std::string& what) {
  if (bar_conflicts_logged_ > kMaxBarConflictLogs) return;
  auto logger = log::get("dev.pci");
  if (bar_conflicts_logged_++ == kMaxBarConflictLogs)
    logger->warn("further PCI BAR conflicts are not logged");
  else
    logger->warn("{}", what);
}

bool PciBus::map_bar(const PciDevice& device, unsigned index, const BarSpec& spec, uint64_t base) {
  bool io = spec.kind == BarKind::kIo;
  auto describe = [&] {
    return fmt::format("guest placed PCI {:02x}.{} BAR{} ({}, {:#x} bytes) at {} {:#x}",
                       device.slot_, device.function_, index, spec.device->name(), spec.size,
                       io ? "port" : "address", base);
  };
  if (!io && overlaps_ram_ && overlaps_ram_(base, spec.size)) {
    log_bar_conflict(describe() + ", over guest RAM: left unmapped");
    return false;
  }
  try {
    (io ? pio_ : mmio_).insert(base, spec.size, spec.device);
  } catch (const Error& e) {
    log_bar_conflict(describe() + ": " + e.what() + "; left unmapped");
    return false;
  }
  return true;
}

void PciBus::unmap_bar(const BarSpec& spec, uint64_t base) {
  (spec.kind == BarKind::kIo ? pio_ : mmio_).remove(base, *spec.device);
}

// --- INTx links ----------------------------------------------------------------

void PciBus::intx_changed(const PciDevice& device) {
  if (device.intx_pin() == IntxPin::kNone) return;
  update_link(pc::pci_link(device.slot_, unsigned(device.intx_pin()) - 1));
}

// A link is a wired-OR of the INTx# outputs on it (PCI Local Bus 3.0, 2.2.6).
void PciBus::update_link(unsigned link) {
  bool level = false;
  for (unsigned i = 0; i < functions_.size() && !level; ++i) {
    const PciDevice* device = functions_[i].get();
    if (!device || device->intx_pin() == IntxPin::kNone) continue;
    unsigned slot = i / kFunctions;
    if (pc::pci_link(slot, unsigned(device->intx_pin()) - 1) == link) level = device->intx_output();
  }
  if (level == link_levels_[link]) return;
  link_levels_[link] = level;
  if (ioapic_) ioapic_->set_irq(pc::kPciLinkGsiBase + link, level);
  update_pic();
}

std::optional<uint8_t> PciBus::link_irq(unsigned link) const {
  uint8_t route = routes_[link % pc::kPciLinks];
  if (route & 0x80 || !valid_route_irq(route & 0xF)) return std::nullopt;
  return uint8_t(route & 0xF);
}

void PciBus::set_route_register(unsigned link, uint8_t value) {
  value &= 0x8F;  // bits 6:4 are reserved and read 0
  if (!(value & 0x80) && !valid_route_irq(value & 0xF) && !logged_reserved_route_) {
    logged_reserved_route_ = true;
    log::get("dev.pci")->info(
        "guest routed PCI link {} to reserved IRQ {}; not routed (logged once)", link, value & 0xF);
  }
  routes_[link % pc::kPciLinks] = value;
  update_pic();
}

// An 8259 input is the OR of the links routed to it (links A and B share
// IRQ 10 by default). Only changes are driven, so a level moves with its
// link when the route changes.
void PciBus::update_pic() {
  std::array<bool, pc::kIsaIrqs> levels{};
  for (unsigned link = 0; link < pc::kPciLinks; ++link)
    if (auto irq = link_irq(link); irq && link_levels_[link]) levels[*irq] = true;
  for (unsigned irq = 0; irq < pc::kIsaIrqs; ++irq) {
    if (levels[irq] == pic_levels_[irq]) continue;
    pic_levels_[irq] = levels[irq];
    if (pic_) pic_->set_irq(irq, levels[irq]);
  }
}

}  // namespace tv::dev
