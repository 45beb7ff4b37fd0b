#include "vmm/config.h"

#include <fmt/format.h>

#include <algorithm>
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

namespace {

// Splits at single commas; ",," stays a literal comma (QEMU's escaping).
std::vector<std::string> split_commas(const std::string& value) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != ',') {
      parts.back() += value[i];
    } else if (i + 1 < value.size() && value[i + 1] == ',') {
      parts.back() += ',';
      ++i;
    } else {
      parts.emplace_back();
    }
  }
  return parts;
}

void parse_disk_option(const std::string& value, const std::string& option, DiskConfig& disk) {
  auto bad = [&](const std::string& why) {
    return Error(fmt::format("--disk '{}': {}", value, why));
  };
  if (option.empty()) throw bad("empty option (a stray comma?)");
  size_t eq = option.find('=');
  std::string key = option.substr(0, eq);
  std::string val = eq == std::string::npos ? "" : option.substr(eq + 1);
  if (key == "if") {
    if (val == "virtio")
      disk.interface = DiskInterface::kVirtio;
    else if (val == "ide")
      disk.interface = DiskInterface::kIde;
    else
      throw bad(fmt::format("'{}': expected if=virtio or if=ide", option));
  } else if (key == "readonly") {
    if (eq == std::string::npos || val == "on")
      disk.read_only = true;
    else if (val == "off")
      disk.read_only = false;
    else
      throw bad(fmt::format("'{}': expected readonly, readonly=on or readonly=off", option));
  } else if (key == "cache") {
    if (val == "writeback")
      disk.cache = DiskCache::kWriteback;
    else if (val == "none")
      disk.cache = DiskCache::kNone;
    else if (val == "unsafe")
      disk.cache = DiskCache::kUnsafe;
    else
      throw bad(fmt::format("'{}': expected cache=writeback, cache=none or cache=unsafe", option));
  } else {
    throw bad(fmt::format("unknown option '{}' (expected if=, readonly or cache=)", key));
  }
}

}  // namespace

DiskConfig parse_disk(const std::string& value) {
  std::vector<std::string> parts = split_commas(value);
  DiskConfig disk;
  disk.path = parts[0].starts_with("file=") ? parts[0].substr(5) : parts[0];
  if (disk.path.empty()) throw Error(fmt::format("--disk '{}': empty file name", value));
  std::vector<std::string> seen;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string key = parts[i].substr(0, parts[i].find('='));
    if (!key.empty() && std::find(seen.begin(), seen.end(), key) != seen.end())
      throw Error(fmt::format("--disk '{}': '{}' given twice", value, key));
    seen.push_back(key);
    parse_disk_option(value, parts[i], disk);
  }
  return disk;
}

namespace {

void validate_disks(const std::vector<DiskConfig>& disks) {
  size_t ide = 0, virtio = 0;
  for (size_t i = 0; i < disks.size(); ++i) {
    (disks[i].interface == DiskInterface::kIde ? ide : virtio)++;
    for (size_t j = 0; j < i; ++j)
      if (disks[j].path == disks[i].path)
        throw Error(fmt::format("--disk: '{}' is given twice", disks[i].path));
  }
  if (ide > kMaxIdeDisks)
    throw Error(
        fmt::format("--disk: {} IDE disks, at most {} (primary and secondary, master and slave)",
                    ide, kMaxIdeDisks));
  if (virtio > kMaxVirtioDisks)
    throw Error(fmt::format("--disk: {} virtio disks, at most {}", virtio, kMaxVirtioDisks));
}

}  // namespace

void validate(const Config& config) {
  if (config.mem_bytes < kMinMemBytes || config.mem_bytes > kMaxMemBytes)
    throw Error(fmt::format("--mem must be between {} MiB and {} MiB", kMinMemBytes >> 20,
                            kMaxMemBytes >> 20));
  if (config.mem_bytes % 4096 != 0) throw Error("--mem must be a multiple of 4 KiB");
  if (config.tc_size_bytes < (64ull << 10) || config.tc_size_bytes > (1ull << 30))
    throw Error("--tc-size must be between 64 KiB and 1 GiB");
  validate_disks(config.disks);
}

}  // namespace tv
