// The PIIX3 IDE function through the port bus and PCI configuration, as
// a guest driver sees it: ATA register state machine, PIO and bus-master
// DMA transfers against a disk whose requests complete when the test says.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <vector>

#include "device_fakes.h"
#include "devices/bus.h"
#include "devices/ide/piix_ide.h"
#include "devices/pci/bridges.h"
#include "devices/pci/pci_bus.h"
#include "dma_fakes.h"

namespace tv::dev {
namespace {

// A disk whose unwritten bytes follow a pattern of their offset. Requests
// queue until complete() performs the oldest one.
class FakeDisk : public BlockDevice {
 public:
  explicit FakeDisk(uint64_t sectors, bool read_only = false)
      : sectors_(sectors), read_only_(read_only) {}
  uint64_t size_bytes() const override { return sectors_ * kSectorSize; }
  bool read_only() const override { return read_only_; }
  std::string serial() const override { return "SN-1234"; }
  bool supports_discard() const override { return false; }

  struct Request {
    BlockOp op;
    uint64_t offset, length;
    std::vector<iovec> buffers;
    Done done;
  };
  void submit(BlockOp op, uint64_t offset, uint64_t length, std::span<const iovec> buffers,
              Done done) override {
    requests.push_back({op, offset, length, {buffers.begin(), buffers.end()}, std::move(done)});
  }

  void complete(BlockStatus status = BlockStatus::kOk) {
    ASSERT_FALSE(requests.empty());
    Request r = std::move(requests.front());
    requests.pop_front();
    if (status == BlockStatus::kOk) transfer(r);
    r.done(status);
  }

  uint8_t byte(uint64_t offset) const {
    auto it = written.find(offset);
    return it != written.end() ? it->second : uint8_t(offset * 37 ^ offset >> 9);
  }
  std::vector<uint8_t> bytes(uint64_t offset, size_t n) const {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = byte(offset + i);
    return out;
  }

  std::deque<Request> requests;
  std::map<uint64_t, uint8_t> written;

 private:
  void transfer(const Request& r) {
    uint64_t at = r.offset;
    for (const iovec& v : r.buffers) {
      auto* p = static_cast<uint8_t*>(v.iov_base);
      for (size_t i = 0; i < v.iov_len; ++i, ++at) {
        if (r.op == BlockOp::kRead) p[i] = byte(at);
        if (r.op == BlockOp::kWrite) written[at] = p[i];
      }
    }
  }
  uint64_t sectors_;
  bool read_only_;
};

constexpr uint16_t kCmd = 0x1F0, kCtl = 0x3F6, kBm = 0xC000;
constexpr uint8_t kIdle = 0x50, kDrq = 0x58, kBusy = 0xC0, kError = 0x51;
constexpr uint8_t kAbrt = 0x04, kIdnf = 0x10, kUnc = 0x40;
constexpr unsigned kSectors = 64;

// The function on a PCI bus and a port bus, BAR4 at kBm, I/O and bus
// master enabled.
struct Rig {
  explicit Rig(PiixIde::Disks disks) : ide(std::make_shared<PiixIde>(dma, &irq, disks)) {
    for (const auto& r : ide->legacy_ports()) pio.insert(r.base, r.length, r.device);
    pci.add(1, 0, std::make_shared<IsaBridge>());
    pci.add(1, 1, ide);
    pci.config_write(1, 1, 0x20, 4, kBm | 1);
    pci.config_write(1, 1, 0x04, 2, 0x0005);
  }
  uint8_t in8(uint16_t port) { return uint8_t(pio.read(port, 1)); }
  void out8(uint16_t port, uint8_t v) { pio.write(port, 1, v); }
  uint8_t status() { return in8(kCmd + 7); }
  uint8_t alt() { return in8(kCtl); }
  uint8_t error() { return in8(kCmd + 1); }
  void command(uint8_t c) { out8(kCmd + 7, c); }
  void lba28(uint32_t lba, uint8_t count, unsigned dev = 0) {
    out8(kCmd + 6, uint8_t(0xE0 | dev << 4 | (lba >> 24 & 0xF)));
    out8(kCmd + 2, count);
    out8(kCmd + 3, uint8_t(lba));
    out8(kCmd + 4, uint8_t(lba >> 8));
    out8(kCmd + 5, uint8_t(lba >> 16));
  }
  // The 48-bit task file: the previous (HOB) bytes first, then the current ones.
  void lba48(uint64_t lba, uint16_t count) {
    out8(kCmd + 6, 0x40);
    for (unsigned half : {1, 0}) {
      out8(kCmd + 2, uint8_t(count >> (8 * half)));
      for (unsigned i = 0; i < 3; ++i) out8(kCmd + 3 + i, uint8_t(lba >> (8 * (i + 3 * half))));
    }
  }
  std::vector<uint8_t> read_data(size_t n, unsigned width = 2) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; i += width) {
      uint64_t v = pio.read(kCmd, width);
      for (unsigned b = 0; b < width; ++b) out.push_back(uint8_t(v >> (8 * b)));
    }
    return out;
  }
  void write_data(const std::vector<uint8_t>& bytes) {
    for (size_t i = 0; i < bytes.size(); i += 2) pio.write(kCmd, 2, bytes[i] | bytes[i + 1] << 8);
  }
  void put_prd(uint64_t at, uint32_t base, uint32_t count_and_flags) {
    for (unsigned i = 0; i < 4; ++i) {
      dma.ram[at + i] = uint8_t(base >> (8 * i));
      dma.ram[at + 4 + i] = uint8_t(count_and_flags >> (8 * i));
    }
  }

