// isa-debug-exit: see debug_exit.h.
#include "devices/debug_exit.h"

namespace tv::dev {

// QEMU's debug_exit_read returns 0 for every offset and width.
uint64_t DebugExit::read(uint64_t /*offset*/, unsigned /*size*/) { return 0; }

// QEMU calls exit((val << 1) | 1) with the value of the 1-, 2- or 4-byte
// access, whatever the offset; exit() takes an int, so the status is the low
// 32 bits of that expression (a shell then sees its low 8 bits).
void DebugExit::write(uint64_t /*offset*/, unsigned size, uint64_t value) {
  if (size < 8) value &= (uint64_t{1} << (size * 8)) - 1;
  const auto status = static_cast<uint32_t>((value << 1) | 1);
  machine_.request_exit(static_cast<int>(status));
}

}  // namespace tv::dev
