// fw_cfg legacy I/O interface: see fw_cfg.h. Item formats follow what QEMU's
// x86 machines store (hw/nvram/fw_cfg.c, hw/i386/x86.c): integers are
// little-endian, the file directory is big-endian.
#include "devices/fw_cfg.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "base/log.h"

namespace tv::dev {
namespace {

// The write-channel bit (bit 14) selects the same item (QEMU masks it with
// FW_CFG_ENTRY_MASK); writes through it are ignored since QEMU v2.4 anyway.
constexpr uint16_t kWriteChannel = 0x4000;
// FWCfgFile entries are 64 bytes: size, select, reserved, name[56].
constexpr size_t kFileEntryBytes = 64;
// Selectors 0x0000-0x3fff are generic items; files may use 0x0020-0x3fff.
constexpr size_t kMaxFiles = 0x4000 - FwCfg::kFileFirst;

std::vector<uint8_t> le(uint64_t value, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
  return out;
}

void put_be(std::vector<uint8_t>& out, uint64_t value, size_t bytes) {
  for (size_t i = bytes; i-- > 0;) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void check_file_names(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files) {
  if (files.size() > kMaxFiles)
    throw Error(fmt::format("fw_cfg: too many files ({})", files.size()));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& name = files[i].first;
    if (name.empty() || name.size() > FwCfg::kMaxFileName)
      throw Error(
          fmt::format("fw_cfg: file name '{}' must be 1-{} bytes", name, FwCfg::kMaxFileName));
    if (i > 0 && name == files[i - 1].first)
      throw Error(fmt::format("fw_cfg: duplicate file name '{}'", name));
    if (files[i].second.size() > UINT32_MAX)
      throw Error(fmt::format("fw_cfg: file '{}' is larger than 4 GiB", name));
  }
}

}  // namespace

FwCfg::FwCfg(FwCfgConfig cfg) {
  items_[kSignature] = {'Q', 'E', 'M', 'U'};
  items_[kId] = le(1, 4);  // bit 0: traditional interface; bit 1 (DMA) clear
  items_[kRamSize] = le(cfg.ram_bytes, 8);
  items_[kNbCpus] = le(cfg.cpu_count, 2);
  items_[kMaxCpus] = le(cfg.cpu_count, 2);
  // QEMU's x86_load_linux: size counts the NUL, and the data carries it.
  items_[kCmdlineSize] = le(cfg.cmdline.size() + 1, 4);
  std::vector<uint8_t> cmdline(cfg.cmdline.begin(), cfg.cmdline.end());
  cmdline.push_back(0);
  items_[kCmdlineData] = std::move(cmdline);
  add_files(std::move(cfg.files));
  select(kSignature);
}

// QEMU keeps the directory sorted by name and numbers the selectors in that
// order (fw_cfg_add_file_callback), so firmware sees the same layout here.
void FwCfg::add_files(std::vector<std::pair<std::string, std::vector<uint8_t>>> files) {
  std::stable_sort(files.begin(), files.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  check_file_names(files);
  std::vector<uint8_t> dir;
  put_be(dir, files.size(), 4);
  for (size_t i = 0; i < files.size(); ++i) {
    const auto key = static_cast<uint16_t>(kFileFirst + i);
    auto& [name, data] = files[i];
    put_be(dir, data.size(), 4);
    put_be(dir, key, 2);
    put_be(dir, 0, 2);
    const size_t name_at = dir.size();
    dir.resize(name_at + (kFileEntryBytes - 8), 0);
    std::copy(name.begin(), name.end(), dir.begin() + static_cast<ptrdiff_t>(name_at));
    items_[key] = std::move(data);
  }
  items_[kFileDir] = std::move(dir);
}

// fw_cfg.rst, "Selector (Control) Register": selecting resets the data offset.
void FwCfg::select(uint16_t key) {
  auto it = items_.find(static_cast<uint16_t>(key & ~kWriteChannel));
  current_ = it == items_.end() ? nullptr : &it->second;
  offset_ = 0;
}

// fw_cfg.rst, "Data Register": past the end of an item (or for an unknown
// selector) reads return 0 and the offset stays put.
uint8_t FwCfg::next_byte() {
  if (!current_ || offset_ >= current_->size()) return 0;
  return (*current_)[offset_++];
}

// QEMU's combined I/O region (fw_cfg_comb_mem_ops) ignores the address: a
// read of either port streams data. The spec makes the I/O data port 8 bits
// wide; a wider read gets the next bytes in increasing address order, as the
// MMIO data register does, rather than a width error.
uint64_t FwCfg::read(uint64_t /*offset*/, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) value |= uint64_t{next_byte()} << (8 * i);
  return value;
}

// fw_cfg_comb_write: a 16-bit write to either port selects; 8-bit data
// writes have been ignored since QEMU v2.4.
void FwCfg::write(uint64_t offset, unsigned size, uint64_t value) {
  if (size == 2) return select(static_cast<uint16_t>(value));
  if (size == 1 || logged_bad_write_) return;
  logged_bad_write_ = true;
  log::get("dev.fw_cfg")
      ->info(
          "guest wrote {} bytes at fw_cfg offset {}; only 16-bit selector writes are "
          "supported (logged once)",
          size, offset);
}

}  // namespace tv::dev