  VectorDma dma{1 << 20};
  FakeIrq irq;
  Bus pio{BusKind::kPio};
  Bus mmio{BusKind::kMmio};
  PciBus pci{pio, mmio, PciBus::ram_below(1 << 20), nullptr, nullptr};
  std::shared_ptr<PiixIde> ide;
};

class IdeTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeDisk> disk = std::make_shared<FakeDisk>(kSectors);
  Rig rig{{disk, nullptr, nullptr, nullptr}};
};

// --- Configuration space ------------------------------------------------------

TEST_F(IdeTest, PciIdentityTimingAndBar4) {
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x00, 4), 0x70108086u);
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x08, 4), 0x01018000u);  // class 0x010180, revision 0
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x41, 1) & 0x80,
            0x80u);  // decode enables, as ata_piix checks
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x43, 1) & 0x80, 0x80u);
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x3D, 1), 0u);  // no INTx pin: IRQ 14/15
  rig.pci.config_write(1, 1, 0x40, 2, 0xFFFF);
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x40, 2), 0xF3FFu);  // bits 11:10 reserved
  rig.pci.config_write(1, 1, 0x44, 1, 0x5A);
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x44, 1), 0x5Au);
  EXPECT_EQ(rig.pci.config_read(1, 1, 0x20, 4), uint32_t(kBm | 1));
  for (unsigned bar = 0; bar < 4; ++bar)  // compatibility mode: BARs 0-3 unused
    EXPECT_EQ(rig.pci.config_read(1, 1, 0x10 + 4 * bar, 4), 0u);
  EXPECT_EQ(rig.ide->bar_mapping(4), uint64_t(kBm));
  EXPECT_EQ(rig.in8(kBm + 2), 0x20);   // drive 0 DMA capable; drive 1 absent
  EXPECT_EQ(rig.in8(kBm + 10), 0x00);  // secondary: no drives
}

TEST_F(IdeTest, DecodeEnableGatesTheLegacyPorts) {
  EXPECT_EQ(rig.status(), kIdle);
  rig.pci.config_write(1, 1, 0x40, 2, 0x0000);  // primary decode off
  EXPECT_EQ(rig.status(), 0xFF);
  rig.pci.config_write(1, 1, 0x40, 2, 0x8000);
  rig.pci.config_write(1, 1, 0x04, 2, 0x0000);  // PCI I/O off
  EXPECT_EQ(rig.status(), 0xFF);
  EXPECT_EQ(rig.ide->bar_mapping(4), std::nullopt);
}

