// What a loader hands to the CPU backends: the register state at kernel
// entry and the modules it loaded. Kept apart from the backend interface so
// that loaders depend on nothing of the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tv {

// Register state at kernel entry: 32-bit protected mode, flat 4 GiB code
// and data segments, paging and interrupts off (Multiboot spec 3.2, Linux
// boot protocol "32-bit boot protocol"), with the GDTR pointing at the
// loader's boot GDT whose descriptors the selectors name.
struct BootState {
  uint32_t eip = 0;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  uint32_t esi = 0, edi = 0, ebp = 0, esp = 0;
  uint32_t gdt_base = 0;
  uint16_t gdt_limit = 0;
  uint16_t code_selector = 0x08, data_selector = 0x10;
};

// A file given with --initrd: a multiboot module, or part of Linux's initrd.
struct BootModule {
  std::string name;  // becomes the module's command line
  std::vector<uint8_t> data;
};

}  // namespace tv
