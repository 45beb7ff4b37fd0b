// IDENTIFY DEVICE words (ATA/ATAPI-6, IDENTIFY DEVICE, Table 27; "word N"
// below). Transfer modes: PIO 0-4, multiword DMA 0-2 and Ultra DMA 0-5 are
// offered; the host picks. Linux's ata_piix limits a PIIX3 (8086:7010) to
// multiword DMA 1-2 and a PIIX4 to UDMA/33 whatever the drive offers, and
// trusts word 93 bit 13 (80-conductor cable) only on ICH parts.
#include "devices/ide/ata_identify.h"

#include <algorithm>

#include "devices/ide/ata.h"

namespace tv::dev::ata {
namespace {

constexpr const char* kModel = "Transvisor ATA disk";
constexpr const char* kFirmware = "1.0";

constexpr uint64_t kLba28Max = 0x0FFFFFFF;  // words 60-61 saturate here
constexpr uint32_t kDefaultHeads = 16, kDefaultSectors = 63;
constexpr uint32_t kMaxDefaultCylinders = 16383;

constexpr uint16_t kValid = 1 << 14;  // words 83, 84, 87: bits 15:14 = 01b

// Words 82/85 (command sets supported/enabled): write cache, power management.
constexpr uint16_t kSetWriteCache = 1 << 5, kSetPowerManagement = 1 << 3;
// Words 83/86: FLUSH CACHE EXT, FLUSH CACHE, 48-bit address.
constexpr uint16_t kSetFlushExt = 1 << 13, kSetFlush = 1 << 12, kSetLba48 = 1 << 10;

std::string printable(const std::string& s, size_t max) {
  std::string out = s.substr(0, std::min(s.size(), max));
  for (char& c : out)
    if (c < 0x20 || c > 0x7E) c = ' ';
  return out;
}

void put_u32(IdentifyData& w, unsigned word, uint32_t value) {
  w[word] = uint16_t(value);
  w[word + 1] = uint16_t(value >> 16);
}

// Words 63 and 88: supported modes in the low byte, the selected one in the high byte.
uint16_t dma_modes(uint8_t selected, uint8_t mode_class, unsigned max_mode) {
  uint16_t word = uint16_t((1u << (max_mode + 1)) - 1);
  if ((selected & 0xF8) == mode_class && (selected & 7) <= max_mode)
    word |= uint16_t(1u << (8 + (selected & 7)));
  return word;
}

// Word 93, hardware reset result: bit 14 set, bit 13 = 80-conductor cable
// detected, and the reporting device's byte: device number set by jumper
// (01b), and for device 0 "passed diagnostics".
uint16_t reset_result(unsigned device) {
  uint16_t word = kValid | 1 << 13;
  return device == 0 ? word | 0x000B : word | 0x0300;
}

void put_geometry(IdentifyData& w, uint64_t sectors, const Geometry& current) {
  Geometry def = default_geometry(sectors);
  w[1] = uint16_t(def.cylinders);
  w[3] = uint16_t(def.heads);
  w[6] = uint16_t(def.sectors);
  w[54] = uint16_t(current.cylinders);
  w[55] = uint16_t(current.heads);
  w[56] = uint16_t(current.sectors);
  put_u32(w, 57, uint32_t(std::min<uint64_t>(current.capacity(), 0xFFFFFFFF)));
}

void put_capacity(IdentifyData& w, uint64_t sectors) {
  put_u32(w, 60, uint32_t(std::min(sectors, kLba28Max)));
  for (unsigned i = 0; i < 4; ++i) w[100 + i] = uint16_t(sectors >> (16 * i));
}

void put_features(IdentifyData& w, const IdentifyInput& in) {
  w[80] = 0x007E;  // major version: ATA-1 to ATA/ATAPI-6
  w[82] = kSetWriteCache | kSetPowerManagement;
  w[83] = kValid | kSetFlushExt | kSetFlush | kSetLba48;
  w[84] = kValid;
  w[85] = uint16_t((in.write_cache ? kSetWriteCache : 0) | kSetPowerManagement);
  w[86] = kSetFlushExt | kSetFlush | kSetLba48;
  w[87] = kValid;
}

void put_transfer_modes(IdentifyData& w, const IdentifyInput& in) {
  w[47] = uint16_t(0x8000 | kMaxMultiple);
  w[49] = 1 << 11 | 1 << 9 | 1 << 8;  // IORDY supported, LBA, DMA
  w[50] = kValid;
  w[51] = 0x0200;  // PIO mode 2 timing (obsolete field, read by old hosts)
  w[53] = 0x0007;  // words 54-58, 64-70 and 88 are valid
  w[59] = uint16_t(0x0100 | (in.multiple & 0xFF));
  w[63] = dma_modes(in.dma_mode, kModeMwdma, kMaxMwdmaMode);
  w[64] = 0x0003;       // PIO modes 3 and 4
  w[65] = w[66] = 120;  // multiword DMA cycle times, ns (mode 2)
  w[67] = w[68] = 120;  // PIO cycle times, ns (mode 4)
  w[88] = dma_modes(in.dma_mode, kModeUdma, kMaxUdmaMode);
  w[93] = reset_result(in.device);
}

// Word 255: signature A5h, and a checksum byte that makes all 512 bytes
// sum to 0 modulo 256.
void put_integrity(IdentifyData& w) {
  w[255] = 0x00A5;
  uint8_t sum = 0;
  for (uint16_t word : w) sum = uint8_t(sum + (word & 0xFF) + (word >> 8));
  w[255] = uint16_t(uint8_t(-sum) << 8 | 0xA5);
}

}  // namespace

Geometry default_geometry(uint64_t sectors) {
  Geometry g{0, kDefaultHeads, kDefaultSectors};
  g.cylinders = uint32_t(
      std::min<uint64_t>(sectors / (kDefaultHeads * kDefaultSectors), kMaxDefaultCylinders));
  return g;
}

Geometry translation(uint64_t sectors, uint32_t heads, uint32_t sectors_per_track) {
  if (heads == 0 || sectors_per_track == 0) return Geometry{};
  uint64_t cylinders = std::min<uint64_t>(sectors / (uint64_t(heads) * sectors_per_track), 65535);
  return Geometry{uint32_t(cylinders), heads, sectors_per_track};
}

void put_ata_string(IdentifyData& words, unsigned first_word, unsigned word_count,
                    const std::string& text) {
  std::string s = printable(text, 2 * word_count);
  s.resize(2 * word_count, ' ');
  for (unsigned i = 0; i < word_count; ++i)
    words[first_word + i] = uint16_t(uint8_t(s[2 * i]) << 8 | uint8_t(s[2 * i + 1]));
}

IdentifyData identify_device(const IdentifyInput& in) {
  IdentifyData w{};
  w[0] = 0x0040;  // ATA device, fixed (non-removable)
  put_geometry(w, in.sectors, in.current);
  put_ata_string(w, 10, 10, in.serial);
  put_ata_string(w, 23, 4, kFirmware);
  put_ata_string(w, 27, 20, kModel);
  put_transfer_modes(w, in);
  put_capacity(w, in.sectors);
  put_features(w, in);
  put_integrity(w);
  return w;
}

}  // namespace tv::dev::ata