// --- Registers, reset, interrupts -----------------------------------------------

TEST_F(IdeTest, SoftwareResetLeavesTheSignature) {
  rig.out8(kCmd + 2, 0x55);
  rig.out8(kCmd + 3, 0xAA);
  rig.out8(kCmd + 6, 0xEF);  // device 0, head 15
  rig.out8(kCtl, 0x04);      // SRST
  EXPECT_EQ(rig.alt(), 0x80);
  rig.out8(kCmd + 2, 0x12);  // ignored while busy
  rig.out8(kCtl, 0x00);
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(rig.error(), 0x01);  // diagnostic code: passed
  EXPECT_EQ(rig.in8(kCmd + 2), 0x01);
  EXPECT_EQ(rig.in8(kCmd + 3), 0x01);
  EXPECT_EQ(rig.in8(kCmd + 4), 0x00);
  EXPECT_EQ(rig.in8(kCmd + 5), 0x00);  // ATA, not ATAPI (EB14)
  EXPECT_EQ(rig.in8(kCmd + 6), 0x00);  // device 0 selected
  EXPECT_EQ(rig.irq.rising[14], 0u);
}

TEST_F(IdeTest, AbsentSlaveReadsStatusZeroAndIgnoresCommands) {
  rig.out8(kCmd + 6, 0xB0);  // device 1
  EXPECT_EQ(rig.status(), 0x00);
  EXPECT_EQ(rig.alt(), 0x00);
  rig.out8(kCmd + 2, 0x55);  // device 0 answers for the task file
  EXPECT_EQ(rig.in8(kCmd + 2), 0x55);
  EXPECT_EQ(rig.error(), 0x01);
  rig.command(0xEC);
  EXPECT_EQ(rig.irq.rising[14], 0u);
  EXPECT_EQ(rig.status(), 0x00);
  rig.out8(kCmd + 6, 0xA0);
  EXPECT_EQ(rig.status(), kIdle);  // device 0 unaffected
}

TEST_F(IdeTest, EmptyChannelFloats) {
  EXPECT_EQ(rig.in8(0x177), 0xFF);
  EXPECT_EQ(rig.in8(0x376), 0xFF);
  rig.out8(0x172, 0x55);
  EXPECT_EQ(rig.in8(0x172), 0xFF);
  rig.out8(0x177, 0xEC);
  EXPECT_EQ(rig.irq.rising[15], 0u);
}

TEST_F(IdeTest, StatusReadClearsTheInterruptAlternateStatusDoesNot) {
  rig.command(0x91 /* INITIALIZE DEVICE PARAMETERS */);
  EXPECT_TRUE(rig.irq.levels[14]);
  EXPECT_EQ(rig.alt(), kIdle);
  EXPECT_TRUE(rig.irq.levels[14]);
  EXPECT_EQ(rig.in8(kBm + 2) & 0x04, 0x04);  // the bus master latched it
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_FALSE(rig.irq.levels[14]);
  EXPECT_EQ(rig.irq.rising[14], 1u);
}

TEST_F(IdeTest, NienMasksTheInterrupt) {
  rig.out8(kCtl, 0x02);
  rig.command(0xEC);
  EXPECT_EQ(rig.alt(), kDrq);
  EXPECT_FALSE(rig.irq.levels[14]);
  EXPECT_EQ(rig.irq.rising[14], 0u);
  rig.out8(kCtl, 0x00);  // still pending: INTRQ goes up now
  EXPECT_TRUE(rig.irq.levels[14]);
  rig.status();
  EXPECT_FALSE(rig.irq.levels[14]);
}

TEST_F(IdeTest, UnknownCommandAborts) {
  rig.command(0xB0);  // SMART: not offered
  EXPECT_EQ(rig.status(), kError);
  EXPECT_EQ(rig.error(), kAbrt);
  EXPECT_TRUE(disk->requests.empty());
}

