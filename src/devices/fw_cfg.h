// QEMU-compatible fw_cfg, legacy I/O interface only (QEMU docs/specs/fw_cfg.rst):
// a 16-bit selector at port 0x510 picks an item, byte reads of port 0x511
// stream it. Guests written for QEMU (SeaBIOS, Linux's qemu_fw_cfg driver,
// test kernels) find RAM size, CPU count, the command line and named files
// here. The DMA interface at 0x514 is not offered: FW_CFG_ID bit 1 is clear.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "devices/device.h"

namespace tv::dev {

struct FwCfgConfig {
  uint64_t ram_bytes = 0;
  unsigned cpu_count = 1;
  std::string cmdline;
  // Named blobs ("opt/..."), listed in the FW_CFG_FILE_DIR item.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
};

class FwCfg : public IoDevice {
 public:
  static constexpr uint64_t kPort = 0x510;
  static constexpr uint64_t kLength = 2;

  // Selector keys (fw_cfg.rst; QEMU include/standard-headers/linux/qemu_fw_cfg.h).
  static constexpr uint16_t kSignature = 0x0000;
  static constexpr uint16_t kId = 0x0001;
  static constexpr uint16_t kRamSize = 0x0003;
  static constexpr uint16_t kNbCpus = 0x0005;
  static constexpr uint16_t kMaxCpus = 0x000f;
  static constexpr uint16_t kCmdlineSize = 0x0014;
  static constexpr uint16_t kCmdlineData = 0x0015;
  static constexpr uint16_t kFileDir = 0x0019;
  static constexpr uint16_t kFileFirst = 0x0020;
  // FWCfgFile.name is char[56], NUL included.
  static constexpr size_t kMaxFileName = 55;

  // Throws tv::Error for an empty, over-long or duplicate file name.
  explicit FwCfg(FwCfgConfig cfg);

  std::string_view name() const override { return "fw_cfg"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  void add_files(std::vector<std::pair<std::string, std::vector<uint8_t>>> files);
  void select(uint16_t key);
  uint8_t next_byte();

  std::map<uint16_t, std::vector<uint8_t>> items_;
  const std::vector<uint8_t>* current_ = nullptr;  // null: unknown selector
  size_t offset_ = 0;
  bool logged_bad_write_ = false;
};

}  // namespace tv::dev
