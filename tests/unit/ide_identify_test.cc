#include <gtest/gtest.h>

#include <string>

#include "devices/ide/ata_identify.h"

namespace tv::dev::ata {
namespace {

// The string in words [first, first + count) as the host reads it.
std::string ata_string(const IdentifyData& w, unsigned first, unsigned count) {
  std::string s;
  for (unsigned i = 0; i < count; ++i) {
    s += char(w[first + i] >> 8);
    s += char(w[first + i] & 0xFF);
  }
  return s;
}

IdentifyInput disk(uint64_t sectors) {
  IdentifyInput in;
  in.sectors = sectors;
  in.serial = "SN-0042";
  in.current = default_geometry(sectors);
  return in;
}

TEST(IdeIdentify, CapacityInBothAddressFields) {
  IdentifyData w = identify_device(disk(2'000'000));
  EXPECT_EQ(w[60] | uint32_t(w[61]) << 16, 2'000'000u);
  EXPECT_EQ(w[100] | uint32_t(w[101]) << 16, 2'000'000u);
  EXPECT_EQ(w[102], 0u);
  EXPECT_EQ(w[103], 0u);
}

TEST(IdeIdentify, LargeDiskSaturatesLba28AndChs) {
  uint64_t sectors = 0x1'2345'6789ull;  // ~2.3 TiB
  IdentifyData w = identify_device(disk(sectors));
  EXPECT_EQ(w[60], 0xFFFFu);
  EXPECT_EQ(w[61], 0x0FFFu);  // 0x0FFFFFFF: "use words 100-103"
  EXPECT_EQ(w[100], 0x6789u);
  EXPECT_EQ(w[101], 0x2345u);
  EXPECT_EQ(w[102], 0x0001u);
  EXPECT_EQ(w[1], 16383u);  // cylinders
  EXPECT_EQ(w[3], 16u);
  EXPECT_EQ(w[6], 63u);
  EXPECT_EQ(w[57] | uint32_t(w[58]) << 16, 16383u * 16 * 63);
}

TEST(IdeIdentify, FeatureWordsAsLibataReadsThem) {
  IdentifyData w = identify_device(disk(1000));
  EXPECT_EQ(w[0], 0x0040u);            // ATA (bit 15 clear), fixed
  EXPECT_EQ(w[49] & 0x0300, 0x0300u);  // LBA and DMA
  EXPECT_EQ(w[83] & 0xC000, 0x4000u);  // valid
  EXPECT_NE(w[83] & (1 << 10), 0);     // 48-bit addresses
  EXPECT_NE(w[83] & (1 << 12), 0);     // FLUSH CACHE
  EXPECT_NE(w[83] & (1 << 13), 0);     // FLUSH CACHE EXT
  EXPECT_EQ(w[86] & 0x3400, 0x3400u);  // ... enabled
  EXPECT_EQ(w[87] & 0xC000, 0x4000u);
  EXPECT_NE(w[85] & (1 << 5), 0);  // write cache enabled
  EXPECT_EQ(w[82] & ~0x0028, 0);   // nothing claimed beyond write cache and power management
  EXPECT_EQ(w[84], 0x4000u);       // no logging, no SMART self-test, no HPA extension
  EXPECT_EQ(w[53], 0x0007u);
  EXPECT_EQ(w[64], 0x0003u);  // PIO 3-4
  EXPECT_EQ(w[63], 0x0007u);  // MWDMA 0-2, none selected
  EXPECT_EQ(w[88], 0x003Fu);  // UDMA 0-5, none selected
  EXPECT_EQ(w[47], 0x8010u);  // up to 16 sectors per READ/WRITE MULTIPLE block
  EXPECT_EQ(w[59], 0x0100u);  // multiple mode off
  EXPECT_EQ(w[93], 0x600Bu);  // device 0, jumpered, passed, 80-conductor cable
}

TEST(IdeIdentify, CurrentSettingsShow) {
  IdentifyInput in = disk(1000);
  in.multiple = 8;
  in.dma_mode = 0x22;  // MWDMA 2
  in.write_cache = false;
  in.device = 1;
  IdentifyData w = identify_device(in);
  EXPECT_EQ(w[59], 0x0108u);
  EXPECT_EQ(w[63], 0x0407u);
  EXPECT_EQ(w[88], 0x003Fu);
  EXPECT_EQ(w[85] & (1 << 5), 0);
  EXPECT_EQ(w[93], 0x6300u);  // device 1's byte
  in.dma_mode = 0x45;         // UDMA 5
  w = identify_device(in);
  EXPECT_EQ(w[63], 0x0007u);
  EXPECT_EQ(w[88], 0x203Fu);
}

TEST(IdeIdentify, StringsAreSwappedPaddedAndCut) {
  IdentifyInput in = disk(1000);
  in.serial = "AB\x01Z";
  IdentifyData w = identify_device(in);
  EXPECT_EQ(w[10], 0x4142u);  // "AB": the first character in the high byte
  EXPECT_EQ(ata_string(w, 10, 10), "AB Z                ");
  EXPECT_EQ(ata_string(w, 27, 20), "Transvisor ATA disk                     ");
  EXPECT_EQ(ata_string(w, 23, 4), "1.0     ");
  in.serial = "0123456789ABCDEFGHIJKLMN";  // 24 characters: the field holds 20
  w = identify_device(in);
  EXPECT_EQ(ata_string(w, 10, 10), "0123456789ABCDEFGHIJ");
  EXPECT_EQ(w[20], 0u);  // the next field is untouched
}

TEST(IdeIdentify, ChecksumMakesTheBlockSumToZero) {
  for (uint64_t sectors : {1ull, 1000ull, 0x1'2345'6789ull}) {
    IdentifyData w = identify_device(disk(sectors));
    EXPECT_EQ(w[255] & 0xFF, 0xA5u);
    uint8_t sum = 0;
    for (uint16_t word : w) sum = uint8_t(sum + (word & 0xFF) + (word >> 8));
    EXPECT_EQ(sum, 0u) << sectors;
  }
}

TEST(IdeIdentify, Translations) {
  Geometry tiny = default_geometry(1000);
  EXPECT_EQ(tiny.cylinders, 0u);  // less than one 16 x 63 cylinder
  Geometry g = translation(100'000, 4, 17);
  EXPECT_EQ(g.cylinders, 100'000u / 68);
  EXPECT_EQ(g.capacity(), uint64_t(g.cylinders) * 68);
  EXPECT_EQ(translation(1ull << 40, 1, 1).cylinders, 65535u);
  EXPECT_EQ(translation(1000, 16, 0).capacity(), 0u);
}

}  // namespace
}  // namespace tv::dev::ata
