// Guest RAM as a bus-mastering device sees it (DMA): bounded, by
// guest-physical address. A device never touches RAM any other way, so an
// address the guest made up cannot reach outside RAM, and every write is
// reported so that the CPU backend can drop what it derived from the old
// bytes (the BT backend's translations of code on those pages).
//
// The host pointers stay valid for the machine's lifetime (RAM is mapped
// once), so an I/O thread may fill a buffer the vCPU thread looked up; the
// device reports the write with written() on the vCPU thread, after the
// data is in place and before the guest is told (the completion interrupt).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace tv::dev {

class DmaSpace {
 public:
  virtual ~DmaSpace() = default;

  // Host view of guest-physical [addr, addr+len), or nullptr if any byte of
  // it is outside RAM (MMIO, a hole, past the end, or a wrapping range).
  virtual uint8_t* host(uint64_t addr, uint64_t len) = 0;

  // Tells the machine that the device wrote [addr, addr+len). Call once the
  // bytes are in place, on the vCPU thread.
  virtual void written(uint64_t addr, uint64_t len) = 0;

  // Bounded copies: false (and nothing copied) if any byte is outside RAM.
  // write() reports itself.
  bool read(uint64_t addr, std::span<uint8_t> out) {
    const uint8_t* p = host(addr, out.size());
    if (p == nullptr) return false;
    std::memcpy(out.data(), p, out.size());
    return true;
  }
  bool write(uint64_t addr, std::span<const uint8_t> in) {
    uint8_t* p = host(addr, in.size());
    if (p == nullptr) return false;
    std::memcpy(p, in.data(), in.size());
    written(addr, in.size());
    return true;
  }
};

}  // namespace tv::dev
