// The PC platform's fixed places: addresses, ports, interrupt lines and the
// PCI interrupt routing that the device models, the firmware tables (ACPI,
// MP) and the machine must agree on. The values follow QEMU's i440FX/PIIX
// machine where a choice exists, since that is what kernels are tested on.
#pragma once

#include <cstdint>

namespace tv::dev::pc {

// Memory-mapped devices (SDM Vol. 3A 11.4.1; 82093AA I/O APIC datasheet;
// IA-PC HPET specification 1.0a).
constexpr uint64_t kLapicBase = 0xFEE00000;
constexpr uint64_t kIoapicBase = 0xFEC00000;
constexpr uint64_t kHpetBase = 0xFED00000;
constexpr uint8_t kIoapicId =
    0;  // the BSP's local APIC has ID 0 too; the IDs live in different spaces
constexpr unsigned kIoapicPins = 24;

// Firmware tables (ACPI RSDP, its tables, the MP floating pointer and
// configuration table) live in the BIOS area, which the memory maps mark
// reserved; the ACPI spec's RSDP scan covers [0xE0000, 0x100000).
constexpr uint64_t kFirmwareBase = 0xE0000;
constexpr uint64_t kFirmwareEnd = 0x100000;

// ACPI fixed hardware (PIIX4-style PM I/O block at 0x600, as QEMU).
constexpr uint16_t kPmBase = 0x600;
constexpr uint16_t kPm1aEvt = kPmBase + 0x00;  // PM1 status (2) + enable (2)
constexpr uint16_t kPm1aCnt = kPmBase + 0x04;  // PM1 control (2)
constexpr uint16_t kPmTmr = kPmBase + 0x08;    // PM timer (4), 3.579545 MHz
constexpr uint16_t kPmLength = 0x10;
constexpr uint16_t kGpe0Base = 0x620;  // GPE0 status (2) + enable (2)
constexpr uint16_t kGpe0Length = 4;
constexpr uint8_t kSciIrq = 9;
constexpr uint8_t kSleepTypeS5 = 0;  // SLP_TYP of \_S5 in the DSDT: power off
// The FADT reset register: port 0xCF9 (PIIX reset control), value 0x06.
constexpr uint16_t kResetPort = 0xCF9;
constexpr uint8_t kResetValue = 0x06;

// ISA interrupts: IRQ n is I/O APIC pin n, except the PIT's IRQ0, which
// is wired to pin 2 (the ACPI interrupt source override every PC has).
constexpr unsigned kIsaIrqs = 16;
constexpr unsigned isa_irq_to_gsi(unsigned irq) { return irq == 0 ? 2 : irq; }

// PCI INTx routing (bus 0): pin P (0 = INTA#) of slot S drives link
// (S + P - 1) mod 4 (PIRQA..PIRQD, the PIIX rule). Each link is wired to
// I/O APIC pin 16 + link (level, active low) and, through the PIIX3 PIRQ
// route registers (config 0x60-0x63 of the ISA bridge), to an 8259 input;
// firmware leaves those at 10, 10, 11, 11 as SeaBIOS does.
constexpr unsigned kPciLinks = 4;
constexpr unsigned kPciLinkGsiBase = 16;
constexpr uint8_t kPciLinkDefaultIrq[kPciLinks] = {10, 10, 11, 11};
constexpr unsigned pci_link(unsigned slot, unsigned pin) { return (slot + pin + 3) % 4; }

// PCI configuration mechanism #1 and the bus-0 functions every PC has.
constexpr uint16_t kPciConfigAddress = 0xCF8;
constexpr uint16_t kPciConfigData = 0xCFC;
constexpr unsigned kHostBridgeSlot = 0;  // i440FX 8086:1237
constexpr unsigned kIsaBridgeSlot = 1;   // PIIX3 8086:7000 (function 0)
// Where firmware places BARs (the DSDT's host bridge windows): memory from
// the 3 GiB RAM limit up to the I/O APIC, I/O ports above the ISA range.
constexpr uint64_t kPciMemoryBase = 0xC0000000;
constexpr uint64_t kPciMemoryEnd = 0xFEC00000;
constexpr uint32_t kPciIoBase = 0xC000;
constexpr uint32_t kPciIoEnd = 0x10000;

}  // namespace tv::dev::pc
