// Ports 0x92 and 0x80: see system_ports.h.
#include "devices/system_ports.h"

namespace tv::dev {

// Bit 0 is a pulse, not a latch: it reads back as 0, so a read-modify-write
// of the A20 bit (Linux's enable_a20_fast() clears bit 0 anyway) never
// resets the machine, while every write with bit 0 set does.
uint64_t ResetPort92::read(uint64_t /*offset*/, unsigned /*size*/) { return value_; }

void ResetPort92::write(uint64_t /*offset*/, unsigned /*size*/, uint64_t value) {
  const auto byte = static_cast<uint8_t>(value);
  value_ = byte & ~kFastReset;
  if (byte & kFastReset) machine_.request_reset("port 0x92 fast reset");
}

uint64_t PostPort80::read(uint64_t /*offset*/, unsigned /*size*/) { return last_; }

void PostPort80::write(uint64_t /*offset*/, unsigned /*size*/, uint64_t value) {
  last_ = static_cast<uint8_t>(value);
}

}  // namespace tv::dev
