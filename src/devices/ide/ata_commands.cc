// ATA commands of a fixed disk (ATA/ATAPI-6, "Command descriptions", with
// the protocols of its "Protocol" chapter: PIO data-in raises INTRQ as
// each DRQ block becomes ready; PIO data-out asks for the first block
// without an interrupt and raises one after each block is written; DMA
// and non-data commands raise one at the end). Anything not listed in
// execute() is aborted (ABRT), logged once per opcode.
//
// Errors: an address past the end of the disk is IDNF; a write to a
// read-only disk and a failed write or flush are ABRT (UNC is defined for
// reads only); a failed read is UNC. The LBA registers then hold the first
// sector of the failed block. A bad PRD table sets the bus-master Error bit
// and aborts the command with an interrupt, so the host learns at once
// instead of timing out.
//
// The iovec arrays handed to BlockDevice::submit live until the request
// completes (the completion holds them), whether or not the disk copies them.
#include <algorithm>
#include <bit>

#include "base/log.h"
#include "devices/ide/ata.h"
#include "devices/ide/ata_channel.h"

namespace tv::dev {
namespace {

namespace cmd = ata::cmd;
constexpr uint8_t kIdleStatus = ata::kStatusDrdy | ata::kStatusDsc;
constexpr uint8_t kBusyStatus = ata::kStatusBsy | ata::kStatusDrdy;
constexpr uint64_t kSector = ata::kSectorSize;

bool valid_transfer_mode(uint8_t mode) {
  unsigned n = mode & 7;
  switch (mode & 0xF8) {
    case 0x00: return n <= 1;  // PIO default, with or without IORDY
    case ata::kModePio: return n <= ata::kMaxPioMode;
    case ata::kModeMwdma: return n <= ata::kMaxMwdmaMode;
    case ata::kModeUdma: return n <= ata::kMaxUdmaMode;
    default: return false;
  }
}

const char* plan_error(DmaPlan::Result result) {
  switch (result) {
    case DmaPlan::Result::kTableOutsideRam: return "PRD table outside RAM";
    case DmaPlan::Result::kRegionOutsideRam: return "PRD region outside RAM";
    case DmaPlan::Result::kShortTable: return "PRD table shorter than the transfer";
    default: return "PRD table accepted";
  }
}

}  // namespace

void AtaChannel::execute(uint8_t command) {
  if (command == cmd::kExecuteDiagnostic) return diagnostic();  // addressed to both devices
  Drive& d = drives_[selected()];
  if (!d.disk) return;    // device 0 ignores commands for an absent device 1
  d.irq_pending = false;  // writing Command negates INTRQ
  update_irq();
  d.error = 0;
  xfer_ = Transfer{};
  xfer_.drive = selected();
  buffer_pos_ = buffer_len_ = 0;
  if (execute_data_command(command) || execute_control_command(command)) return;
  if (command != cmd::kIdentifyPacket && command != cmd::kDeviceReset &&
      !logged_commands_.test(command)) {
    logged_commands_.set(command);
    log::get("dev.ide")->info("{}: unimplemented: ATA command {:#04x}, aborted (logged once)",
                              name_, command);
  }
  fail(ata::kErrorAbrt);
}

bool AtaChannel::execute_data_command(uint8_t command) {
  switch (command) {
    case cmd::kIdentify: identify(); return true;
    case cmd::kReadSectors:
    case cmd::kReadSectorsNoRetry: start_pio(BlockOp::kRead, false, false); return true;
    case cmd::kReadSectorsExt: start_pio(BlockOp::kRead, true, false); return true;
    case cmd::kReadMultiple: start_pio(BlockOp::kRead, false, true); return true;
    case cmd::kReadMultipleExt: start_pio(BlockOp::kRead, true, true); return true;
    case cmd::kWriteSectors:
    case cmd::kWriteSectorsNoRetry: start_pio(BlockOp::kWrite, false, false); return true;
    case cmd::kWriteSectorsExt: start_pio(BlockOp::kWrite, true, false); return true;
    case cmd::kWriteMultiple: start_pio(BlockOp::kWrite, false, true); return true;
    case cmd::kWriteMultipleExt: start_pio(BlockOp::kWrite, true, true); return true;
    case cmd::kReadDma:
    case cmd::kReadDmaNoRetry: start_dma(BlockOp::kRead, false); return true;
    case cmd::kReadDmaExt: start_dma(BlockOp::kRead, true); return true;
    case cmd::kWriteDma:
    case cmd::kWriteDmaNoRetry: start_dma(BlockOp::kWrite, false); return true;
    case cmd::kWriteDmaExt: start_dma(BlockOp::kWrite, true); return true;
    case cmd::kReadVerify:
    case cmd::kReadVerifyNoRetry: read_verify(false); return true;
    case cmd::kReadVerifyExt: read_verify(true); return true;
    case cmd::kFlushCache:
    case cmd::kFlushCacheExt: flush(); return true;
    default: return false;
  }
}

// Power management: there is no spindle, so standby and idle are accepted
// and the device reports itself active.
bool AtaChannel::execute_control_command(uint8_t command) {
  switch (command) {
    case cmd::kSetFeatures: set_features(); return true;
    case cmd::kSetMultiple: set_multiple(); return true;
    case cmd::kInitializeParameters: initialize_parameters(); return true;
    case cmd::kCheckPowerMode:
    case cmd::kCheckPowerModeOld:
      count_.current = 0xFF;  // active or idle
      complete();
      return true;
    case cmd::kStandbyImmediate:
    case cmd::kIdleImmediate:
    case cmd::kStandby:
    case cmd::kIdle:
    case cmd::kStandbyImmediateOld:
    case cmd::kIdleImmediateOld:
    case cmd::kStandbyOld:
    case cmd::kIdleOld: complete(); return true;
    default: return false;
  }
}

// --- Addresses ------------------------------------------------------------------

// LBA28: Device[3:0], LBA High, Mid, Low; count 0 = 256. LBA48: the
// previous (HOB) contents are bits 47:24 and the count's high byte; count
// 0 = 65536. Fails the command (IDNF) if the range is not on the disk.
bool AtaChannel::decode_range(bool lba48, uint64_t& lba, uint64_t& count) {
  const Drive& d = drives_[xfer_.drive];
  xfer_.lba48 = lba48;
  if (lba48) {
    count = uint64_t(count_.previous) << 8 | count_.current;
    if (count == 0) count = 65536;
    lba = uint64_t(lba_high_.previous) << 40 | uint64_t(lba_mid_.previous) << 32 |
          uint64_t(lba_low_.previous) << 24 | uint64_t(lba_high_.current) << 16 |
          uint64_t(lba_mid_.current) << 8 | lba_low_.current;
  } else {
    count = count_.current ? count_.current : 256;
    if (device_ & ata::kDeviceLba) {
      lba = uint64_t(device_ & 0x0F) << 24 | uint64_t(lba_high_.current) << 16 |
            uint64_t(lba_mid_.current) << 8 | lba_low_.current;
    } else if (!decode_chs(lba)) {
      fail(ata::kErrorIdnf);
      return false;
    }
  }
  if (lba + count > d.sectors) {
    report_error_address(std::max(lba, d.sectors));
    fail(ata::kErrorIdnf);
    return false;
  }
  return true;
}

// CHS through the current translation: sectors count from 1.
bool AtaChannel::decode_chs(uint64_t& lba) {
  const ata::Geometry& g = drives_[xfer_.drive].geometry;
  uint64_t cylinder = uint64_t(lba_high_.current) << 8 | lba_mid_.current;
  uint64_t head = device_ & 0x0F, sector = lba_low_.current;
  if (sector == 0 || sector > g.sectors || head >= g.heads || cylinder >= g.cylinders) return false;
  lba = (cylinder * g.heads + head) * g.sectors + sector - 1;
  return true;
}

// Error outputs: the address of the first sector in error (LBA modes only).
void AtaChannel::report_error_address(uint64_t lba) {
  if (!xfer_.lba48 && !(device_ & ata::kDeviceLba)) return;
  lba_low_.current = uint8_t(lba);
  lba_mid_.current = uint8_t(lba >> 8);
  lba_high_.current = uint8_t(lba >> 16);
  if (xfer_.lba48) {
    lba_low_.previous = uint8_t(lba >> 24);
    lba_mid_.previous = uint8_t(lba >> 32);
    lba_high_.previous = uint8_t(lba >> 40);
  } else {
    device_ = uint8_t((device_ & 0xF0) | ((lba >> 24) & 0x0F));
  }
}

// --- PIO ------------------------------------------------------------------------

void AtaChannel::identify() {
  Drive& d = drives_[xfer_.drive];
  ata::IdentifyInput in;
  in.sectors = d.sectors;
  in.serial = d.disk->serial();
  if (in.serial.empty()) in.serial = name_ + "-" + std::to_string(xfer_.drive);
  in.device = xfer_.drive;
  in.current = d.geometry;
  in.multiple = d.multiple;
  in.dma_mode = d.dma_mode;
  in.write_cache = d.write_cache;
  ata::IdentifyData words = ata::identify_device(in);
  std::vector<uint8_t>& b = *buffer_;
  for (unsigned i = 0; i < words.size(); ++i) {
    b[2 * i] = uint8_t(words[i]);
    b[2 * i + 1] = uint8_t(words[i] >> 8);
  }
  buffer_len_ = ata::kSectorSize;
  xfer_.phase = Phase::kPioIn;
  d.status = kIdleStatus | ata::kStatusDrq;
  raise_irq(xfer_.drive);
}

// What PIO and DMA transfers share: the range from the registers (an
// error status if it is bad), a write to a read-only disk aborted, the
// transfer state set. False if the command ended there.
bool AtaChannel::begin_transfer(BlockOp op, bool lba48) {
  uint64_t lba = 0, count = 0;
  if (!decode_range(lba48, lba, count)) return false;
  if (op == BlockOp::kWrite && drives_[xfer_.drive].disk->read_only()) {
    fail(ata::kErrorAbrt);
    return false;
  }
  xfer_.op = op;
  xfer_.lba = lba;
  xfer_.remaining = count;
  return true;
}

void AtaChannel::start_pio(BlockOp op, bool lba48, bool multiple) {
  Drive& d = drives_[xfer_.drive];
  // READ/WRITE MULTIPLE before SET MULTIPLE MODE enabled them: aborted.
  if (multiple && d.multiple == 0) return fail(ata::kErrorAbrt);
  if (!begin_transfer(op, lba48)) return;
  xfer_.block = multiple ? d.multiple : 1;
  if (op == BlockOp::kRead)
    read_block();
  else
    request_block();
}

void AtaChannel::read_block() {
  Drive& d = drives_[xfer_.drive];
  xfer_.chunk = unsigned(std::min<uint64_t>(xfer_.block, xfer_.remaining));
  xfer_.phase = Phase::kBusy;
  d.status = kBusyStatus;
  uint64_t bytes = xfer_.chunk * kSector;
  auto buffer = buffer_;
  auto iov = std::make_shared<iovec>(iovec{buffer->data(), bytes});
  d.disk->submit(BlockOp::kRead, xfer_.lba * kSector, bytes, {iov.get(), 1},
                 guarded([this, buffer, iov, bytes](BlockStatus status) {
                   if (status != BlockStatus::kOk) return fail_request(status);
                   buffer_pos_ = 0;
                   buffer_len_ = unsigned(bytes);
                   xfer_.phase = Phase::kPioIn;
                   drives_[xfer_.drive].status = kIdleStatus | ata::kStatusDrq;
                   raise_irq(xfer_.drive);
                 }));
}

// The host has read the whole block: the next one, or the end of the command.
void AtaChannel::pio_in_drained() {
  xfer_.lba += xfer_.chunk;
  xfer_.remaining -= xfer_.chunk;
  if (xfer_.remaining > 0) return read_block();
  xfer_.phase = Phase::kIdle;
  drives_[xfer_.drive].status = kIdleStatus;
}

void AtaChannel::request_block() {
  xfer_.chunk = unsigned(std::min<uint64_t>(xfer_.block, xfer_.remaining));
  buffer_pos_ = 0;
  buffer_len_ = unsigned(xfer_.chunk * kSector);
  xfer_.phase = Phase::kPioOut;
  drives_[xfer_.drive].status = kIdleStatus | ata::kStatusDrq;
}

// The host has filled the block.
void AtaChannel::write_block() {
  Drive& d = drives_[xfer_.drive];
  xfer_.phase = Phase::kBusy;
  d.status = kBusyStatus;
  auto buffer = buffer_;
  auto iov = std::make_shared<iovec>(iovec{buffer->data(), buffer_len_});
  d.disk->submit(BlockOp::kWrite, xfer_.lba * kSector, buffer_len_, {iov.get(), 1},
                 guarded([this, buffer, iov](BlockStatus status) {
                   durable(status, [this](BlockStatus status) {
                     if (status != BlockStatus::kOk) return fail_request(status);
                     xfer_.lba += xfer_.chunk;
                     xfer_.remaining -= xfer_.chunk;
                     if (xfer_.remaining == 0) return complete();
                     request_block();
                     raise_irq(xfer_.drive);
                   });
                 }));
}

// --- DMA ------------------------------------------------------------------------

void AtaChannel::start_dma(BlockOp op, bool lba48) {
  if (!begin_transfer(op, lba48)) return;
  xfer_.phase = Phase::kDmaWait;
  drives_[xfer_.drive].status = kBusyStatus;
  run_dma();
}

// Runs once both the drive has its DMA command and the engine is started.
void AtaChannel::run_dma() {
  if (!bus_master_.active() || !bus_master_allowed_) return;
  bool to_memory = xfer_.op == BlockOp::kRead;
  if (bus_master_.to_memory() != to_memory)
    guest_error("set the bus-master direction against the DMA command; the command wins");
  uint64_t bytes = xfer_.remaining * kSector;
  auto plan = std::make_shared<DmaPlan>(bus_master_.map(dma_, bytes));
  if (plan->result != DmaPlan::Result::kOk) {
    guest_error(std::string("DMA with a bad table: ") + plan_error(plan->result));
    bus_master_.fail();
    return fail(ata::kErrorAbrt);
  }
  xfer_.phase = Phase::kBusy;
  std::weak_ptr<char> alive = alive_;
  uint64_t generation = generation_;
  auto done = [this, alive, generation, plan, to_memory](BlockStatus status) {
    if (alive.expired()) return;
    // Even for a request a reset abandoned: the bytes are in RAM now.
    if (to_memory)
      for (const DmaPlan::Region& r : plan->regions) dma_.written(r.addr, r.length);
    if (generation == generation_) dma_done(*plan, status);
  };
  drives_[xfer_.drive].disk->submit(xfer_.op, xfer_.lba * kSector, bytes, plan->buffers, done);
}

void AtaChannel::dma_done(const DmaPlan& plan, BlockStatus status) {
  bus_master_.finish(plan.table_done);
  durable(status, [this](BlockStatus status) {
    if (status != BlockStatus::kOk) return fail_request(status);
    xfer_.lba += xfer_.remaining;
    xfer_.remaining = 0;
    complete();
  });
}

// --- Non-data commands ----------------------------------------------------------

void AtaChannel::flush() {
  Drive& d = drives_[xfer_.drive];
  if (d.disk->read_only()) return complete();  // nothing can be dirty
  xfer_.op = BlockOp::kFlush;
  xfer_.phase = Phase::kBusy;
  d.status = kBusyStatus;
  d.disk->submit(BlockOp::kFlush, 0, 0, {}, guarded([this](BlockStatus status) {
                   if (status != BlockStatus::kOk) return fail(ata::kErrorAbrt);
                   complete();
                 }));
}

void AtaChannel::set_features() {
  Drive& d = drives_[xfer_.drive];
  uint8_t feature = features_.current;
  switch (feature) {
    case ata::feature::kEnableWriteCache: d.write_cache = true; break;
    case ata::feature::kDisableWriteCache:
      d.write_cache = false;
      return flush();  // what the cache held becomes durable too
    case ata::feature::kSetTransferMode: {
      uint8_t mode = count_.current;
      if (!valid_transfer_mode(mode)) return fail(ata::kErrorAbrt);
      if (mode >= ata::kModeMwdma) d.dma_mode = mode;
      break;
    }
    case ata::feature::kEnableLookAhead:
    case ata::feature::kDisableLookAhead:
    case ata::feature::kEnableRevert:
    case ata::feature::kDisableRevert: break;
    default:
      log::get("dev.ide")->info("{}: unimplemented: SET FEATURES {:#04x}, aborted", name_, feature);
      return fail(ata::kErrorAbrt);
  }
  complete();
}

// SET MULTIPLE MODE: a power of two up to IDENTIFY word 47, or 0 to disable.
void AtaChannel::set_multiple() {
  unsigned n = count_.current;
  if (n != 0 && (n > ata::kMaxMultiple || !std::has_single_bit(n))) return fail(ata::kErrorAbrt);
  drives_[xfer_.drive].multiple = n;
  complete();
}

// INITIALIZE DEVICE PARAMETERS: heads - 1 in Device[3:0], sectors per track in the count.
void AtaChannel::initialize_parameters() {
  Drive& d = drives_[xfer_.drive];
  uint32_t heads = (device_ & 0x0F) + 1u, sectors = count_.current;
  if (sectors == 0) return fail(ata::kErrorAbrt);
  d.geometry = ata::translation(d.sectors, heads, sectors);
  complete();
}

// READ VERIFY SECTORS: the image has no media to check; only the range.
void AtaChannel::read_verify(bool lba48) {
  uint64_t lba = 0, count = 0;
  if (decode_range(lba48, lba, count)) complete();
}

// EXECUTE DEVICE DIAGNOSTIC: both devices pass and show the signature;
// device 0 (or the only device) interrupts.
void AtaChannel::diagnostic() {
  if (!any_device()) return;
  xfer_ = Transfer{};
  for (Drive& d : drives_) {
    if (!d.disk) continue;
    d.status = kIdleStatus;
    d.error = ata::kDiagnosticPassed;
    d.irq_pending = false;
  }
  set_signature();
  raise_irq(drives_[0].disk ? 0 : 1);
}

// --- Endings --------------------------------------------------------------------

void AtaChannel::complete() {
  xfer_.phase = Phase::kIdle;
  drives_[xfer_.drive].status = kIdleStatus;
  raise_irq(xfer_.drive);
}

void AtaChannel::fail(uint8_t error) {
  Drive& d = drives_[xfer_.drive];
  xfer_.phase = Phase::kIdle;
  buffer_len_ = 0;
  d.error = error;
  d.status = kIdleStatus | ata::kStatusErr;
  raise_irq(xfer_.drive);
}

void AtaChannel::fail_request(BlockStatus status) {
  uint8_t error = ata::kErrorAbrt;
  if (status == BlockStatus::kOutOfRange)
    error = ata::kErrorIdnf;
  else if (status == BlockStatus::kIoError && xfer_.op == BlockOp::kRead)
    error = ata::kErrorUnc;
  report_error_address(xfer_.lba);
  fail(error);
}

BlockDevice::Done AtaChannel::guarded(std::function<void(BlockStatus)> then) {
  return [this, alive = std::weak_ptr<char>(alive_), generation = generation_,
          then = std::move(then)](BlockStatus status) {
    if (alive.expired() || generation != generation_) return;
    then(status);
  };
}

// With the write cache disabled (SET FEATURES 82h) a write completes only
// once it is durable: a flush follows it.
void AtaChannel::durable(BlockStatus status, std::function<void(BlockStatus)> then) {
  const Drive& d = drives_[xfer_.drive];
  if (status != BlockStatus::kOk || d.write_cache || xfer_.op != BlockOp::kWrite)
    return then(status);
  d.disk->submit(BlockOp::kFlush, 0, 0, {}, guarded(std::move(then)));
}

}  // namespace tv::dev
