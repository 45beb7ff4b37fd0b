// Multiboot v1 loader (Multiboot Specification 0.6.96): ELF32 kernels and
// the a.out-kludge address fields, a multiboot information structure with
// memory sizes, a memory map, the command line and one module per initrd.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/guest_memory.h"
#include "vmm/boot_state.h"

namespace tv {

// True if `image` carries a multiboot header in its first 8 KiB.
bool has_multiboot_header(std::span<const uint8_t> image);

// Loads the kernel and modules into `memory` and returns the entry state
// (EAX = 0x2BADB002, EBX = info address). Throws tv::Error with a one-line
// message for a malformed image or one that does not fit.
BootState load_multiboot(GuestMemory& memory, std::span<const uint8_t> image,
                         const std::string& cmdline, const std::vector<BootModule>& modules);

}  // namespace tv
