// One ATA channel (a cable with device 0 and device 1 positions) as the
// host sees its registers (ATA/ATAPI-6): the command block (data port,
// task file, status/command), the control block (alternate status, device
// control) and, for DMA, the channel's bus-master engine (bus_master.h).
//
// Constraints that shape it:
// - Disk requests are asynchronous (BlockDevice::submit); the drive keeps
//   BSY set until the completion arrives on the vCPU thread, then raises
//   DRQ and/or its interrupt. A software reset abandons a request in
//   flight: its completion is recognised by a generation number and
//   dropped (a DMA read still reports the RAM it wrote).
// - PIO data goes through one DRQ block (up to 16 sectors) buffered here;
//   DMA hands guest RAM (DmaSpace::host) straight to the disk.
// - Writes go to both devices' registers, as on the cable, so the task
//   file is the channel's; status, error and settings are per device.
// - INTRQ is a level on `irq` of `irqs` (ISA IRQ 14/15 in compatibility
//   mode, where the 8259A makes the edge): asserted while the selected
//   device has an interrupt pending and nIEN is clear.
//
// Guest mistakes (a command while BSY, a data access without DRQ) are
// logged rate-limited and otherwise ignored, as a drive would.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devices/block.h"
#include "devices/device.h"
#include "devices/dma.h"
#include "devices/ide/ata_identify.h"
#include "devices/ide/bus_master.h"

namespace tv::dev {

class AtaChannel {
 public:
  // `irqs` may be null (not wired); either drive may be null (absent).
  AtaChannel(std::string name, DmaSpace& dma, IrqSink* irqs, unsigned irq,
             std::shared_ptr<BlockDevice> device0, std::shared_ptr<BlockDevice> device1);
  AtaChannel(const AtaChannel&) = delete;
  AtaChannel& operator=(const AtaChannel&) = delete;

  // Command block registers at offset 0-7. The data port (offset 0) moves
  // one 16-bit word per 2-byte access, two per 4-byte access (the PIIX
  // splits 32-bit PIO into two IDE cycles); a 1-byte access moves a word
  // and keeps its low byte. Other registers are 8 bits wide.
  uint64_t read_command_block(unsigned offset, unsigned size);
  void write_command_block(unsigned offset, unsigned size, uint64_t value);

  // Control block: the alternate status (no side effects) and device control.
  uint8_t read_alternate_status() const;
  void write_device_control(uint8_t value);

  // Bus-master registers (offset 0-7). `bus_master_enabled` is the PCI
  // command register's bus master bit: without it a start moves no data.
  uint8_t read_bus_master(unsigned offset) const { return bus_master_.read(offset); }
  void write_bus_master(unsigned offset, uint8_t value, bool bus_master_enabled);

  bool has_device(unsigned device) const { return drives_[device & 1].disk != nullptr; }
  bool irq_level() const { return line_; }

 private:
  static constexpr unsigned kBufferSize = 16 * 512;  // the largest READ/WRITE MULTIPLE block

  struct Drive {
    std::shared_ptr<BlockDevice> disk;
    uint64_t sectors = 0;
    uint8_t status = 0;
    uint8_t error = 0;
    bool irq_pending = false;
    unsigned multiple = 0;  // sectors per DRQ block of READ/WRITE MULTIPLE, 0 = disabled
    ata::Geometry geometry;
    uint8_t dma_mode = 0;
    bool write_cache = true;
  };

  // A task file register with the 48-bit feature set's two-deep FIFO:
  // each write moves the current value to `previous` (read with HOB set).
  struct Shadowed {
    uint8_t current = 0;
    uint8_t previous = 0;
    void write(uint8_t v) { previous = current, current = v; }
    uint8_t read(bool hob) const { return hob ? previous : current; }
  };

  enum class Phase : uint8_t {
    kIdle,
    kPioIn,    // DRQ: the host reads the buffer
    kPioOut,   // DRQ: the host fills the buffer
    kDmaWait,  // a DMA command waits for the bus-master start bit
    kBusy,     // a disk request is in flight
  };

  // The command in progress (data commands only).
  struct Transfer {
    Phase phase = Phase::kIdle;
    unsigned drive = 0;
    BlockOp op = BlockOp::kRead;
    bool lba48 = false;
    uint64_t lba = 0;        // next sector to transfer
    uint64_t remaining = 0;  // sectors left, the current block included
    unsigned block = 1;      // sectors per DRQ block
    unsigned chunk = 0;      // sectors in the current DRQ block
  };

  // --- Registers and interrupts (ata_channel.cc) -------------------------
  uint8_t read_register(unsigned offset);
  void write_register(unsigned offset, uint8_t value);
  uint8_t read_status();
  bool any_device() const { return drives_[0].disk || drives_[1].disk; }
  unsigned selected() const;
  const Drive* responder() const;
  bool busy() const;
  void raise_irq(unsigned drive);
  void update_irq();
  uint16_t read_data_word();
  void write_data_word(uint16_t word);
  void begin_reset();
  void end_reset();
  void set_signature();
  void guest_error(const std::string& what);

  // --- Commands (ata_commands.cc) ----------------------------------------
  void execute(uint8_t command);
  bool execute_data_command(uint8_t command);
  bool execute_control_command(uint8_t command);
  bool decode_range(bool lba48, uint64_t& lba, uint64_t& count);
  bool decode_chs(uint64_t& lba);
  void report_error_address(uint64_t lba);
  void identify();
  bool begin_transfer(BlockOp op, bool lba48);
  void start_pio(BlockOp op, bool lba48, bool multiple);
  void read_block();
  void request_block();
  void write_block();
  void pio_in_drained();
  void start_dma(BlockOp op, bool lba48);
  void run_dma();
  void dma_done(const DmaPlan& plan, BlockStatus status);
  void flush();
  void set_features();
  void set_multiple();
  void initialize_parameters();
  void read_verify(bool lba48);
  void diagnostic();
  void complete();
  void fail(uint8_t error);
  void fail_request(BlockStatus status);
  BlockDevice::Done guarded(std::function<void(BlockStatus)> then);
  void durable(BlockStatus status, std::function<void(BlockStatus)> then);

  std::string name_;
  DmaSpace& dma_;
  IrqSink* irqs_;
  unsigned irq_;
  std::array<Drive, 2> drives_;

  Shadowed features_, count_, lba_low_, lba_mid_, lba_high_;
  uint8_t device_ = 0;
  uint8_t control_ = 0;
  bool line_ = false;

  Transfer xfer_;
  std::shared_ptr<std::vector<uint8_t>> buffer_;
  unsigned buffer_pos_ = 0;
  unsigned buffer_len_ = 0;
  uint64_t generation_ = 0;  // bumped by reset: completions of older requests are dropped

  BusMaster bus_master_;
  bool bus_master_allowed_ = false;  // the bus master bit as it was at the last start

  // Completions hold a weak reference, so one arriving after the channel
  // is gone does nothing.
  std::shared_ptr<char> alive_ = std::make_shared<char>();

  unsigned guest_errors_logged_ = 0;
  std::bitset<256> logged_commands_;
};

}  // namespace tv::dev
