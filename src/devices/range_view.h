// A further bus range of a device model: the PIT's port 0x61, the ACPI
// GPE0 block, the two PCI configuration ports, the i8042's ports 0x60 and
// 0x64 around the PIT's 0x61. The view keeps no state; every access goes
// to two member functions of the model, with the offset into the view's
// own range plus `base` (for a model that numbers its ports in one space
// with gaps, like the i8042). The model must outlive every bus holding one.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "devices/device.h"

namespace tv::dev {

template <typename Owner>
class RangeView final : public IoDevice {
 public:
  using Read = uint64_t (Owner::*)(uint64_t offset, unsigned size);
  using Write = void (Owner::*)(uint64_t offset, unsigned size, uint64_t value);

  // `name` must outlive the view (a string literal).
  RangeView(Owner& owner, std::string_view name, Read read, Write write, uint64_t base)
      : owner_(owner), name_(name), read_(read), write_(write), base_(base) {}

  std::string_view name() const override { return name_; }
  uint64_t read(uint64_t offset, unsigned size) override {
    return (owner_.*read_)(base_ + offset, size);
  }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    (owner_.*write_)(base_ + offset, size, value);
  }

 private:
  Owner& owner_;
  std::string_view name_;
  Read read_;
  Write write_;
  uint64_t base_;
};

// For the model's constructor, where its private handlers can be named.
template <typename Owner>
std::shared_ptr<IoDevice> make_range_view(Owner& owner, std::string_view name,
                                          typename RangeView<Owner>::Read read,
                                          typename RangeView<Owner>::Write write,
                                          uint64_t base = 0) {
  return std::make_shared<RangeView<Owner>>(owner, name, read, write, base);
}

}  // namespace tv::dev
