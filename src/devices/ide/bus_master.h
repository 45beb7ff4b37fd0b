// One channel's bus-master IDE registers (SFF-8038i rev 1.0, "Bus Master
// IDE Register Description"; the PIIX3 datasheet's BMICOM, BMISTA and
// BMIDTP): command, status and the physical region descriptor (PRD) table
// pointer, 8 bytes of the function's BAR4. The engine itself is
// map(): it turns the PRD table into host buffers through DmaSpace, so a
// table or region the guest made up cannot reach outside RAM.
//
// The ATA side (ata_channel.cc) decides when a transfer runs: once the
// drive has a DMA command and the start bit is set, whichever came first.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "devices/dma.h"

namespace tv::dev {

// A mapped transfer: where each piece of it lives in guest RAM and on the host.
struct DmaPlan {
  enum class Result : uint8_t {
    kOk,
    kTableOutsideRam,   // an entry of the PRD table is not in RAM
    kRegionOutsideRam,  // a region an entry names is not in RAM
    kShortTable,        // the regions up to EOT (or 8192 entries) hold less than the transfer
  };
  struct Region {
    uint64_t addr;
    uint64_t length;
  };
  Result result = Result::kOk;
  std::vector<iovec> buffers;
  std::vector<Region> regions;
  // The transfer ends exactly at the end of the EOT region: the engine has
  // run through its table and clears Active (SFF-8038i, status bit 0).
  bool table_done = false;
};

class BusMaster {
 public:
  static constexpr unsigned kRegisterLength = 8;
  // The PRD table lives in one 64 KiB block (SFF-8038i): at most 8192 entries.
  static constexpr unsigned kMaxEntries = 8192;

  // Command register.
  static constexpr uint8_t kCommandStart = 0x01;
  static constexpr uint8_t kCommandToMemory = 0x08;  // "read/write control": 1 = device to RAM
  // Status register.
  static constexpr uint8_t kStatusActive = 0x01;
  static constexpr uint8_t kStatusError = 0x02;
  static constexpr uint8_t kStatusInterrupt = 0x04;
  static constexpr uint8_t kStatusDrive0Dma = 0x20;  // set by firmware: drive 0 is DMA capable
  static constexpr uint8_t kStatusDrive1Dma = 0x40;
  // bit 7 (simplex only) is 0: both channels may run at once.

  // Byte-wide register access at offset 0-7 (command, -, status, -, PRD
  // pointer bytes 0-3). write() returns true if it set the start bit.
  uint8_t read(unsigned offset) const;
  bool write(unsigned offset, uint8_t value);

  bool active() const { return status_ & kStatusActive; }
  bool to_memory() const { return command_ & kCommandToMemory; }
  uint8_t status() const { return status_; }

  // The drive raised INTRQ (SFF-8038i: the bit latches the interrupt line).
  void interrupt() { status_ |= kStatusInterrupt; }
  // A bus error (the PRD table, a region or the table's length is bad):
  // Error set, Active cleared.
  void fail() { status_ = uint8_t((status_ | kStatusError) & ~kStatusActive); }
  // The drive finished its transfer.
  void finish(bool table_done) {
    if (table_done) status_ &= ~kStatusActive;
  }
  // Maps `bytes` of transfer onto the regions of the PRD table.
  DmaPlan map(DmaSpace& dma, uint64_t bytes) const;

 private:
  uint8_t command_ = 0;
  uint8_t status_ = 0;
  uint32_t table_ = 0;  // PRD table address; bits 1:0 read as 0
};

}  // namespace tv::dev
