// Building blocks for firmware tables: a byte buffer with little-endian
// fields at fixed offsets and 8-bit checksums (the ACPI and MP tables share
// both), and a writer that places finished tables one after another in an
// area of guest RAM. Running out of room is a VMM bug: tv::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.h"
#include "base/guest_memory.h"
#include "firmware/description.h"

namespace tv::fw {

// The byte that makes `bytes` sum to zero modulo 256 when added to them.
uint8_t checksum_complement(std::span<const uint8_t> bytes);

class TableBytes {
 public:
  TableBytes() = default;
  explicit TableBytes(size_t size) : bytes_(size, 0) {}

  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }

  // Little-endian fields; the table grows to hold them.
  void put8(size_t offset, uint8_t v) { put(offset, v, 1); }
  void put16(size_t offset, uint16_t v) { put(offset, v, 2); }
  void put32(size_t offset, uint32_t v) { put(offset, v, 4); }
  void put64(size_t offset, uint64_t v) { put(offset, v, 8); }
  // `text` left-aligned in a field of `width` bytes, padded with `pad`.
  void put_text(size_t offset, std::string_view text, size_t width, char pad = ' ');
  void put_bytes(size_t offset, std::span<const uint8_t> bytes);

  // Appends `n` zero bytes and returns the offset of the first.
  size_t grow(size_t n);

  // Sets the byte at `at` so that [begin, end) sums to zero.
  void set_checksum(size_t at, size_t begin, size_t end);

 private:
  void put(size_t offset, uint64_t v, unsigned width);

  std::vector<uint8_t> bytes_;
};

// Places tables in `area`, each at the next multiple of its alignment.
class AreaWriter {
 public:
  // Zeroes the area, so that a scan after a reset cannot find a stale
  // signature. Throws tv::Error if the area is empty, reaches outside
  // [pc::kFirmwareBase, pc::kFirmwareEnd) or outside guest RAM.
  AreaWriter(GuestMemory& memory, Area area, std::string what);

  // Writes `table` and returns its address; throws tv::Error if it does not fit.
  GuestPhys place(const TableBytes& table, uint64_t align);

 private:
  GuestMemory& memory_;
  Area area_;
  uint64_t next_;
  std::string what_;
};

}  // namespace tv::fw
