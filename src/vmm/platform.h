// The PC's interrupt and timer platform around the CPU: the 8259A pair,
// the I/O APIC, the local APIC(s) on an APIC bus, the HPET, the ACPI PM
// block with its reset register, and PCI bus 0 with its two bridges. It
// wires ISA interrupts to both the 8259A and the I/O APIC (IRQ0 -> GSI 2),
// PCI INTx links to GSIs 16-19 and the PIIX3 routes, and tells the CPU
// backends where to take interrupts from (the local APIC, which passes the
// 8259A through as virtual wire until the guest enables it) and how to
// reach the APIC MSRs. The addresses are devices/pc_platform.h's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "devices/bus.h"
#include "devices/device.h"
#include "firmware/description.h"

namespace tv {

namespace dev {
class PicPair;
class IoApic;
class LocalApic;
class ApicCluster;
class Hpet;
class AcpiPm;
class PciBus;
class ApicBus;
}  // namespace dev

class Platform {
 public:
  // Inserts every platform device into `pio` and `mmio`.
  Platform(dev::Bus& pio, dev::Bus& mmio, const dev::Clock& clock, dev::MachineControl& machine,
           uint64_t ram_bytes);
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  // Where ISA devices (PIT, RTC, UART, i8042, the SCI) drive IRQ 0-15.
  dev::IrqSink& isa_irq();
  // What the vCPU takes interrupts from.
  dev::InterruptSource& interrupt_source();
  // A pending NMI (LINT1, an NMI IPI or message): consumed by take_nmi().
  bool nmi_pending() const;
  bool take_nmi();
  dev::PicPair& pic() { return *pic_; }
  dev::LocalApic& lapic() { return *lapic_; }
  dev::PciBus& pci() { return *pci_; }
  // Where MSI and MSI-X messages go.
  dev::ApicBus& apic_bus();
  // The timed devices for the run loop, with the bus device that programs each.
  std::vector<std::pair<const dev::IoDevice*, dev::TimedDevice*>> timed_devices() const;

  // The platform's MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE); nullopt / false
  // for an MSR the platform does not have or a value it refuses (#GP).
  std::optional<uint64_t> read_msr(uint32_t msr) const;
  bool write_msr(uint32_t msr, uint64_t value);

  // What the firmware tables describe.
  fw::Description description() const;

 private:
  class IsaRouter;
  class GsiRouter;
  void map_lapic();

  dev::Bus& pio_;
  dev::Bus& mmio_;
  std::shared_ptr<dev::PicPair> pic_;
  std::shared_ptr<dev::IoApic> ioapic_;
  std::unique_ptr<dev::ApicCluster> cluster_;
  std::shared_ptr<dev::LocalApic> lapic_;
  std::unique_ptr<IsaRouter> isa_;
  std::unique_ptr<GsiRouter> gsi_;
  std::shared_ptr<dev::Hpet> hpet_;
  std::shared_ptr<dev::AcpiPm> pm_;
  std::unique_ptr<dev::PciBus> pci_;
  std::optional<uint64_t> lapic_mapped_at_;
};

}  // namespace tv
