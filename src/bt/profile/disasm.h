// Disassembly of guest code (Zydis, 32-bit) and translated host code
// (Capstone, x86-64) for the profile report and trace logs.
#pragma once

#include <cstdint>
#include <string>

#include "bt/cache/code_cache.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

// One line per guest instruction of `block`, read back through `memory`.
std::string disassemble_guest(const Block& block, LinearMemory& memory);
// One line per host instruction of `block`'s translation.
std::string disassemble_host(const Block& block);

}  // namespace tv::bt
