// PIIX3 IDE function: configuration space (82371SB datasheet, "PCI
// Configuration Registers - IDE Interface": PCICMD, BMIBA at 0x20 = BAR4,
// IDETIM at 0x40/0x42, SIDETIM at 0x44) and the port facades that route
// guest accesses to the two channels.
//
// IDETIM bits: 15 = IDE decode enable, 14 = slave timing enable, 13:12 and
// 9:8 = timings, 7:0 = per-drive fast timing enables; bits 11:10 are
// reserved (read 0). Linux's ata_piix rewrites everything but bit 15.
#include "devices/ide/piix_ide.h"

namespace tv::dev {
namespace {

constexpr unsigned kIdeTimingPrimary = 0x40, kIdeTimingSecondary = 0x42;
constexpr unsigned kSlaveTiming = 0x44;
constexpr uint16_t kIdeTimingWritable = 0xF3FF;
constexpr uint16_t kIdeDecodeEnable = 0x8000;

PciIdentity ide_identity() {
  PciIdentity id;
  id.vendor = 0x8086;
  id.device = 0x7010;
  // Mass storage, IDE; programming interface 0x80: bus-master capable,
  // both channels fixed in compatibility mode (bits 0-3 clear).
  id.class_code = 0x010180;
  return id;
}

uint64_t all_ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

}  // namespace

// 0x1F0-0x1F7 / 0x170-0x177.
class PiixIde::CommandBlockPort final : public IoDevice {
 public:
  CommandBlockPort(PiixIde& ide, unsigned channel) : ide_(ide), channel_(channel) {}
  std::string_view name() const override { return channel_ ? "ide1" : "ide0"; }
  uint64_t read(uint64_t offset, unsigned size) override {
    if (!ide_.decodes(channel_)) return all_ones(size);
    return ide_.channel(channel_).read_command_block(unsigned(offset), size);
  }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    if (ide_.decodes(channel_))
      ide_.channel(channel_).write_command_block(unsigned(offset), size, value);
  }

 private:
  PiixIde& ide_;
  unsigned channel_;
};

// 0x3F6 / 0x376: alternate status and device control.
class PiixIde::ControlPort final : public IoDevice {
 public:
  ControlPort(PiixIde& ide, unsigned channel) : ide_(ide), channel_(channel) {}
  std::string_view name() const override { return channel_ ? "ide1-control" : "ide0-control"; }
  uint64_t read(uint64_t offset, unsigned size) override {
    if (!ide_.decodes(channel_) || offset != 0) return all_ones(size);
    return ide_.channel(channel_).read_alternate_status() | (all_ones(size) & ~0xFFull);
  }
  void write(uint64_t offset, unsigned, uint64_t value) override {
    if (ide_.decodes(channel_) && offset == 0)
      ide_.channel(channel_).write_device_control(uint8_t(value));
  }

 private:
  PiixIde& ide_;
  unsigned channel_;
};

// BAR4: the primary channel's bus-master registers at 0-7, the
// secondary's at 8-15. Accesses of any width are taken byte by byte.
class PiixIde::BusMasterPort final : public IoDevice {
 public:
  explicit BusMasterPort(PiixIde& ide) : ide_(ide) {}
  std::string_view name() const override { return "ide-busmaster"; }
  uint64_t read(uint64_t offset, unsigned size) override {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) {
      uint64_t at = offset + i;
      uint8_t byte =
          at < kBusMasterLength ? ide_.channel(unsigned(at / 8)).read_bus_master(at % 8) : 0xFF;
      value |= uint64_t(byte) << (8 * i);
    }
    return value;
  }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    bool enabled = ide_.bus_master_enabled();
    for (unsigned i = 0; i < size && offset + i < kBusMasterLength; ++i) {
      uint64_t at = offset + i;
      ide_.channel(unsigned(at / 8)).write_bus_master(at % 8, uint8_t(value >> (8 * i)), enabled);
    }
  }

 private:
  PiixIde& ide_;
};

PiixIde::PiixIde(DmaSpace& dma, IrqSink* isa_irqs, Disks disks) : PciDevice(ide_identity()) {
  channels_[0] =
      std::make_unique<AtaChannel>("ide0", dma, isa_irqs, kPrimaryIrq, disks[0], disks[1]);
  channels_[1] =
      std::make_unique<AtaChannel>("ide1", dma, isa_irqs, kSecondaryIrq, disks[2], disks[3]);

  set_config(pci::kCommand, 2, pci::kCommandIo);
  declare_bar(kBusMasterBar,
              {BarKind::kIo, kBusMasterLength, false, std::make_shared<BusMasterPort>(*this)});
  for (unsigned reg : {kIdeTimingPrimary, kIdeTimingSecondary}) {
    set_write_mask(reg, 2, kIdeTimingWritable);
    set_config(reg, 2, kIdeDecodeEnable);
  }
  set_write_mask(kSlaveTiming, 1, 0xFF);

  // As firmware leaves them: the "drive N is DMA capable" bits of each
  // channel's bus-master status, for the drives present.
  for (unsigned c = 0; c < kChannels; ++c) {
    uint8_t capable = (channel(c).has_device(0) ? BusMaster::kStatusDrive0Dma : 0) |
                      (channel(c).has_device(1) ? BusMaster::kStatusDrive1Dma : 0);
    channel(c).write_bus_master(2, capable, false);
  }

  ports_ = {{
      {kPrimaryCommandBase, 8, std::make_shared<CommandBlockPort>(*this, 0)},
      {kPrimaryControlBase, 1, std::make_shared<ControlPort>(*this, 0)},
      {kSecondaryCommandBase, 8, std::make_shared<CommandBlockPort>(*this, 1)},
      {kSecondaryControlBase, 1, std::make_shared<ControlPort>(*this, 1)},
  }};
}

bool PiixIde::decodes(unsigned channel) const {
  unsigned timing = channel ? kIdeTimingSecondary : kIdeTimingPrimary;
  return (config(pci::kCommand, 2) & pci::kCommandIo) && (config(timing, 2) & kIdeDecodeEnable);
}

bool PiixIde::bus_master_enabled() const {
  return config(pci::kCommand, 2) & pci::kCommandBusMaster;
}

}  // namespace tv::dev