// --- IDENTIFY and PIO -------------------------------------------------------------

TEST_F(IdeTest, IdentifyThroughTheDataPort) {
  rig.command(0xEC);
  EXPECT_EQ(rig.irq.rising[14], 1u);
  EXPECT_EQ(rig.status(), kDrq);
  std::vector<uint8_t> id = rig.read_data(512);
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(id[120] | id[121] << 8, int(kSectors));  // words 60-61
  EXPECT_EQ(std::string(id.begin() + 20, id.begin() + 28),
            "NS1-32 4");  // "SN-1234 " in swapped pairs
  uint8_t sum = 0;
  for (uint8_t b : id) sum = uint8_t(sum + b);
  EXPECT_EQ(sum, 0u);
  EXPECT_EQ(rig.irq.rising[14], 1u);  // none at the end of a PIO data-in command
}

TEST_F(IdeTest, PioReadOfThreeSectorsIn16And32BitWords) {
  rig.lba28(5, 3);
  rig.command(0x20);
  EXPECT_EQ(rig.alt(), kBusy);
  for (unsigned s = 0; s < 3; ++s) {
    ASSERT_EQ(disk->requests.size(), 1u);
    EXPECT_EQ(disk->requests[0].op, BlockOp::kRead);
    EXPECT_EQ(disk->requests[0].offset, (5 + s) * 512u);
    EXPECT_EQ(disk->requests[0].length, 512u);
    EXPECT_EQ(rig.irq.rising[14], s);
    disk->complete();
    EXPECT_EQ(rig.irq.rising[14], s + 1);
    EXPECT_EQ(rig.status(), kDrq);
    EXPECT_EQ(rig.read_data(512, s == 1 ? 4 : 2), disk->bytes((5 + s) * 512, 512)) << s;
  }
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_TRUE(disk->requests.empty());
  EXPECT_EQ(rig.pio.read(kCmd, 2), 0xFFFFu);  // no DRQ
}

TEST_F(IdeTest, PioWriteOfTwoSectors) {
  rig.lba28(10, 2);
  rig.command(0x30);
  EXPECT_EQ(rig.alt(), kDrq);  // the first block needs no interrupt
  EXPECT_EQ(rig.irq.rising[14], 0u);
  std::vector<uint8_t> data(1024);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 3 + 1);
  rig.write_data({data.begin(), data.begin() + 512});
  EXPECT_EQ(rig.alt(), kBusy);
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].op, BlockOp::kWrite);
  EXPECT_EQ(disk->requests[0].offset, 10 * 512u);
  disk->complete();
  EXPECT_EQ(rig.irq.rising[14], 1u);
  EXPECT_EQ(rig.status(), kDrq);
  rig.write_data({data.begin() + 512, data.end()});
  disk->complete();
  EXPECT_EQ(rig.irq.rising[14], 2u);
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(disk->bytes(10 * 512, 1024), data);
}

TEST_F(IdeTest, ReadMultipleInBlocksOfTheSetSize) {
  rig.lba28(0, 6);
  rig.command(0xC4);  // on at power-on, 16 sectors per block: one block
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].length, 6 * 512u);
  disk->complete();
  EXPECT_EQ(rig.read_data(3072, 4), disk->bytes(0, 3072));
  EXPECT_EQ(rig.status(), kIdle);
  rig.out8(kCmd + 2, 0);
  rig.command(0xC6);  // SET MULTIPLE MODE 0: disabled
  rig.lba28(0, 6);
  rig.command(0xC4);
  EXPECT_EQ(rig.status(), kError);
  EXPECT_EQ(rig.error(), kAbrt);
  rig.out8(kCmd + 2, 3);
  rig.command(0xC6);
  EXPECT_EQ(rig.status(), kError);  // not a power of two
  rig.out8(kCmd + 2, 4);
  rig.command(0xC6);
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(rig.irq.rising[14], 5u);
  rig.lba28(8, 6);
  rig.command(0xC4);
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].length, 4 * 512u);
  disk->complete();
  EXPECT_EQ(rig.status(), kDrq);
  EXPECT_EQ(rig.read_data(2048), disk->bytes(8 * 512, 2048));
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].offset, 12 * 512u);
  EXPECT_EQ(disk->requests[0].length, 2 * 512u);  // the rest
  disk->complete();
  EXPECT_EQ(rig.read_data(1024), disk->bytes(12 * 512, 1024));
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(rig.irq.rising[14], 7u);  // one per DRQ block
}

