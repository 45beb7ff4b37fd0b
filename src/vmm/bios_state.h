// What a PC BIOS and a boot loader leave behind before the kernel's first
// instruction, for a machine that has neither: the memory map both loaders
// report (multiboot mmap, Linux e820), the BIOS data area and the EBDA
// (IBM PC/AT Technical Reference; "BIOS data area" as in Ralf Brown's
// interrupt list, MEM 0040h), and a flat GDT like the one GRUB and QEMU's
// loaders leave loaded (the multiboot spec allows an invalid GDTR, but
// kernels tested under QEMU reload segments before their own LGDT).
#pragma once

#include <cstdint>
#include <vector>

#include "base/guest_memory.h"
#include "vmm/boot_state.h"

namespace tv {

// Guest-physical layout below 1 MiB.
constexpr uint64_t kBdaBase = 0x400;
constexpr uint64_t kLowRamEnd = 0x9FC00;    // 639 KiB of conventional memory
constexpr uint64_t kEbdaBase = kLowRamEnd;  // a 1 KiB EBDA, reserved
constexpr uint64_t kEbdaEnd = 0xA0000;
constexpr uint64_t kBiosAreaBase = 0xE0000;  // firmware tables (ACPI, MP): reserved
constexpr uint64_t kHighRam = 1ull << 20;
// The boot GDT: inside the EBDA, past its size byte.
constexpr uint64_t kBootGdt = kEbdaBase + 0x40;

// e820 / multiboot memory-map types.
enum class MemoryType : uint32_t { kRam = 1, kReserved = 2 };

struct MemoryRange {
  uint64_t addr, len;
  MemoryType type;
};

// The PC memory map of `ram_bytes` of guest RAM (at least 2 MiB):
// conventional memory, the EBDA, the BIOS area with the firmware tables,
// and RAM above 1 MiB. The VGA window [0xA0000, 0xC0000) and the option
// ROM area are holes, as on a PC.
std::vector<MemoryRange> pc_memory_map(uint64_t ram_bytes);

// True if [addr, addr + len) touches memory that firmware owns: the real-
// mode IVT and BIOS data area, the EBDA, or [0xA0000, 1 MiB). A loader
// refuses to put a kernel there.
bool overlaps_firmware(uint64_t addr, uint64_t len);

// Fills the BIOS data area and the EBDA as a PC BIOS leaves them: COM1 at
// 0x3F8 in the port table at 0x400, the equipment word, base memory in
// KiB at 0x413, the EBDA segment at 0x40E, the 80x25 colour text mode and
// CRTC port 0x3D4 in the video fields.
void write_bios_data_area(GuestMemory& memory);

// Code and data selectors of the boot GDT.
struct BootSelectors {
  uint16_t code, data;
};
inline constexpr BootSelectors kMultibootSelectors{0x08, 0x10};  // GRUB's and QEMU's
inline constexpr BootSelectors kLinuxSelectors{0x10, 0x18};      // __BOOT_CS / __BOOT_DS (boot.rst)

// Writes a GDT at kBootGdt with flat 4 GiB code (execute/read) and data
// (read/write) descriptors at `selectors`, and sets the GDTR and the
// selectors in `state`.
void write_boot_gdt(GuestMemory& memory, BootSelectors selectors, BootState& state);

}  // namespace tv
