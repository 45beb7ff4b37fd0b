#include "vmm/config.h"

#include <fmt/format.h>

#include <cctype>

#include "base/error.h"

namespace tv {

std::optional<uint64_t> parse_size(const std::string& text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = uint64_t(text[i] - '0');
    if (value > (~0ull - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string suffix = text.substr(i);
  for (auto& c : suffix) c = char(std::toupper(static_cast<unsigned char>(c)));
  unsigned shift;
  if (suffix.empty() || suffix == "M" || suffix == "MB" || suffix == "MIB")
    shift = 20;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB")
    shift = 10;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB")
    shift = 30;
  else if (suffix == "B")
    shift = 0;
  else
    return std::nullopt;
  if (value > (~0ull >> shift)) return std::nullopt;
  return value << shift;
}

std::vector<InitrdSpec> parse_initrd(const std::string& value) {
  std::vector<InitrdSpec> out;
  std::string entry;
  auto finish = [&] {
    size_t space = entry.find(' ');
    out.push_back({entry.substr(0, space), entry});
    entry.clear();
  };
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != ',') {
      entry += value[i];
    } else if (i + 1 < value.size() && value[i + 1] == ',') {
      entry += ',';
      ++i;
    } else {
      finish();
    }
  }
  finish();
  return out;
}

void validate(const Config& config) {
  if (config.mem_bytes < kMinMemBytes || config.mem_bytes > kMaxMemBytes)
    throw Error(fmt::format("--mem must be between {} MiB and {} MiB", kMinMemBytes >> 20,
                            kMaxMemBytes >> 20));
  if (config.mem_bytes % 4096 != 0) throw Error("--mem must be a multiple of 4 KiB");
  if (config.tc_size_bytes < (64ull << 10) || config.tc_size_bytes > (1ull << 30))
    throw Error("--tc-size must be between 64 KiB and 1 GiB");
}

}  // namespace tv