TEST_F(IdeTest, WriteMultipleExtAsksForEachBlock) {
  rig.out8(kCmd + 2, 2);
  rig.command(0xC6);
  rig.status();
  rig.lba48(30, 3);
  rig.command(0x39);  // WRITE MULTIPLE EXT
  std::vector<uint8_t> data(1536);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 11);
  EXPECT_EQ(rig.alt(), kDrq);
  rig.write_data({data.begin(), data.begin() + 1024});
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].length, 1024u);
  disk->complete();
  EXPECT_EQ(rig.status(), kDrq);
  rig.write_data({data.begin() + 1024, data.end()});
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].offset, 32 * 512u);
  EXPECT_EQ(disk->requests[0].length, 512u);
  disk->complete();
  EXPECT_EQ(rig.status(), kIdle);
  EXPECT_EQ(disk->bytes(30 * 512, 1536), data);
}

TEST_F(IdeTest, Lba48AddressAndHobReadBack) {
  auto big = std::make_shared<FakeDisk>(1ull << 41);
  Rig r{{big, nullptr, nullptr, nullptr}};
  r.lba48(0x0123456789AB, 2);
  r.out8(kCtl, 0x80);  // HOB
  EXPECT_EQ(r.in8(kCmd + 2), 0x00);
  EXPECT_EQ(r.in8(kCmd + 3), 0x45);
  EXPECT_EQ(r.in8(kCmd + 5), 0x01);
  r.out8(kCtl, 0x00);
  EXPECT_EQ(r.in8(kCmd + 3), 0xAB);
  r.command(0x24);  // READ SECTORS EXT
  ASSERT_EQ(big->requests.size(), 1u);
  EXPECT_EQ(big->requests[0].offset, 0x0123456789ABull * 512);
  big->complete();
  EXPECT_EQ(r.read_data(512), big->bytes(0x0123456789ABull * 512, 512));
  ASSERT_EQ(big->requests.size(), 1u);
  EXPECT_EQ(big->requests[0].offset, 0x0123456789ACull * 512);
}

TEST_F(IdeTest, Lba28CountZeroIs256Sectors) {
  auto d = std::make_shared<FakeDisk>(1000);
  Rig r{{d, nullptr, nullptr, nullptr}};
  r.lba28(1000 - 255, 0);
  r.command(0x40);  // READ VERIFY
  EXPECT_EQ(r.status(), kError);
  EXPECT_EQ(r.error(), kIdnf);
  r.lba28(1000 - 256, 0);
  r.command(0x40);
  EXPECT_EQ(r.status(), kIdle);
}

// --- Errors ----------------------------------------------------------------------------

TEST_F(IdeTest, PastTheEndIsIdnfWithTheAddress) {
  rig.lba28(kSectors - 1, 2);
  rig.command(0x20);
  EXPECT_TRUE(disk->requests.empty());
  EXPECT_EQ(rig.irq.rising[14], 1u);
  EXPECT_EQ(rig.status(), kError);
  EXPECT_EQ(rig.error(), kIdnf);
  EXPECT_EQ(rig.in8(kCmd + 3), kSectors);  // the first sector not on the disk
}

TEST_F(IdeTest, ReadOnlyDiskAbortsWrites) {
  auto ro = std::make_shared<FakeDisk>(kSectors, true);
  Rig r{{ro, nullptr, nullptr, nullptr}};
  for (uint8_t command : {0x30, 0xCA}) {
    r.lba28(0, 1);
    r.command(command);
    EXPECT_EQ(r.status(), kError) << int(command);
    EXPECT_EQ(r.error(), kAbrt);
  }
  EXPECT_TRUE(ro->requests.empty());
}

