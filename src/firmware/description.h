// What the firmware tables (ACPI, MP) tell the guest about the machine: its
// CPUs, interrupt controllers, ISA interrupt wiring, HPET, ACPI fixed
// hardware and the PCI functions that raise INTx. There is no BIOS, so these
// tables are the only description the kernel gets. The defaults are the PC of
// devices/pc_platform.h; the machine sets the CPU count (and CPU identity)
// and lists the PCI interrupts of the devices it plugs in.
//
// The DSDT is compiled from dsdt.asl at build time and cannot follow this
// struct: the HPET address, the PM and GPE0 ports and the PCI routing it
// describes are pc_platform.h's, and validate() rejects a description that
// moves them.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/pc_platform.h"

namespace tv::fw {

namespace pc = tv::dev::pc;

// Polarity and trigger of an interrupt input, in the encoding that the
// ACPI MADT ("MPS INTI flags", ACPI 6.4 Table 5.27) and the MP spec's
// interrupt entries (MP 1.4 Table 4-10) share: bits 1:0 and 3:2.
enum class Polarity : uint8_t { kConforming = 0, kActiveHigh = 1, kActiveLow = 3 };
enum class Trigger : uint8_t { kConforming = 0, kEdge = 1, kLevel = 3 };

constexpr uint16_t inti_flags(Polarity p, Trigger t) {
  return uint16_t(uint16_t(p) | uint16_t(t) << 2);
}

// An ISA IRQ that reaches the I/O APIC on a pin other than its own number,
// or with other than ISA (edge, active-high) signalling.
struct IsaOverride {
  uint8_t irq = 0;
  uint32_t gsi = 0;
  Polarity polarity = Polarity::kConforming;
  Trigger trigger = Trigger::kConforming;
};

// One INTx pin of a PCI function on bus 0 (pin 0 = INTA#). Its GSI follows
// pc::pci_link, as the DSDT's _PRT does.
struct PciInterrupt {
  uint8_t slot = 0;
  uint8_t pin = 0;
};

// A half-open range of guest-physical addresses the tables may use.
struct Area {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// IA-PC HPET 1.0a 2.3.4: the low half of the capabilities register, which the
// ACPI HPET table repeats: vendor 8086, LEG_RT_CAP, 64-bit counter, three
// comparators (NUM_TIM_CAP = 2), revision 1.
constexpr uint32_t kHpetBlockId = 0x8086A201;

struct Description {
  // Processors: APIC ID = ACPI processor UID = index, CPU 0 is the BSP.
  unsigned cpus = 1;
  uint64_t lapic_address = pc::kLapicBase;
  uint8_t lapic_version = 0x14;  // integrated APIC; the LAPIC model should report the same
  // CPUID.1 EAX and EDX, repeated in the MP processor entries. The defaults
  // are vmm/cpuid.cc's family 6 model 15 stepping 11 with FPU and APIC;
  // the machine should pass the profile's real leaf 1.
  uint32_t cpu_signature = 0x000006FB;
  uint32_t cpu_features = 0x00000201;

  uint8_t ioapic_id = pc::kIoapicId;
  uint8_t ioapic_version = 0x11;  // 82093AA
  uint64_t ioapic_address = pc::kIoapicBase;
  uint32_t ioapic_gsi_base = 0;
  unsigned ioapic_pins = pc::kIoapicPins;

  // Every PC has the PIT on pin 2. Without an override OSPM takes the SCI
  // as level, active-low (ACPI 6.4 5.2.9, SCI_INT); PIIX4's is active-high.
  std::vector<IsaOverride> isa_overrides = {
      {0, pc::isa_irq_to_gsi(0), Polarity::kActiveHigh, Trigger::kEdge},
      {pc::kSciIrq, pc::isa_irq_to_gsi(pc::kSciIrq), Polarity::kActiveHigh, Trigger::kLevel},
  };

  uint64_t hpet_address = pc::kHpetBase;
  uint32_t hpet_block_id = kHpetBlockId;
  uint16_t hpet_min_tick = 128;  // main-counter ticks; Linux does not read it

  // ACPI fixed hardware (fixed by the DSDT, see above) and the reset register.
  uint16_t pm1a_evt = pc::kPm1aEvt;
  uint16_t pm1a_cnt = pc::kPm1aCnt;
  uint16_t pm_tmr = pc::kPmTmr;
  uint16_t gpe0 = pc::kGpe0Base;
  uint8_t gpe0_length = pc::kGpe0Length;
  uint8_t sci_irq = pc::kSciIrq;
  uint16_t reset_port = pc::kResetPort;
  uint8_t reset_value = pc::kResetValue;

  // INTx pins in use, for the MP table (the DSDT's _PRT covers slots 1-31).
  std::vector<PciInterrupt> pci_interrupts;

  // Where each set of tables goes. Linux looks for the MP floating pointer
  // only in [0xF0000, 0x100000) (and in the EBDA or the last KiB of base
  // memory, which this machine does not have), for the RSDP anywhere in
  // [0xE0000, 0x100000). The two must not overlap: each write zeroes its own.
  Area acpi_area{pc::kFirmwareBase, 0xF0000};
  Area mp_area{0xF0000, pc::kFirmwareEnd};
};

// Throws tv::Error if `d` cannot be described (a VMM bug, not guest input):
// no CPUs or more than 255 (ID 0xFF means "all"), an address above 4 GiB, an
// override or PCI pin outside the I/O APIC, overlapping table areas, or a
// value the DSDT disagrees with.
void validate(const Description& d);

// The I/O APIC input of ISA IRQ `irq` and its flags, after the overrides.
struct IsaRoute {
  uint32_t gsi;
  uint16_t flags;  // inti_flags()
};
IsaRoute isa_route(const Description& d, unsigned irq);

}  // namespace tv::fw
