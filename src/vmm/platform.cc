#include "vmm/platform.h"

#include <x86intrin.h>

#include "arch/x86.h"
#include "devices/acpi_pm.h"
#include "devices/apic_cluster.h"
#include "devices/hpet.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pc_platform.h"
#include "devices/pci/bridges.h"
#include "devices/pci/pci_bus.h"
#include "devices/pic8259.h"
#include "vmm/cpuid.h"

namespace tv {

// ISA IRQ n drives 8259 input n and I/O APIC pin isa_irq_to_gsi(n), as on
// a PC whose IRQ lines reach both. While the HPET is in legacy replacement
// mode, the PIT's IRQ0 and the RTC's IRQ8 are cut off (the HPET drives
// those lines itself, IA-PC HPET spec 2.4).
class Platform::IsaRouter final : public dev::IrqSink {
 public:
  IsaRouter(dev::PicPair& pic, dev::IoApic& ioapic) : pic_(pic), ioapic_(ioapic) {}
  void set_irq(unsigned irq, bool level) override {
    if (irq >= dev::pc::kIsaIrqs) return;
    levels_[irq] = level;
    if (hpet_legacy_ && (irq == 0 || irq == 8)) return;
    pic_.set_irq(irq, level);
    ioapic_.set_irq(dev::pc::isa_irq_to_gsi(irq), level);
  }
  void set_hpet_legacy(bool on) {
    hpet_legacy_ = on;
    if (!on)  // give the PIT and RTC their lines back at their current level
      for (unsigned irq : {0u, 8u}) set_irq(irq, levels_[irq]);
  }

 private:
  dev::PicPair& pic_;
  dev::IoApic& ioapic_;
  bool levels_[dev::pc::kIsaIrqs] = {};
  bool hpet_legacy_ = false;
};

// GSIs driven directly (HPET routes, PCI links): I/O APIC pins only.
class Platform::GsiRouter final : public dev::IrqSink {
 public:
  explicit GsiRouter(dev::IoApic& ioapic) : ioapic_(ioapic) {}
  void set_irq(unsigned gsi, bool level) override { ioapic_.set_irq(gsi, level); }

 private:
  dev::IoApic& ioapic_;
};

Platform::Platform(dev::Bus& pio, dev::Bus& mmio, const dev::Clock& clock,
                   dev::MachineControl& machine, uint64_t ram_bytes)
    : pio_(pio), mmio_(mmio) {
  namespace pc = dev::pc;
  pic_ = std::make_shared<dev::PicPair>();
  pio.insert(0x20, 2, pic_->master_ports());
  pio.insert(0xA0, 2, pic_->slave_ports());
  pio.insert(0x4D0, 2, pic_->elcr_ports());
  // SeaBIOS marks the SCI and the PCI link IRQs (9, 10, 11) level-triggered.
  pio.write(0x4D1, 1, 0x0E);

  ioapic_ = std::make_shared<dev::IoApic>();
  mmio.insert(pc::kIoapicBase, dev::IoApic::kMmioLength, ioapic_);
  cluster_ = std::make_unique<dev::ApicCluster>();
  dev::TscRate tsc{uint64_t(tsc_mhz()) * 1'000'000, __rdtsc(), clock.now_ns()};
  lapic_ = std::make_shared<dev::LocalApic>(0, clock, *cluster_, *cluster_, pic_.get(), tsc);
  cluster_->add_apic(lapic_.get());
  cluster_->set_eoi_sink(ioapic_.get());
  ioapic_->set_bus(cluster_.get());
  map_lapic();

  isa_ = std::make_unique<IsaRouter>(*pic_, *ioapic_);
  gsi_ = std::make_unique<GsiRouter>(*ioapic_);

  hpet_ = std::make_shared<dev::Hpet>(clock, gsi_.get(), pic_.get());
  hpet_->set_legacy_listener([this](bool on) { isa_->set_hpet_legacy(on); });
  mmio.insert(pc::kHpetBase, dev::Hpet::kMmioLength, hpet_);

  pm_ = std::make_shared<dev::AcpiPm>(clock, machine, isa_.get());
  pio.insert(pc::kPmBase, pc::kPmLength, pm_);
  pio.insert(pc::kGpe0Base, pc::kGpe0Length, pm_->gpe0());

  pci_ = std::make_unique<dev::PciBus>(pio, mmio, dev::PciBus::ram_below(ram_bytes), gsi_.get(),
                                       pic_.get());
  pio.insert(pc::kPciConfigAddress, 1, pci_->address_port());
  pio.insert(pc::kResetPort, 1, std::make_shared<dev::ResetControl>(machine));
  pio.insert(pc::kPciConfigData, 4, pci_->data_port());
  pci_->add(pc::kHostBridgeSlot, 0, std::make_shared<dev::HostBridge>());
  pci_->add(pc::kIsaBridgeSlot, 0, std::make_shared<dev::IsaBridge>());
}

Platform::~Platform() = default;

dev::InterruptSource& Platform::interrupt_source() { return *lapic_; }

dev::IrqSink& Platform::isa_irq() { return *isa_; }

bool Platform::nmi_pending() const { return lapic_->nmi_pending(); }

bool Platform::take_nmi() { return lapic_->take_nmi(); }

std::vector<std::pair<const dev::IoDevice*, dev::TimedDevice*>> Platform::timed_devices() const {
  return {{lapic_.get(), lapic_.get()}, {hpet_.get(), hpet_.get()}, {pm_.get(), pm_.get()}};
}

// The APIC page follows IA32_APIC_BASE: moved with it, and gone while the
// APIC is globally disabled (SDM Vol. 3A 11.4.4).
void Platform::map_lapic() {
  std::optional<uint64_t> want;
  if (lapic_->hardware_enabled()) want = lapic_->mmio_base();
  if (want == lapic_mapped_at_) return;
  if (lapic_mapped_at_) mmio_.remove(*lapic_mapped_at_, *lapic_);
  lapic_mapped_at_.reset();
  if (want && !mmio_.claimed(*want) && !mmio_.claimed(*want + dev::LocalApic::kPageSize - 1)) {
    mmio_.insert(*want, dev::LocalApic::kPageSize, lapic_);
    lapic_mapped_at_ = want;
  }
}

dev::ApicBus& Platform::apic_bus() { return *cluster_; }

std::optional<uint64_t> Platform::read_msr(uint32_t msr) const {
  switch (msr) {
    case x86::kMsrApicBase: return lapic_->apic_base();
    case x86::kMsrTscDeadline: return lapic_->tsc_deadline();
    default: return std::nullopt;
  }
}

bool Platform::write_msr(uint32_t msr, uint64_t value) {
  switch (msr) {
    case x86::kMsrApicBase:
      if (!lapic_->set_apic_base(value)) return false;
      map_lapic();
      return true;
    case x86::kMsrTscDeadline: lapic_->set_tsc_deadline(value); return true;
    default: return false;
  }
}

fw::Description Platform::description() const {
  fw::Description d;
  CpuidRegs leaf1 = guest_cpuid(1, 0);
  d.cpu_signature = leaf1.eax;
  d.cpu_features = leaf1.edx;
  for (const auto& f : pci_->functions())
    if (f.pin != dev::IntxPin::kNone)
      d.pci_interrupts.push_back({uint8_t(f.slot), uint8_t(unsigned(f.pin) - 1)});
  return d;
}

}  // namespace tv
