// Checks on a firmware description and the ISA interrupt routing that both
// the MADT and the MP table derive from it. A description the tables cannot
// express is a VMM bug, so it throws rather than writing tables a kernel
// would misread.
#include "firmware/description.h"

#include <fmt/format.h>

#include "base/error.h"

namespace tv::fw {
namespace {

constexpr uint64_t k4GiB = uint64_t(1) << 32;

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("firmware tables: " + what);
}

void validate_interrupts(const Description& d) {
  const uint64_t gsi_end = uint64_t(d.ioapic_gsi_base) + d.ioapic_pins;
  for (const IsaOverride& o : d.isa_overrides) {
    require(o.irq < pc::kIsaIrqs, fmt::format("ISA override for IRQ {}", o.irq));
  }
  for (unsigned irq = 0; irq < pc::kIsaIrqs; ++irq) {
    const uint32_t gsi = isa_route(d, irq).gsi;
    require(gsi >= d.ioapic_gsi_base && gsi < gsi_end,
            fmt::format("ISA IRQ {} is GSI {}, outside the I/O APIC", irq, gsi));
  }
  for (const PciInterrupt& p : d.pci_interrupts) {
    require(p.slot >= 1 && p.slot < 32 && p.pin < 4,
            fmt::format("PCI interrupt slot {} pin {}", p.slot, p.pin));
    const uint64_t gsi = pc::kPciLinkGsiBase + pc::pci_link(p.slot, p.pin);
    require(gsi >= d.ioapic_gsi_base && gsi < gsi_end,
            fmt::format("PCI link GSI {} outside the I/O APIC", gsi));
  }
}

// dsdt.asl hard-codes these (its _CRS objects and motherboard resources).
void validate_dsdt_agrees(const Description& d) {
  require(d.hpet_address == pc::kHpetBase, "the DSDT's HPET is at pc::kHpetBase");
  require(d.pm1a_evt == pc::kPm1aEvt && d.pm1a_cnt == pc::kPm1aCnt && d.pm_tmr == pc::kPmTmr,
          "the DSDT reserves the PM block at pc::kPmBase");
  require(d.gpe0 == pc::kGpe0Base && d.gpe0_length == pc::kGpe0Length,
          "the DSDT reserves GPE0 at pc::kGpe0Base");
}

}  // namespace

void validate(const Description& d) {
  require(d.cpus >= 1 && d.cpus <= 255, fmt::format("{} CPUs (1-255 can be described)", d.cpus));
  require(d.lapic_address < k4GiB && d.ioapic_address < k4GiB && d.hpet_address < k4GiB,
          "APIC and HPET addresses must be below 4 GiB");
  require(d.ioapic_pins >= pc::kIsaIrqs, "the I/O APIC needs a pin per ISA IRQ");
  require(d.sci_irq < pc::kIsaIrqs, fmt::format("SCI on IRQ {}", d.sci_irq));
  require(d.acpi_area.end <= d.mp_area.begin || d.mp_area.end <= d.acpi_area.begin,
          "the ACPI and MP table areas overlap");
  validate_interrupts(d);
  validate_dsdt_agrees(d);
}

IsaRoute isa_route(const Description& d, unsigned irq) {
  for (const IsaOverride& o : d.isa_overrides)
    if (o.irq == irq) return {o.gsi, inti_flags(o.polarity, o.trigger)};
  // ACPI 6.4 5.2.12.5: without an override, ISA IRQ n is GSI n.
  return {irq, inti_flags(Polarity::kConforming, Trigger::kConforming)};
}

}  // namespace tv::fw
