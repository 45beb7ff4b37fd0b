// The register side of an ATA channel (ATA/ATAPI-6, "Register
// descriptions"; "Device 0 only configurations" for an absent device 1):
// task file reads and writes, selection, the data port, interrupts and
// software reset. The commands are in ata_commands.cc.
//
// Power-on settings: multiple mode on with 16-sector blocks (vendor
// specific in ATA/ATAPI-6; many drives and QEMU's do this, and xv6-style
// kernels issue READ MULTIPLE without SET MULTIPLE MODE), write cache on,
// no DMA mode selected.
//
// Absent devices: with device 0 present and device 1 absent, device 0
// answers for device 1 except that Status and Alternate Status read 00h
// (libata's probe takes an ATA signature with status 00h as "no device");
// the symmetric case is handled the same way. A channel with no device at
// all reads 0xFF everywhere (floating bus), which libata also reads as
// empty.
#include "devices/ide/ata_channel.h"

#include "base/log.h"
#include "devices/ide/ata.h"

namespace tv::dev {
namespace {

constexpr unsigned kGuestErrorsLogged = 16;
constexpr uint8_t kFloating = 0xFF;
constexpr uint8_t kIdleStatus = ata::kStatusDrdy | ata::kStatusDsc;

}  // namespace

AtaChannel::AtaChannel(std::string name, DmaSpace& dma, IrqSink* irqs, unsigned irq,
                       std::shared_ptr<BlockDevice> device0, std::shared_ptr<BlockDevice> device1)
    : name_(std::move(name)),
      dma_(dma),
      irqs_(irqs),
      irq_(irq),
      buffer_(std::make_shared<std::vector<uint8_t>>(kBufferSize)) {
  drives_[0].disk = std::move(device0);
  drives_[1].disk = std::move(device1);
  for (Drive& d : drives_) {
    if (!d.disk) continue;
    d.sectors = d.disk->size_bytes() / ata::kSectorSize;
    d.geometry = ata::default_geometry(d.sectors);
    d.multiple = ata::kMaxMultiple;
    d.status = kIdleStatus;
    d.error = ata::kDiagnosticPassed;
  }
  set_signature();
}

// --- Command block -----------------------------------------------------------

uint64_t AtaChannel::read_command_block(unsigned offset, unsigned size) {
  if (offset == ata::kRegData) {
    uint64_t value = read_data_word();
    if (size == 4) value |= uint64_t(read_data_word()) << 16;
    return size == 1 ? value & 0xFF : value;
  }
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint8_t byte = offset + i < ata::kCommandBlockLength ? read_register(offset + i) : kFloating;
    value |= uint64_t(byte) << (8 * i);
  }
  return value;
}

void AtaChannel::write_command_block(unsigned offset, unsigned size, uint64_t value) {
  if (offset == ata::kRegData) {
    write_data_word(uint16_t(size == 1 ? value & 0xFF : value));
    if (size == 4) write_data_word(uint16_t(value >> 16));
    return;
  }
  for (unsigned i = 0; i < size && offset + i < ata::kCommandBlockLength; ++i)
    write_register(offset + i, uint8_t(value >> (8 * i)));
}

uint8_t AtaChannel::read_register(unsigned offset) {
  if (!any_device()) return kFloating;
  bool hob = control_ & ata::kControlHob;
  switch (offset) {
    case ata::kRegError: return responder()->error;
    case ata::kRegCount: return count_.read(hob);
    case ata::kRegLbaLow: return lba_low_.read(hob);
    case ata::kRegLbaMid: return lba_mid_.read(hob);
    case ata::kRegLbaHigh: return lba_high_.read(hob);
    case ata::kRegDevice: return device_;
    case ata::kRegStatus: return read_status();
    default: return kFloating;
  }
}

// A write to any command block register clears HOB (Device Control
// register). The host must not write them while BSY is set; a drive
// ignores such writes.
void AtaChannel::write_register(unsigned offset, uint8_t value) {
  if (busy()) {
    guest_error("register write while the device is busy; ignored");
    return;
  }
  control_ &= ~ata::kControlHob;
  switch (offset) {
    case ata::kRegError: features_.write(value); return;
    case ata::kRegCount: count_.write(value); return;
    case ata::kRegLbaLow: lba_low_.write(value); return;
    case ata::kRegLbaMid: lba_mid_.write(value); return;
    case ata::kRegLbaHigh: lba_high_.write(value); return;
    case ata::kRegDevice:
      device_ = value;
      update_irq();  // INTRQ follows the selected device
      return;
    case ata::kRegStatus: execute(value); return;
    default: return;
  }
}

unsigned AtaChannel::selected() const { return (device_ & ata::kDeviceDev) ? 1 : 0; }

// The device that drives the bus for the selected position.
const AtaChannel::Drive* AtaChannel::responder() const {
  const Drive& d = drives_[selected()];
  return d.disk ? &d : &drives_[selected() ^ 1];
}

