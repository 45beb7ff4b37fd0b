#include "devices/fw_cfg.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace tv::dev {
namespace {

// Port offsets in the 0x510 range.
constexpr uint64_t kSelector = 0;
constexpr uint64_t kData = 1;

std::vector<uint8_t> read_item(FwCfg& dev, uint16_t key, size_t bytes) {
  dev.write(kSelector, 2, key);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(dev.read(kData, 1)));
  return out;
}

uint64_t read_le(FwCfg& dev, uint16_t key, size_t bytes) {
  uint64_t value = 0;
  auto raw = read_item(dev, key, bytes);
  for (size_t i = 0; i < bytes; ++i) value |= uint64_t{raw[i]} << (8 * i);
  return value;
}

uint64_t be(const std::vector<uint8_t>& b, size_t at, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value = value << 8 | b[at + i];
  return value;
}

FwCfgConfig basic_config() {
  FwCfgConfig cfg;
  cfg.ram_bytes = 0x1'2345'6000;
  cfg.cpu_count = 2;
  cfg.cmdline = "console=ttyS0";
  return cfg;
}

TEST(FwCfg, SignatureAndId) {
  FwCfg dev(basic_config());
  auto sig = read_item(dev, FwCfg::kSignature, 4);
  EXPECT_EQ(std::string(sig.begin(), sig.end()), "QEMU");
  EXPECT_EQ(read_le(dev, FwCfg::kId, 4), 1u);  // traditional interface, no DMA
}

TEST(FwCfg, SignatureIsSelectedAtStart) {
  FwCfg dev(basic_config());
  EXPECT_EQ(dev.read(kData, 1), uint64_t{'Q'});
}

TEST(FwCfg, RamSizeAndCpus) {
  FwCfg dev(basic_config());
  EXPECT_EQ(read_le(dev, FwCfg::kRamSize, 8), 0x1'2345'6000u);
  EXPECT_EQ(read_le(dev, FwCfg::kNbCpus, 2), 2u);
  EXPECT_EQ(read_le(dev, FwCfg::kMaxCpus, 2), 2u);
}

TEST(FwCfg, CmdlineSizeCountsNul) {
  FwCfg dev(basic_config());
  EXPECT_EQ(read_le(dev, FwCfg::kCmdlineSize, 4), 14u);
  auto data = read_item(dev, FwCfg::kCmdlineData, 15);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.data())), "console=ttyS0");
  EXPECT_EQ(data[13], 0);
  EXPECT_EQ(data[14], 0);  // past the end reads 0
}

TEST(FwCfg, SelectorWriteResetsOffset) {
  FwCfg dev(basic_config());
  EXPECT_EQ(read_item(dev, FwCfg::kSignature, 2), (std::vector<uint8_t>{'Q', 'E'}));
  EXPECT_EQ(read_item(dev, FwCfg::kSignature, 2), (std::vector<uint8_t>{'Q', 'E'}));
}

TEST(FwCfg, PastEndAndUnknownSelectorsReadZero) {
  FwCfg dev(basic_config());
  auto sig = read_item(dev, FwCfg::kSignature, 6);
  EXPECT_EQ(sig[4], 0);
  EXPECT_EQ(sig[5], 0);
  EXPECT_EQ(read_item(dev, 0x0123, 3), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(read_item(dev, 0x8000, 1), (std::vector<uint8_t>{0}));
}

TEST(FwCfg, WriteChannelBitSelectsSameItem) {
  FwCfg dev(basic_config());
  EXPECT_EQ(read_item(dev, 0x4000, 4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
}

TEST(FwCfg, ByteWritesAreIgnoredAndDataReadsAtEitherPort) {
  FwCfg dev(basic_config());
  dev.write(kSelector, 2, FwCfg::kSignature);
  dev.write(kData, 1, 0x55);                         // data writes ignored since QEMU v2.4
  dev.write(kSelector, 1, 0x05);                     // not a selector write
  EXPECT_EQ(dev.read(kSelector, 1), uint64_t{'Q'});  // QEMU ignores the address
  EXPECT_EQ(dev.read(kData, 1), uint64_t{'E'});
}

TEST(FwCfg, WideReadStreamsBytesInOrder) {
  FwCfg dev(basic_config());
  dev.write(kSelector, 2, FwCfg::kSignature);
  EXPECT_EQ(dev.read(kData, 4), 0x554d4551u);  // "QEMU" little-endian
}

TEST(FwCfg, FileDirectoryIsBigEndianAndSorted) {
  FwCfgConfig cfg = basic_config();
  cfg.files.push_back({"opt/b", {1, 2, 3}});
  cfg.files.push_back({"opt/a", std::vector<uint8_t>(0x1234, 7)});
  FwCfg dev(std::move(cfg));
  auto dir = read_item(dev, FwCfg::kFileDir, 4 + 2 * 64);
  EXPECT_EQ(be(dir, 0, 4), 2u);
  // Entry 0: "opt/a" sorts first and gets the first file selector.
  EXPECT_EQ(be(dir, 4, 4), 0x1234u);
  EXPECT_EQ(be(dir, 8, 2), 0x20u);
  EXPECT_EQ(be(dir, 10, 2), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[12])), "opt/a");
  EXPECT_EQ(dir[12 + 55], 0);
  EXPECT_EQ(be(dir, 68, 4), 3u);
  EXPECT_EQ(be(dir, 72, 2), 0x21u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[76])), "opt/b");
  EXPECT_EQ(read_item(dev, 0x21, 4), (std::vector<uint8_t>{1, 2, 3, 0}));
  EXPECT_EQ(read_item(dev, 0x20, 1), (std::vector<uint8_t>{7}));
}

TEST(FwCfg, EmptyFileDirectoryHasZeroCount) {
  FwCfg dev(basic_config());
  EXPECT_EQ(read_item(dev, FwCfg::kFileDir, 5), (std::vector<uint8_t>{0, 0, 0, 0, 0}));
}

TEST(FwCfg, RejectsBadFileNames) {
  FwCfgConfig dup = basic_config();
  dup.files = {{"opt/x", {}}, {"opt/x", {1}}};
  EXPECT_THROW(FwCfg{dup}, Error);
  FwCfgConfig empty = basic_config();
  empty.files = {{"", {}}};
  EXPECT_THROW(FwCfg{empty}, Error);
  FwCfgConfig longest = basic_config();
  longest.files = {{std::string(55, 'n'), {}}};
  EXPECT_NO_THROW(FwCfg{longest});
  longest.files = {{std::string(56, 'n'), {}}};
  EXPECT_THROW(FwCfg{longest}, Error);
}

}  // namespace
}  // namespace tv::dev
