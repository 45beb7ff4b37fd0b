#include "vmm/bios_state.h"

#include <algorithm>

namespace tv {
namespace {

// Flat 4 GiB, 32-bit, granularity 4 KiB, present, DPL 0 (SDM Vol. 3A
// 3.4.5): base 0, limit 0xFFFFF, access byte `type`.
constexpr uint64_t flat_descriptor(uint8_t access) {
  return 0x00CF00000000FFFFull | (uint64_t(access) << 40);
}
constexpr uint8_t kCodeAccess = 0x9B;  // P, S, execute/read, accessed
constexpr uint8_t kDataAccess = 0x93;  // P, S, read/write, accessed

}  // namespace

std::vector<MemoryRange> pc_memory_map(uint64_t ram_bytes) {
  return {
      {0, kLowRamEnd, MemoryType::kRam},
      {kEbdaBase, kEbdaEnd - kEbdaBase, MemoryType::kReserved},
      {kBiosAreaBase, kHighRam - kBiosAreaBase, MemoryType::kReserved},
      {kHighRam, ram_bytes - kHighRam, MemoryType::kRam},
  };
}

bool overlaps_firmware(uint64_t addr, uint64_t len) {
  auto overlaps = [&](uint64_t lo, uint64_t hi) { return addr < hi && addr + len > lo; };
  return overlaps(0, kBdaBase + 0x100) || overlaps(kEbdaBase, kHighRam);
}

void write_bios_data_area(GuestMemory& memory) {
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x00}, 0x3F8);  // COM1 (COM2-4, LPT1-3: none)
  // Equipment word: x87 present (bit 1), initial video mode 80x25 colour
  // (bits 4-5 = 10b), one serial port (bits 9-11).
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x10}, 0x0222);
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x0E}, uint16_t(kEbdaBase >> 4));
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x13}, uint16_t(kLowRamEnd >> 10));
  memory.store<uint8_t>(GuestPhys{kBdaBase + 0x49}, 3);       // video mode 3
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x4A}, 80);     // columns
  memory.store<uint16_t>(GuestPhys{kBdaBase + 0x63}, 0x3D4);  // CRTC index port
  memory.store<uint8_t>(GuestPhys{kBdaBase + 0x84}, 24);      // rows - 1
  memory.store<uint8_t>(GuestPhys{kEbdaBase},
                        uint8_t((kEbdaEnd - kEbdaBase) >> 10));  // EBDA size in KiB
}

void write_boot_gdt(GuestMemory& memory, BootSelectors selectors, BootState& state) {
  const unsigned entries = std::max(selectors.code, selectors.data) / 8 + 1;
  for (unsigned i = 0; i < entries; ++i) memory.store<uint64_t>(GuestPhys{kBootGdt + 8 * i}, 0);
  memory.store<uint64_t>(GuestPhys{kBootGdt + selectors.code}, flat_descriptor(kCodeAccess));
  memory.store<uint64_t>(GuestPhys{kBootGdt + selectors.data}, flat_descriptor(kDataAccess));
  state.gdt_base = uint32_t(kBootGdt);
  state.gdt_limit = uint16_t(entries * 8 - 1);
  state.code_selector = selectors.code;
  state.data_selector = selectors.data;
}

}  // namespace tv