TEST_F(IdeTest, DiskErrorsBecomeUncOrAbrt) {
  rig.lba28(7, 1);
  rig.command(0x20);
  disk->complete(BlockStatus::kIoError);
  EXPECT_EQ(rig.status(), kError);
  EXPECT_EQ(rig.error(), kUnc);
  EXPECT_EQ(rig.in8(kCmd + 3), 7);
  rig.lba28(7, 1);
  rig.command(0x30);
  rig.write_data(std::vector<uint8_t>(512, 0xEE));
  disk->complete(BlockStatus::kIoError);
  EXPECT_EQ(rig.status(), kError);
  EXPECT_EQ(rig.error(), kAbrt);
  EXPECT_TRUE(disk->written.empty());
}

TEST_F(IdeTest, ResetAbandonsARequestInFlight) {
  rig.lba28(3, 1);
  rig.command(0x20);
  rig.out8(kCtl, 0x04);
  rig.out8(kCtl, 0x00);
  disk->complete();  // the old request: dropped
  EXPECT_EQ(rig.irq.rising[14], 0u);
  EXPECT_EQ(rig.status(), kIdle);
  rig.lba28(4, 1);
  rig.command(0x20);
  disk->complete();
  EXPECT_EQ(rig.read_data(512), disk->bytes(4 * 512, 512));
}

// --- Flush and features ------------------------------------------------------------

TEST_F(IdeTest, FlushCacheAndDisablingTheWriteCacheFlush) {
  rig.command(0xE7);
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].op, BlockOp::kFlush);
  EXPECT_EQ(rig.alt(), kBusy);
  disk->complete();
  EXPECT_EQ(rig.status(), kIdle);
  rig.out8(kCmd + 1, 0x82);  // SET FEATURES: disable write cache
  rig.command(0xEF);
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].op, BlockOp::kFlush);
  disk->complete();
  rig.lba28(1, 1);  // now each write is followed by a flush
  rig.command(0x30);
  rig.write_data(std::vector<uint8_t>(512, 0x11));
  disk->complete();
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].op, BlockOp::kFlush);
  EXPECT_EQ(rig.alt(), kBusy);
  disk->complete();
  EXPECT_EQ(rig.status(), kIdle);
}

TEST_F(IdeTest, SetTransferModeShowsInIdentify) {
  rig.out8(kCmd + 1, 0x03);
  rig.out8(kCmd + 2, 0x22);  // MWDMA 2
  rig.command(0xEF);
  EXPECT_EQ(rig.status(), kIdle);
  rig.out8(kCmd + 1, 0x03);
  rig.out8(kCmd + 2, 0x46);  // UDMA 6: not offered
  rig.command(0xEF);
  EXPECT_EQ(rig.status(), kError);
  rig.command(0xEC);
  std::vector<uint8_t> id = rig.read_data(512);
  EXPECT_EQ(id[126] | id[127] << 8, 0x0407);  // word 63
}

// --- Bus-master DMA ------------------------------------------------------------------