bool AtaChannel::busy() const { return (drives_[0].status | drives_[1].status) & ata::kStatusBsy; }

// Reading Status acknowledges the selected device's interrupt (Status register).
uint8_t AtaChannel::read_status() {
  Drive& d = drives_[selected()];
  if (!d.disk) return 0;
  if (d.irq_pending) {
    d.irq_pending = false;
    update_irq();
  }
  return d.status;
}

uint8_t AtaChannel::read_alternate_status() const {
  if (!any_device()) return kFloating;
  const Drive& d = drives_[selected()];
  return d.disk ? d.status : 0;
}

// --- Interrupts ----------------------------------------------------------------

void AtaChannel::raise_irq(unsigned drive) {
  drives_[drive].irq_pending = true;
  update_irq();
}

// Only the selected device drives INTRQ, and not while nIEN is set. The
// bus master's interrupt bit latches each assertion (SFF-8038i, status bit 2).
void AtaChannel::update_irq() {
  const Drive& d = drives_[selected()];
  bool level = d.disk && d.irq_pending && !(control_ & ata::kControlNien);
  if (level == line_) return;
  line_ = level;
  if (level) bus_master_.interrupt();
  if (irqs_) irqs_->set_irq(irq_, level);
}

// --- Data port -------------------------------------------------------------------

uint16_t AtaChannel::read_data_word() {
  if (xfer_.phase != Phase::kPioIn) {
    if (any_device()) guest_error("data port read without DRQ");
    return 0xFFFF;
  }
  const std::vector<uint8_t>& b = *buffer_;
  uint16_t word = uint16_t(b[buffer_pos_] | b[buffer_pos_ + 1] << 8);
  buffer_pos_ += 2;
  if (buffer_pos_ >= buffer_len_) pio_in_drained();
  return word;
}

void AtaChannel::write_data_word(uint16_t word) {
  if (xfer_.phase != Phase::kPioOut) {
    if (any_device()) guest_error("data port write without DRQ; dropped");
    return;
  }
  std::vector<uint8_t>& b = *buffer_;
  b[buffer_pos_] = uint8_t(word);
  b[buffer_pos_ + 1] = uint8_t(word >> 8);
  buffer_pos_ += 2;
  if (buffer_pos_ >= buffer_len_) write_block();
}

// --- Device control and software reset -----------------------------------------

// SRST (Device Control register): both devices go BSY while it is set and
// come out of reset with the signature when it is cleared.
void AtaChannel::write_device_control(uint8_t value) {
  bool was_reset = control_ & ata::kControlSrst;
  control_ = value;
  bool reset = value & ata::kControlSrst;
  if (reset && !was_reset) begin_reset();
  if (!reset && was_reset) end_reset();
  update_irq();
}

void AtaChannel::begin_reset() {
  ++generation_;
  xfer_ = Transfer{};
  buffer_pos_ = buffer_len_ = 0;
  // A request in flight still owns the old buffer until it completes.
  if (buffer_.use_count() > 1) buffer_ = std::make_shared<std::vector<uint8_t>>(kBufferSize);
  for (Drive& d : drives_) {
    if (!d.disk) continue;
    d.status = ata::kStatusBsy;
    d.irq_pending = false;
  }
}

// Settings (multiple count, transfer mode, write cache) survive a software
// reset, as with SET FEATURES 66h; libata sets them again anyway.
void AtaChannel::end_reset() {
  for (Drive& d : drives_) {
    if (!d.disk) continue;
    d.status = kIdleStatus;
    d.error = ata::kDiagnosticPassed;
  }
  set_signature();
}

void AtaChannel::set_signature() {
  count_ = {ata::kSignatureCount, 0};
  lba_low_ = {ata::kSignatureLbaLow, 0};
  lba_mid_ = {ata::kSignatureLbaMid, 0};
  lba_high_ = {ata::kSignatureLbaHigh, 0};
  features_ = {};
  device_ = 0;
}

// --- Bus master -----------------------------------------------------------------

void AtaChannel::write_bus_master(unsigned offset, uint8_t value, bool bus_master_enabled) {
  if (!bus_master_.write(offset, value)) return;
  bus_master_allowed_ = bus_master_enabled;
  if (!bus_master_enabled) guest_error("bus master started with PCI bus mastering off; no data");
  if (xfer_.phase == Phase::kDmaWait) run_dma();
}

void AtaChannel::guest_error(const std::string& what) {
  if (guest_errors_logged_ >= kGuestErrorsLogged) return;
  ++guest_errors_logged_;
  bool last = guest_errors_logged_ == kGuestErrorsLogged;
  log::get("dev.ide")->warn("{}: guest {}{}", name_, what,
                            last ? " (further guest errors are not logged)" : "");
}

}  // namespace tv::dev
