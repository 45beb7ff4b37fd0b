// MP configuration table (MP 1.4 chapter 4), entries in ascending type order
// as 4.3 requires. Choices that shape it:
// - No default configuration and IMCR absent (feature bytes 1 and 2 zero):
//   the 8259 reaches the BSP through LINT0 in virtual wire mode (3.6.2.2).
// - ISA IRQs 0-15 without the cascade IRQ2, on the I/O APIC pins the ACPI
//   overrides give them (IRQ0 on pin 2), with the same polarity and trigger.
// - PCI interrupts only for the functions the machine lists; their pins
//   follow pc::pci_link like the DSDT's _PRT, level and active-low.
// - No extended table.
#include "firmware/mp_table.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "firmware/table_writer.h"

namespace tv::fw {
namespace {

constexpr uint64_t kMpScanBase = 0xF0000;  // Linux scans [0xF0000, 0x100000)
constexpr uint8_t kSpecRev = 4;            // MP 1.4
constexpr size_t kHeaderSize = 44;

enum EntryType : uint8_t {
  kProcessor = 0,
  kBus = 1,
  kIoApic = 2,
  kIoInterrupt = 3,
  kLocalInterrupt = 4
};
enum InterruptType : uint8_t { kInt = 0, kNmi = 1, kExtInt = 3 };

constexpr uint8_t kCpuEnabled = 1, kCpuBsp = 2;
constexpr uint8_t kIoApicEnabled = 1;
constexpr uint8_t kAllLapics = 0xFF;
constexpr unsigned kCascadeIrq = 2;

// The configuration table under construction, counting its entries.
class ConfigTable {
 public:
  explicit ConfigTable(const Description& d) : t_(kHeaderSize) {
    t_.put_text(0, "PCMP", 4);
    t_.put8(6, kSpecRev);
    t_.put_text(8, "TVISOR", 8);
    t_.put_text(16, "TRANSVISOR", 12);
    t_.put32(36, uint32_t(d.lapic_address));
    // OEM table pointer and size, extended table length and checksum: 0.
  }

  // Appends an entry of `size` bytes of `type`; returns its offset.
  size_t entry(EntryType type, size_t size) {
    ++count_;
    const size_t at = t_.grow(size);
    t_.put8(at, type);
    return at;
  }
  TableBytes& bytes() { return t_; }

  TableBytes& seal() {
    t_.put16(4, uint16_t(t_.size()));  // base table length
    t_.put16(34, count_);
    t_.set_checksum(7, 0, t_.size());
    return t_;
  }

