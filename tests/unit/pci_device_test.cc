#include "devices/pci/pci_device.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"

namespace tv::dev {
namespace {

class NullIo : public IoDevice {
 public:
  std::string_view name() const override { return "null"; }
  uint64_t read(uint64_t, unsigned) override { return 0; }
  void write(uint64_t, unsigned, uint64_t) override {}
};

PciIdentity test_identity() {
  PciIdentity id;
  id.vendor = 0x1AF4;
  id.device = 0x1001;
  id.revision = 0x05;
  id.class_code = 0x010000;
  id.subsystem_vendor = 0x1AF4;
  id.subsystem = 0x0002;
  id.pin = IntxPin::kA;
  return id;
}

// A function that exposes the protected set-up calls and records its hooks.
class TestFunction : public PciDevice {
 public:
  explicit TestFunction(const PciIdentity& id = test_identity()) : PciDevice(id) {}
  using PciDevice::add_capability;
  using PciDevice::claim_config;
  using PciDevice::config;
  using PciDevice::declare_bar;
  using PciDevice::set_config;
  using PciDevice::set_write_mask;
  using PciDevice::watch_config;

  struct Access {
    unsigned offset, size;
    uint32_t value;
  };
  std::vector<Access> hook_reads, hook_writes;

 protected:
  uint32_t config_read(unsigned offset, unsigned size) override {
    hook_reads.push_back({offset, size, 0});
    return 0xA0A1A2A3u >> (8 * (4 - size)) & (size == 4 ? ~0u : (1u << 8 * size) - 1);
  }
  void config_write(unsigned offset, unsigned size, uint32_t value) override {
    hook_writes.push_back({offset, size, value});
  }
};

BarSpec bar(BarKind kind, uint64_t size, bool prefetchable = false) {
  return {kind, size, prefetchable, std::make_shared<NullIo>()};
}

TEST(PciDevice, HeaderIdsAreReadOnly) {
  TestFunction f;
  EXPECT_EQ(f.read_config(0x00, 4), 0x10011AF4u);
  EXPECT_EQ(f.read_config(0x08, 4), 0x01000005u);  // class 01 00 00, revision 5
  EXPECT_EQ(f.read_config(0x2C, 4), 0x00021AF4u);
  EXPECT_EQ(f.read_config(0x0E, 1), 0x00u);
  EXPECT_EQ(f.read_config(0x3D, 1), 1u);  // INTA#
  for (unsigned offset : {0x00u, 0x08u, 0x0Eu, 0x2Cu, 0x34u}) f.write_config(offset, 4, 0);
  f.write_config(0x3D, 1, 3);
  EXPECT_EQ(f.read_config(0x00, 4), 0x10011AF4u);
  EXPECT_EQ(f.read_config(0x08, 4), 0x01000005u);
  EXPECT_EQ(f.read_config(0x2C, 2), 0x1AF4u);
  EXPECT_EQ(f.read_config(0x3D, 1), 1u);
  EXPECT_FALSE(f.multi_function());
}

TEST(PciDevice, AccessesPastTheEndReadOnesAndDrop) {
  TestFunction f;
  f.set_write_mask(0xFC, 4, ~0u);
  EXPECT_EQ(f.read_config(0xFE, 4), 0xFFFFFFFFu);
  f.write_config(0xFE, 4, 0x12345678);
  EXPECT_EQ(f.read_config(0xFC, 4), 0u);
  f.write_config(0xFC, 4, 0x12345678);  // the last dword itself is fine
  EXPECT_EQ(f.read_config(0xFC, 4), 0x12345678u);
}

TEST(PciDevice, CommandWritableBitsOnly) {
  TestFunction f;
  f.write_config(0x04, 2, 0xFFFF);
  EXPECT_EQ(f.read_config(0x04, 2), 0x0547u);  // I/O, mem, master, parity, SERR, INTx disable
  f.write_config(0x05, 1, 0x00);               // byte write to the high half only
  EXPECT_EQ(f.read_config(0x04, 2), 0x0047u);
}

TEST(PciDevice, StatusErrorBitsAreWriteOneToClear) {
  TestFunction f;
  f.set_config(0x06, 2, 0xF910);  // error bits set, capability bit set
  f.write_config(0x06, 2, 0x0000);
  EXPECT_EQ(f.read_config(0x06, 2), 0xF910u);  // writing 0 clears nothing
  f.write_config(0x06, 2, 0x2810);             // clear master abort and target abort; bit 4 RO
  EXPECT_EQ(f.read_config(0x06, 2), 0xD110u);
  // A dword write to the command register that writes 0 to status leaves it.
  f.write_config(0x04, 4, 0x00000002);
  EXPECT_EQ(f.read_config(0x04, 4), 0xD1100002u);
}

TEST(PciDevice, InterruptLineWritablePinNot) {
  TestFunction f;
  f.write_config(0x3C, 2, 0x040B);
  EXPECT_EQ(f.read_config(0x3C, 1), 0x0Bu);
  EXPECT_EQ(f.read_config(0x3D, 1), 0x01u);
  f.write_config(0x0C, 2, 0x4010);  // cache line size, latency timer
  EXPECT_EQ(f.read_config(0x0C, 4), 0x00004010u);
}

TEST(PciDevice, IoBarSizing) {
  TestFunction f;
  f.declare_bar(0, bar(BarKind::kIo, 32));
  EXPECT_EQ(f.read_config(0x10, 4), 0x00000001u);
  f.write_config(0x10, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(0x10, 4), 0xFFFFFFE1u);  // size 32, I/O indicator
  f.write_config(0x10, 4, 0xC05F);
  EXPECT_EQ(f.read_config(0x10, 4), 0xC041u);  // low address bits read 0
}

TEST(PciDevice, MemoryBarSizingAndFlags) {
  TestFunction f;
  f.declare_bar(1, bar(BarKind::kMemory32, 0x1000));
  f.declare_bar(2, bar(BarKind::kMemory32, 1 << 20, true));
  f.write_config(0x14, 4, 0xFFFFFFFF);
  f.write_config(0x18, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(0x14, 4), 0xFFFFF000u);
  EXPECT_EQ(f.read_config(0x18, 4), 0xFFF00008u);  // prefetchable
  // Byte writes to a BAR: the read-only low bits stay.
  f.write_config(0x14, 1, 0xFF);
  EXPECT_EQ(f.read_config(0x14, 4), 0xFFFFF000u);
  f.write_config(0x16, 2, 0xFEBF);
  EXPECT_EQ(f.read_config(0x14, 4), 0xFEBFF000u);
  // Unimplemented BARs and the expansion ROM read 0 and size to 0.
  f.write_config(0x1C, 4, 0xFFFFFFFF);
  f.write_config(0x30, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(0x1C, 4), 0u);
  EXPECT_EQ(f.read_config(0x30, 4), 0u);
}

TEST(PciDevice, Memory64BarTakesTwoSlots) {
  TestFunction f;
  f.declare_bar(2, bar(BarKind::kMemory64, 0x4000, true));
  EXPECT_EQ(f.read_config(0x18, 4), 0x0000000Cu);  // type 64-bit, prefetchable
  f.write_config(0x18, 4, 0xFFFFFFFF);
  f.write_config(0x1C, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(0x18, 4), 0xFFFFC00Cu);
  EXPECT_EQ(f.read_config(0x1C, 4), 0xFFFFFFFFu);
  EXPECT_THROW(f.declare_bar(3, bar(BarKind::kIo, 16)), Error);  // the upper half
}

TEST(PciDevice, BadBarDeclarationsThrow) {
  TestFunction f;
  EXPECT_THROW(f.declare_bar(6, bar(BarKind::kIo, 16)), Error);
  EXPECT_THROW(f.declare_bar(5, bar(BarKind::kMemory64, 16)), Error);
  EXPECT_THROW(f.declare_bar(0, bar(BarKind::kIo, 24)), Error);
  EXPECT_THROW(f.declare_bar(0, bar(BarKind::kIo, 512)), Error);
  EXPECT_THROW(f.declare_bar(0, bar(BarKind::kIo, 16, true)), Error);
  EXPECT_THROW(f.declare_bar(0, bar(BarKind::kMemory32, 8)), Error);
  EXPECT_THROW(f.declare_bar(0, BarSpec{BarKind::kMemory32, 16, false, nullptr}), Error);
  f.declare_bar(0, bar(BarKind::kIo, 16));
  EXPECT_THROW(f.declare_bar(0, bar(BarKind::kIo, 16)), Error);
}

TEST(PciDevice, CapabilityListChains) {
  TestFunction f;
  EXPECT_EQ(f.read_config(0x06, 2) & 0x10, 0u);
  EXPECT_EQ(f.read_config(0x34, 1), 0u);
  uint8_t first = f.add_capability(0x09, 6);
  uint8_t second = f.add_capability(0x05, 10);
  EXPECT_EQ(first, 0x40);
  EXPECT_EQ(second, 0x48);  // dword aligned after 0x40 + 6
  EXPECT_EQ(f.read_config(0x06, 2) & 0x10, 0x10u);
  EXPECT_EQ(f.read_config(0x34, 1), 0x40u);
  EXPECT_EQ(f.read_config(0x40, 2), 0x4809u);  // ID, next
  EXPECT_EQ(f.read_config(0x48, 2), 0x0005u);  // last: next = 0
  f.write_config(0x41, 1, 0x00);               // list links are read-only
  EXPECT_EQ(f.read_config(0x41, 1), 0x48u);
  EXPECT_THROW(f.add_capability(0x11, 0xB0), Error);
}

TEST(PciDevice, ClaimedOffsetsGoToTheHooksAndSplitAccesses) {
  TestFunction f;
  f.claim_config(0x62, 2);
  f.set_write_mask(0x60, 2, 0xFFFF);
  f.write_config(0x60, 4, 0x11223344);
  ASSERT_EQ(f.hook_writes.size(), 1u);
  EXPECT_EQ(f.hook_writes[0].offset, 0x62u);
  EXPECT_EQ(f.hook_writes[0].size, 2u);
  EXPECT_EQ(f.hook_writes[0].value, 0x1122u);
  EXPECT_EQ(f.config(0x60, 2), 0x3344u);  // unclaimed bytes went to storage

  uint32_t v = f.read_config(0x60, 4);
  ASSERT_EQ(f.hook_reads.size(), 1u);
  EXPECT_EQ(f.hook_reads[0].offset, 0x62u);
  EXPECT_EQ(f.hook_reads[0].size, 2u);
  EXPECT_EQ(v, 0xA0A13344u);
  EXPECT_THROW(f.claim_config(0x3C, 1), Error);  // the header is not claimable
}

TEST(PciDevice, WatchSeesWritesToItsRangeOnly) {
  TestFunction f;
  int calls = 0;
  f.watch_config(0x50, 4, [&] { ++calls; });
  f.write_config(0x4C, 4, 0);
  EXPECT_EQ(calls, 0);
  f.write_config(0x4E, 4, 0);  // overlaps 0x50-0x51
  EXPECT_EQ(calls, 1);
  f.write_config(0x53, 1, 0);
  EXPECT_EQ(calls, 2);
}

TEST(PciDevice, IntxSetsStatusAndInterruptDisableMasksOutput) {
  TestFunction f;
  f.set_intx(true);
  EXPECT_TRUE(f.intx_output());
  EXPECT_EQ(f.read_config(0x06, 2) & 0x08, 0x08u);
  f.write_config(0x06, 2, 0x0008);  // the interrupt status bit is read-only
  EXPECT_EQ(f.read_config(0x06, 2) & 0x08, 0x08u);
  f.write_config(0x04, 2, 0x0400);
  EXPECT_FALSE(f.intx_output());
  EXPECT_EQ(f.read_config(0x06, 2) & 0x08, 0x08u);  // status still shows the condition
  f.set_intx(false);
  EXPECT_EQ(f.read_config(0x06, 2) & 0x08, 0u);

  PciIdentity no_pin = test_identity();
  no_pin.pin = IntxPin::kNone;
  TestFunction g(no_pin);
  g.set_intx(true);
  EXPECT_FALSE(g.intx_output());
}

}  // namespace
}  // namespace tv::dev