TEST_F(IdeTest, DmaReadThroughATwoEntryTable) {
  rig.put_prd(0x1000, 0x2000, 512);
  rig.put_prd(0x1008, 0x8000, 1024 | 0x80000000);
  rig.pio.write(kBm + 4, 4, 0x1000);
  rig.out8(kBm, 0x08);  // to memory
  rig.lba28(3, 3);
  rig.command(0xC8);
  EXPECT_TRUE(disk->requests.empty());  // waits for the start bit
  rig.out8(kBm, 0x09);
  ASSERT_EQ(disk->requests.size(), 1u);
  const FakeDisk::Request& req = disk->requests[0];
  EXPECT_EQ(req.offset, 3 * 512u);
  EXPECT_EQ(req.length, 1536u);
  ASSERT_EQ(req.buffers.size(), 2u);
  // Zero copy: the disk gets guest RAM itself.
  EXPECT_EQ(req.buffers[0].iov_base, rig.dma.ram.data() + 0x2000);
  EXPECT_EQ(req.buffers[1].iov_base, rig.dma.ram.data() + 0x8000);
  EXPECT_EQ(rig.in8(kBm + 2), 0x21);  // active, drive 0 DMA capable
  disk->complete();
  std::vector<uint8_t> got(rig.dma.ram.begin() + 0x2000, rig.dma.ram.begin() + 0x2200);
  got.insert(got.end(), rig.dma.ram.begin() + 0x8000, rig.dma.ram.begin() + 0x8400);
  EXPECT_EQ(got, disk->bytes(3 * 512, 1536));
  using Write = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(rig.dma.writes, (std::vector<Write>{{0x2000, 512}, {0x8000, 1024}}));
  EXPECT_EQ(rig.in8(kBm + 2), 0x24);  // table done: interrupt, not active
  EXPECT_EQ(rig.irq.rising[14], 1u);
  EXPECT_EQ(rig.status(), kIdle);
  rig.out8(kBm, 0x00);
  rig.out8(kBm + 2, 0x24);  // write 1 to clear; bit 5 is read/write
  EXPECT_EQ(rig.in8(kBm + 2), 0x20);
}

TEST_F(IdeTest, DmaWriteStartedBeforeTheCommand) {
  for (unsigned i = 0; i < 1024; ++i) rig.dma.ram[0x4000 + i] = uint8_t(i ^ 0x5A);
  rig.put_prd(0x1000, 0x4000, 1024 | 0x80000000);
  rig.pio.write(kBm + 4, 4, 0x1000);
  rig.out8(kBm, 0x01);  // start, from memory
  rig.lba28(20, 2);
  rig.command(0xCA);
  ASSERT_EQ(disk->requests.size(), 1u);
  EXPECT_EQ(disk->requests[0].op, BlockOp::kWrite);
  disk->complete();
  EXPECT_EQ(disk->bytes(20 * 512, 1024),
            std::vector<uint8_t>(rig.dma.ram.begin() + 0x4000, rig.dma.ram.begin() + 0x4400));
  EXPECT_TRUE(rig.dma.writes.empty());  // nothing written to RAM
  EXPECT_EQ(rig.status(), kIdle);
}

TEST_F(IdeTest, BadPrdTablesSetTheBusMasterErrorBit) {
  struct Case {
    uint32_t table;
    uint32_t count_and_flags;
  };
  for (Case c : {Case{0xFFFF0000, 0}, Case{0x1000, 512 | 0x80000000}}) {
    rig.put_prd(0x1000, 0x2000, c.count_and_flags);
    rig.pio.write(kBm + 4, 4, c.table);
    rig.lba28(0, 2);
    rig.command(0xC8);
    rig.out8(kBm, 0x09);
    EXPECT_TRUE(disk->requests.empty());
    EXPECT_EQ(rig.in8(kBm + 2), 0x26) << c.table;  // error, interrupt, not active
    EXPECT_EQ(rig.status(), kError);
    EXPECT_EQ(rig.error(), kAbrt);
    rig.out8(kBm, 0x00);
    rig.out8(kBm + 2, 0x26);
  }
  EXPECT_TRUE(rig.dma.writes.empty());
}

TEST_F(IdeTest, DmaNeedsPciBusMastering) {
  rig.pci.config_write(1, 1, 0x04, 2, 0x0001);  // I/O only
  rig.put_prd(0x1000, 0x2000, 512 | 0x80000000);
  rig.pio.write(kBm + 4, 4, 0x1000);
  rig.lba28(0, 1);
  rig.command(0xC8);
  rig.out8(kBm, 0x09);
  EXPECT_TRUE(disk->requests.empty());
  EXPECT_EQ(rig.alt(), kBusy);
  rig.out8(kCtl, 0x04);  // the guest's way out
  rig.out8(kCtl, 0x00);
  EXPECT_EQ(rig.status(), kIdle);
}

}  // namespace
}  // namespace tv::dev
