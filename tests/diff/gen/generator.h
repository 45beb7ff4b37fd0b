// Test-case generation for the translator's differential test: one case
// is a short sequence of unprivileged instructions with its initial
// registers, flags and data buffer, all derived from (seed, index) alone.
#pragma once

#include <cstdint>

#include "case_format.h"

namespace tv::difftest {

diff_case generate_case(uint64_t seed, uint32_t index);

}  // namespace tv::difftest
