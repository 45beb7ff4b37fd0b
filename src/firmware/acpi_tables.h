// The ACPI tables of transvisor's PC (ACPI 6.4, 2.0+ structures): RSDP,
// RSDT, XSDT, FADT, FACS, DSDT, MADT and HPET, written by the VMM into guest
// RAM before the kernel starts, since there is no BIOS to do it. The RSDP
// goes on a 16-byte boundary of [0xE0000, 0x100000), where the spec's scan
// (ACPI 6.4 5.2.5.1) and Linux find it; the machine must mark the area
// reserved in the memory maps.
#pragma once

#include <cstdint>
#include <span>

#include "base/address.h"
#include "base/guest_memory.h"
#include "firmware/description.h"

namespace tv::fw {

// Writes all ACPI tables into d.acpi_area (zeroed first) and returns the
// RSDP's address (for boot_params.acpi_rsdp_addr, if a loader wants it).
// Throws tv::Error if `d` is invalid (validate()) or the tables do not fit.
GuestPhys write_acpi_tables(GuestMemory& memory, const Description& d);

// The DSDT as iasl compiled it from dsdt.asl, header and checksum included.
std::span<const uint8_t> dsdt_aml();

// The FADT flags and IA-PC boot architecture flags written (ACPI 6.4 Tables
// 5.10 and 5.11), for tests and the integrator's documentation.
namespace fadt {
constexpr uint32_t kWbinvd = 1u << 0;             // WBINVD flushes caches (every x86)
constexpr uint32_t kProcC1 = 1u << 2;             // C1 (HLT) on every CPU
constexpr uint32_t kSlpButton = 1u << 5;          // no fixed-feature sleep button
constexpr uint32_t kRtcS4 = 1u << 7;              // the RTC can wake from S4 (as QEMU)
constexpr uint32_t kResetRegSup = 1u << 10;       // RESET_REG is valid
constexpr uint32_t kUsePlatformClock = 1u << 15;  // count time with PM timer/HPET (as QEMU)
constexpr uint32_t kFlags =
    kWbinvd | kProcC1 | kSlpButton | kRtcS4 | kResetRegSup | kUsePlatformClock;

constexpr uint16_t kBootLegacyDevices = 1u << 0;  // ISA devices the OS cannot enumerate
constexpr uint16_t kBoot8042 = 1u << 1;           // an 8042 at 0x60/0x64
constexpr uint16_t kBootArch = kBootLegacyDevices | kBoot8042;
}  // namespace fadt

}  // namespace tv::fw
