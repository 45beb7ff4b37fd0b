// Guest RAM for bus-master device tests: one vector at [0, size), the
// DmaSpace bounds (nullptr outside it), and a record of every reported write.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "devices/dma.h"

namespace tv::dev {

class VectorDma : public DmaSpace {
 public:
  explicit VectorDma(size_t size) : ram(size) {}
  uint8_t* host(uint64_t addr, uint64_t len) override {
    return addr <= ram.size() && len <= ram.size() - addr ? ram.data() + addr : nullptr;
  }
  void written(uint64_t addr, uint64_t len) override { writes.emplace_back(addr, len); }
  bool reported(uint64_t addr, uint64_t len) const {
    for (auto& w : writes)
      if (w.first == addr && w.second == len) return true;
    return false;
  }

  // Raw access to RAM for the test (no bounds check, nothing reported).
  template <typename T>
  void poke(uint64_t addr, T value) {
    std::memcpy(ram.data() + addr, &value, sizeof value);
  }
  template <typename T>
  T peek(uint64_t addr) const {
    T value;
    std::memcpy(&value, ram.data() + addr, sizeof value);
    return value;
  }

  std::vector<uint8_t> ram;
  std::vector<std::pair<uint64_t, uint64_t>> writes;
};

}  // namespace tv::dev