 private:
  TableBytes t_;
  uint16_t count_ = 0;
};

// Processor entries (4.3.1): APIC ID = index, CPU 0 is the bootstrap processor.
void add_processors(ConfigTable& c, const Description& d) {
  for (unsigned cpu = 0; cpu < d.cpus; ++cpu) {
    const size_t e = c.entry(kProcessor, 20);
    c.bytes().put8(e + 1, uint8_t(cpu));
    c.bytes().put8(e + 2, d.lapic_version);
    c.bytes().put8(e + 3, uint8_t(kCpuEnabled | (cpu == 0 ? kCpuBsp : 0)));
    c.bytes().put32(e + 4, d.cpu_signature);
    c.bytes().put32(e + 8, d.cpu_features);
  }
}

// Bus entries (4.3.2, Table 4-8 type strings).
void add_buses(ConfigTable& c) {
  for (auto [id, name] : {std::pair{kMpPciBus, "PCI"}, std::pair{kMpIsaBus, "ISA"}}) {
    const size_t e = c.entry(kBus, 8);
    c.bytes().put8(e + 1, id);
    c.bytes().put_text(e + 2, name, 6);
  }
}

// I/O APIC entry (4.3.3).
void add_ioapic(ConfigTable& c, const Description& d) {
  const size_t e = c.entry(kIoApic, 8);
  c.bytes().put8(e + 1, d.ioapic_id);
  c.bytes().put8(e + 2, d.ioapic_version);
  c.bytes().put8(e + 3, kIoApicEnabled);
  c.bytes().put32(e + 4, uint32_t(d.ioapic_address));
}

// I/O interrupt assignment entry (4.3.4).
void add_io_interrupt(ConfigTable& c, const Description& d, uint16_t flags, uint8_t bus,
                      uint8_t bus_irq, uint32_t gsi) {
  const size_t e = c.entry(kIoInterrupt, 8);
  c.bytes().put8(e + 1, kInt);
  c.bytes().put16(e + 2, flags);
  c.bytes().put8(e + 4, bus);
  c.bytes().put8(e + 5, bus_irq);
  c.bytes().put8(e + 6, d.ioapic_id);
  c.bytes().put8(e + 7, uint8_t(gsi - d.ioapic_gsi_base));
}

void add_io_interrupts(ConfigTable& c, const Description& d) {
  for (unsigned irq = 0; irq < pc::kIsaIrqs; ++irq) {
    if (irq == kCascadeIrq) continue;
    const IsaRoute r = isa_route(d, irq);
    add_io_interrupt(c, d, r.flags, kMpIsaBus, uint8_t(irq), r.gsi);
  }
  // PCI source bus IRQ (D.3): bits 6:2 the device, bits 1:0 the pin.
  std::vector<PciInterrupt> pci = d.pci_interrupts;
  auto key = [](const PciInterrupt& p) { return std::tuple(p.slot, p.pin); };
  std::sort(pci.begin(), pci.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  pci.erase(std::unique(pci.begin(), pci.end(), [&](auto& a, auto& b) { return key(a) == key(b); }),
            pci.end());
  for (const PciInterrupt& p : pci) {
    const uint16_t flags = inti_flags(Polarity::kActiveLow, Trigger::kLevel);
    add_io_interrupt(c, d, flags, kMpPciBus, uint8_t(p.slot << 2 | p.pin),
                     pc::kPciLinkGsiBase + pc::pci_link(p.slot, p.pin));
  }
}

// Local interrupt assignment entries (4.3.5): virtual wire on LINT0, NMI on
// LINT1 of every local APIC.
void add_local_interrupts(ConfigTable& c) {
  for (auto [type, lint] : {std::pair{kExtInt, 0}, std::pair{kNmi, 1}}) {
    const size_t e = c.entry(kLocalInterrupt, 8);
    c.bytes().put8(e + 1, type);
    c.bytes().put16(e + 2, inti_flags(Polarity::kConforming, Trigger::kConforming));
    c.bytes().put8(e + 4, kMpIsaBus);
    c.bytes().put8(e + 5, 0);
    c.bytes().put8(e + 6, kAllLapics);
    c.bytes().put8(e + 7, uint8_t(lint));
  }
}

// Floating pointer structure (4.1).
TableBytes build_floating_pointer(GuestPhys config) {
  TableBytes t(16);
  t.put_text(0, "_MP_", 4);
  t.put32(4, uint32_t(config.value));
  t.put8(8, 1);  // length in 16-byte paragraphs
  t.put8(9, kSpecRev);
  // Feature byte 1 = 0: a configuration table exists. Feature byte 2 bit 7
  // (IMCRP) = 0: no IMCR, virtual wire mode.
  t.set_checksum(10, 0, 16);
  return t;
}

}  // namespace

GuestPhys write_mp_table(GuestMemory& memory, const Description& d) {
  validate(d);
  if (d.mp_area.begin < kMpScanBase)
    throw Error("firmware tables: the MP floating pointer must lie in [0xF0000, 0x100000)");
  AreaWriter area(memory, d.mp_area, "MP");
  ConfigTable config(d);
  add_processors(config, d);
  add_buses(config);
  add_ioapic(config, d);
  add_io_interrupts(config, d);
  add_local_interrupts(config);
  const GuestPhys table = area.place(config.seal(), 16);
  const GuestPhys pointer = area.place(build_floating_pointer(table), 16);
  tv::log::get("fw.mp")->debug("MP table for {} CPUs, floating pointer at {:#x}", d.cpus,
                               pointer.value);
  return pointer;
}

}  // namespace tv::fw
