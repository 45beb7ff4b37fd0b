// The IDENTIFY DEVICE data of a fixed ATA disk (ATA/ATAPI-6, IDENTIFY
// DEVICE, Table 27): 256 words built from the drive's size, identity and
// current settings. The words claim what ata_channel.cc implements and no
// more (LBA, LBA48, READ/WRITE MULTIPLE, DMA, write cache with FLUSH CACHE
// and its EXT form, power management), because Linux's libata sends every
// command whose support bit it sees (HPA, SMART and logging are left out).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tv::dev::ata {

// A CHS translation: what INITIALIZE DEVICE PARAMETERS sets.
struct Geometry {
  uint32_t cylinders = 0;
  uint32_t heads = 0;
  uint32_t sectors = 0;  // per track
  uint64_t capacity() const { return uint64_t(cylinders) * heads * sectors; }
};

// The power-on translation: 16 heads, 63 sectors, at most 16383 cylinders
// (the ATA-6 recommendation for devices over 8 GB).
Geometry default_geometry(uint64_t sectors);
// The translation for `heads` x `sectors_per_track` (cylinders capped at
// 65535); all zero if either is 0.
Geometry translation(uint64_t sectors, uint32_t heads, uint32_t sectors_per_track);

struct IdentifyInput {
  uint64_t sectors = 0;     // capacity in 512-byte sectors
  std::string serial;       // up to 20 characters; others are cut, unprintable ones replaced
  unsigned device = 0;      // 0 = master, 1 = slave (word 93)
  Geometry current;         // words 54-58
  unsigned multiple = 0;    // current READ/WRITE MULTIPLE block, 0 = disabled (word 59)
  uint8_t dma_mode = 0;     // SET FEATURES 03h value of the selected DMA mode, 0 = none
  bool write_cache = true;  // enabled (word 85)
};

using IdentifyData = std::array<uint16_t, 256>;

IdentifyData identify_device(const IdentifyInput& in);

// An ATA string field (serial, firmware, model): two characters per word,
// the first in the high byte, padded with spaces.
void put_ata_string(IdentifyData& words, unsigned first_word, unsigned word_count,
                    const std::string& text);

}  // namespace tv::dev::ata
