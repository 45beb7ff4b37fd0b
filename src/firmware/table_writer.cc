// Firmware table bytes and their placement in guest RAM (see table_writer.h).
#include "firmware/table_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace tv::fw {

uint8_t checksum_complement(std::span<const uint8_t> bytes) {
  const uint8_t sum = std::accumulate(bytes.begin(), bytes.end(), uint8_t(0),
                                      [](uint8_t a, uint8_t b) { return uint8_t(a + b); });
  return uint8_t(-sum);
}

void TableBytes::put(size_t offset, uint64_t v, unsigned width) {
  if (bytes_.size() < offset + width) bytes_.resize(offset + width, 0);
  for (unsigned i = 0; i < width; ++i) bytes_[offset + i] = uint8_t(v >> (8 * i));
}

void TableBytes::put_text(size_t offset, std::string_view text, size_t width, char pad) {
  if (text.size() > width)
    throw Error(
        fmt::format("firmware tables: \"{}\" is longer than its {}-byte field", text, width));
  for (size_t i = 0; i < width; ++i) put8(offset + i, uint8_t(i < text.size() ? text[i] : pad));
}

void TableBytes::put_bytes(size_t offset, std::span<const uint8_t> bytes) {
  if (bytes_.size() < offset + bytes.size()) bytes_.resize(offset + bytes.size(), 0);
  std::copy(bytes.begin(), bytes.end(), bytes_.begin() + ptrdiff_t(offset));
}

size_t TableBytes::grow(size_t n) {
  const size_t at = bytes_.size();
  bytes_.resize(at + n, 0);
  return at;
}

void TableBytes::set_checksum(size_t at, size_t begin, size_t end) {
  bytes_[at] = 0;
  bytes_[at] = checksum_complement(std::span(bytes_).subspan(begin, end - begin));
}

AreaWriter::AreaWriter(GuestMemory& memory, Area area, std::string what)
    : memory_(memory), area_(area), next_(area.begin), what_(std::move(what)) {
  if (area.begin >= area.end || area.begin < pc::kFirmwareBase || area.end > pc::kFirmwareEnd)
    throw Error(fmt::format("firmware tables: {} area [{:#x}, {:#x}) is not inside the BIOS area",
                            what_, area.begin, area.end));
  const std::vector<uint8_t> zeros(area.end - area.begin, 0);
  memory_.write(GuestPhys{area.begin}, zeros);  // throws if RAM ends below the area
}

GuestPhys AreaWriter::place(const TableBytes& table, uint64_t align) {
  const uint64_t at = (next_ + align - 1) / align * align;
  if (at > area_.end || table.size() > area_.end - at)
    throw Error(fmt::format("firmware tables: {} tables do not fit in [{:#x}, {:#x})", what_,
                            area_.begin, area_.end));
  memory_.write(GuestPhys{at}, table.bytes());
  next_ = at + table.size();
  return GuestPhys{at};
}

}  // namespace tv::fw
