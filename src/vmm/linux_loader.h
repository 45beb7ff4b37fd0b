// Linux/x86 boot protocol loader (Documentation/arch/x86/boot.rst), 32-bit
// entry: a bzImage of protocol 2.06 or newer is loaded without running its
// real-mode setup code; the loader fills the zero page (struct boot_params)
// that the setup code would have, and enters the protected-mode kernel with
// ESI pointing at it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/guest_memory.h"
#include "vmm/boot_state.h"

namespace tv {

// Fixed guest-physical places of what the loader writes below 1 MiB.
constexpr uint64_t kLinuxZeroPage = 0x10000;
constexpr uint64_t kLinuxCmdline = 0x20000;

// Loads the kernel, the initrds (concatenated into one ramdisk, as GRUB
// does) and the zero page into `memory`, and returns the entry state
// (EIP = the protected-mode kernel, ESI = zero page, EBX/EBP/EDI = 0).
// Throws tv::Error with a one-line message for an image that is not a
// bzImage, a protocol older than 2.06, or a kernel, command line or initrd
// that does not fit.
BootState load_linux(GuestMemory& memory, std::span<const uint8_t> image,
                     const std::string& cmdline, const std::vector<BootModule>& initrds);

}  // namespace tv
