#include "base/guest_memory.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"

namespace tv {

GuestMemory::GuestMemory(uint64_t size) : size_(size) {
  if (size == 0 || size % kPageSize != 0)
    throw Error(fmt::format("guest RAM size {} is not a positive multiple of 4 KiB", size));
  fd_ = memfd_create("transvisor-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw Error(errno_message("memfd_create"));
  if (ftruncate(fd_, off_t(size)) != 0) {
    close(fd_);
    throw Error(errno_message("ftruncate guest RAM"));
  }
  // SAFETY: a fresh shared mapping of our own memfd; the kernel picks the
  // address, and the mapping lives exactly as long as this object.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    close(fd_);
    throw Error(errno_message("mmap guest RAM"));
  }
  base_ = static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() {
  munmap(base_, size_);
  close(fd_);
}

void GuestMemory::write(GuestPhys addr, std::span<const uint8_t> bytes) {
  uint8_t* dst = host(addr, bytes.size());
  if (!dst && !bytes.empty())
    throw Error(fmt::format("write of {} bytes at {:#x} is outside guest RAM ({:#x} bytes)",
                            bytes.size(), addr.value, size_));
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
}

void GuestMemory::read(GuestPhys addr, std::span<uint8_t> bytes) const {
  const uint8_t* src = host(addr, bytes.size());
  if (!src && !bytes.empty())
    throw Error(fmt::format("read of {} bytes at {:#x} is outside guest RAM ({:#x} bytes)",
                            bytes.size(), addr.value, size_));
  if (!bytes.empty()) std::memcpy(bytes.data(), src, bytes.size());
}

}  // namespace tv
