// The Intel MultiProcessor Specification 1.4 tables of transvisor's PC: the
// floating pointer structure and the configuration table with its processor,
// bus, I/O APIC and interrupt assignment entries. Kernels booted without
// ACPI (or that prefer MP, like older Linux with acpi=off) find the CPUs and
// the I/O APIC wiring here. The floating pointer sits on a 16-byte boundary
// of [0xF0000, 0x100000), the BIOS ROM range of MP 1.4 4.1 that Linux scans.
#pragma once

#include "base/address.h"
#include "base/guest_memory.h"
#include "firmware/description.h"

namespace tv::fw {

// MP 1.4 4.3: bus IDs used in the configuration table.
constexpr uint8_t kMpPciBus = 0;
constexpr uint8_t kMpIsaBus = 1;

// Writes the MP tables into d.mp_area (zeroed first) and returns the floating
// pointer's address. Throws tv::Error if `d` is invalid (validate()), the
// area is not inside [0xF0000, 0x100000) or the tables do not fit.
GuestPhys write_mp_table(GuestMemory& memory, const Description& d);

}  // namespace tv::fw
