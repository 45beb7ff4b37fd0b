// Guest RAM: one memfd, mapped once linearly into the VMM ("physmap") for
// loaders, devices, page walks and the KVM memory slot. The BT shadow windows
// map the same memfd pages again; that is why RAM is a file, not anonymous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/address.h"

namespace tv {

class GuestMemory {
 public:
  // Throws tv::Error if the memfd or the mapping cannot be created.
  explicit GuestMemory(uint64_t size);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  uint8_t* physmap() const { return base_; }

  // True if [addr, addr+len) lies inside RAM.
  bool contains(GuestPhys addr, uint64_t len) const {
    return addr.value <= size_ && len <= size_ - addr.value;
  }
  // Host pointer for a guest-physical range; nullptr if outside RAM.
  uint8_t* host(GuestPhys addr, uint64_t len = 1) const {
    return contains(addr, len) ? base_ + addr.value : nullptr;
  }
  // Copies into/out of RAM; throw tv::Error if the range is outside RAM.
  void write(GuestPhys addr, std::span<const uint8_t> bytes);
  void read(GuestPhys addr, std::span<uint8_t> bytes) const;

  template <typename T>
  T load(GuestPhys addr) const {
    T v;
    read(addr, {reinterpret_cast<uint8_t*>(&v), sizeof v});
    return v;
  }
  template <typename T>
  void store(GuestPhys addr, const T& v) {
    write(addr, {reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }

 private:
  uint64_t size_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
};

}  // namespace tv
