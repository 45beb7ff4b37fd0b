#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "devices/pci/msi.h"
#include "devices/pci/pci_bus.h"

namespace tv::dev {
namespace {

class FakeApicBus : public ApicBus {
 public:
  void send(const ApicMessage& message) override { sent.push_back(message); }
  std::vector<ApicMessage> sent;
};

PciIdentity identity() {
  PciIdentity id;
  id.vendor = 0x1AF4;
  id.device = 0x1041;
  id.pin = IntxPin::kA;
  return id;
}

// A function with an MSI capability.
class MsiFunction : public PciDevice {
 public:
  MsiFunction(ApicBus* apic, unsigned vectors, MsiCapability::Address address,
              MsiCapability::Masking masking)
      : PciDevice(identity()), msi(*this, apic, vectors, address, masking) {}
  MsiCapability msi;
};

// A function with MSI-X: 4 vectors, table at 0 and PBA at 0x800 of BAR 1.
class MsixFunction : public PciDevice {
 public:
  explicit MsixFunction(ApicBus* apic, unsigned vectors = 4)
      : PciDevice(identity()), msix(*this, apic, vectors, 1, 0, 0x800) {
    declare_bar(1, {BarKind::kMemory32, msix.region_size(), false, msix.region()});
  }
  MsixCapability msix;
};

TEST(PciDecodeMsi, AddressAndDataFields) {
  // Destination 0x03, physical, edge, fixed, vector 0x41.
  auto m = decode_msi(0xFEE03000, 0x0041);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->vector, 0x41);
  EXPECT_EQ(m->dest, 0x03u);
  EXPECT_FALSE(m->logical);
  EXPECT_EQ(m->mode, DeliveryMode::kFixed);
  EXPECT_FALSE(m->level);
  EXPECT_TRUE(m->assert);
  EXPECT_EQ(m->shorthand, Shorthand::kNone);

  // Logical destination 0xFF with RH: lowest priority arbitration.
  m = decode_msi(0xFEEFF00C, 0x0031);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->dest, 0xFFu);
  EXPECT_TRUE(m->logical);
  EXPECT_EQ(m->mode, DeliveryMode::kLowestPriority);

  // Level-triggered NMI, asserted; then deasserted.
  m = decode_msi(0xFEE00000, 0xC402);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode, DeliveryMode::kNmi);
  EXPECT_TRUE(m->level);
  EXPECT_TRUE(m->assert);
  m = decode_msi(0xFEE00000, 0x8402);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->assert);

  EXPECT_EQ(decode_msi(0xFEE00000, 0x0700)->mode, DeliveryMode::kExtInt);
  EXPECT_EQ(decode_msi(0xFEE00000, 0x0500)->mode, DeliveryMode::kInit);
  EXPECT_EQ(decode_msi(0xFEE00004, 0x0141)->mode, DeliveryMode::kLowestPriority);
  // SMI with RH stays SMI: only fixed messages are redirected.
  EXPECT_EQ(decode_msi(0xFEE00008, 0x0200)->mode, DeliveryMode::kSmi);
}

TEST(PciDecodeMsi, OutsideTheWindowOrReservedModeIsNoMessage) {
  EXPECT_FALSE(decode_msi(0xFED00000, 0x41));
  EXPECT_FALSE(decode_msi(0xFEF00000, 0x41));
  EXPECT_FALSE(decode_msi(0x1FEE00000, 0x41));  // upper address bits set
  EXPECT_FALSE(decode_msi(0, 0));
  EXPECT_FALSE(decode_msi(0xFEE00000, 0x0341));  // mode 3
  EXPECT_FALSE(decode_msi(0xFEE00000, 0x0641));  // mode 6 (startup is not an MSI mode)
  EXPECT_TRUE(decode_msi(0xFEEFFFFC, 0x41));
}

TEST(PciMsi, CapabilityLayout64WithMasking) {
  FakeApicBus apic;
  MsiFunction f(&apic, 4, MsiCapability::Address::k64, MsiCapability::Masking::kPerVector);
  uint8_t cap = f.msi.offset();
  EXPECT_EQ(f.read_config(0x34, 1), cap);
  EXPECT_EQ(f.read_config(cap, 1), 0x05u);
  EXPECT_EQ(f.read_config(cap + 2, 2), 0x0184u);  // PVM, 64-bit, MMC = 4 vectors
  f.write_config(cap + 2, 2, 0xFFFF);
  EXPECT_EQ(f.read_config(cap + 2, 2), 0x01F5u);  // enable and MME only
  f.write_config(cap + 4, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(cap + 4, 4), 0xFFFFFFFCu);
  f.write_config(cap + 0xC, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(cap + 0xC, 4), 0x0000FFFFu);  // 16-bit data
  f.write_config(cap + 0x10, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(cap + 0x10, 4), 0xFu);  // mask bits of the 4 vectors
  f.write_config(cap + 0x14, 4, 0xFFFFFFFF);
  EXPECT_EQ(f.read_config(cap + 0x14, 4), 0u);  // pending bits are read-only
  EXPECT_EQ(f.msi.enabled_vectors(), 4u);       // MME 7 clamps to MMC
}

TEST(PciMsi, Sends32BitMessageAndFallsBackToIntx) {
  FakeApicBus apic;
  MsiFunction f(&apic, 1, MsiCapability::Address::k32, MsiCapability::Masking::kNone);
  uint8_t cap = f.msi.offset();
  EXPECT_EQ(f.read_config(cap + 2, 2), 0x0000u);

  f.msi.notify(0);  // MSI disabled: INTx
  EXPECT_TRUE(f.intx_level());
  EXPECT_TRUE(apic.sent.empty());
  f.set_intx(false);

  f.write_config(cap + 4, 4, 0xFEE01000);
  f.write_config(cap + 8, 2, 0x4051);
  f.write_config(cap + 2, 2, 0x0001);
  f.msi.notify(0);
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x51);
  EXPECT_EQ(apic.sent[0].dest, 0x01u);
  EXPECT_FALSE(f.intx_level());
}

TEST(PciMsi, MultipleVectorsVaryTheLowDataBits) {
  FakeApicBus apic;
  MsiFunction f(&apic, 8, MsiCapability::Address::k64, MsiCapability::Masking::kNone);
  uint8_t cap = f.msi.offset();
  f.write_config(cap + 4, 4, 0xFEE00000);
  f.write_config(cap + 8, 4, 0);
  f.write_config(cap + 0xC, 2, 0x0063);  // base vector 0x60 + garbage in the low bits
  f.write_config(cap + 2, 2, 0x0021);    // enable, MME = 4 vectors
  f.msi.notify(2);
  f.msi.notify(6);  // only 4 enabled: wraps to 2
  ASSERT_EQ(apic.sent.size(), 2u);
  EXPECT_EQ(apic.sent[0].vector, 0x62);
  EXPECT_EQ(apic.sent[1].vector, 0x62);
  f.msi.notify(8);  // beyond the capability: dropped
  EXPECT_EQ(apic.sent.size(), 2u);
}

TEST(PciMsi, MaskedVectorIsPendingUntilUnmasked) {
  FakeApicBus apic;
  MsiFunction f(&apic, 2, MsiCapability::Address::k32, MsiCapability::Masking::kPerVector);
  uint8_t cap = f.msi.offset();
  f.write_config(cap + 4, 4, 0xFEE00000);
  f.write_config(cap + 8, 2, 0x0070);
  f.write_config(cap + 0xC, 4, 0x2);   // mask vector 1
  f.write_config(cap + 2, 2, 0x0011);  // enable, 2 vectors
  f.msi.notify(1);
  EXPECT_TRUE(apic.sent.empty());
  EXPECT_TRUE(f.msi.pending(1));
  EXPECT_EQ(f.read_config(cap + 0x10, 4), 0x2u);
  f.msi.notify(0);
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x70);

  f.write_config(cap + 0xC, 4, 0x0);  // unmask: the pending message goes out
  ASSERT_EQ(apic.sent.size(), 2u);
  EXPECT_EQ(apic.sent[1].vector, 0x71);
  EXPECT_FALSE(f.msi.pending(1));
  f.write_config(cap + 0xC, 4, 0x0);
  EXPECT_EQ(apic.sent.size(), 2u);  // sent once
}

TEST(PciMsi, BadAddressIsDropped) {
  FakeApicBus apic;
  MsiFunction f(&apic, 1, MsiCapability::Address::k64, MsiCapability::Masking::kNone);
  uint8_t cap = f.msi.offset();
  f.write_config(cap + 4, 4, 0x00100000);  // guest RAM
  f.write_config(cap + 2, 2, 0x0001);
  f.msi.notify(0);
  f.msi.notify(0);
  EXPECT_TRUE(apic.sent.empty());
  EXPECT_FALSE(f.intx_level());
  EXPECT_THROW(MsiFunction(&apic, 3, MsiCapability::Address::k64, MsiCapability::Masking::kNone),
               Error);
}

// --- MSI-X -------------------------------------------------------------------

TEST(PciMsix, CapabilityPointsAtTableAndPba) {
  FakeApicBus apic;
  MsixFunction f(&apic);
  uint8_t cap = f.msix.offset();
  EXPECT_EQ(f.read_config(cap, 1), 0x11u);
  EXPECT_EQ(f.read_config(cap + 2, 2), 0x0003u);  // table size 4
  EXPECT_EQ(f.read_config(cap + 4, 4), 0x00000001u);
  EXPECT_EQ(f.read_config(cap + 8, 4), 0x00000801u);
  f.write_config(cap + 2, 2, 0xFFFF);
  EXPECT_EQ(f.read_config(cap + 2, 2), 0xC003u);
  f.write_config(cap + 4, 4, 0);
  EXPECT_EQ(f.read_config(cap + 4, 4), 0x00000001u);
  EXPECT_EQ(f.msix.region_size(), 0x1000u);
  EXPECT_THROW(MsixCapability(f, &apic, 4, 1, 0, 0x20), Error);   // PBA inside the table
  EXPECT_THROW(MsixCapability(f, &apic, 4, 1, 4, 0x800), Error);  // misaligned
}

class PciMsixOnBus : public ::testing::Test {
 protected:
  PciMsixOnBus() {
    pci.add(3, 0, fn);
    pci.config_write(3, 0, 0x14, 4, kBar);
    pci.config_write(3, 0, 0x04, 2, 0x0006);
    cap = fn->msix.offset();
  }
  void program(unsigned vector, uint32_t address, uint32_t data) {
    uint64_t entry = kBar + 16 * vector;
    mmio.write(entry + 0, 4, address);
    mmio.write(entry + 4, 4, 0);
    mmio.write(entry + 8, 4, data);
  }
  void enable(uint16_t control) { pci.config_write(3, 0, cap + 2, 2, control); }

  static constexpr uint64_t kBar = 0xFEBF0000;
  Bus pio{BusKind::kPio};
  Bus mmio{BusKind::kMmio};
  FakeApicBus apic;
  PciBus pci{pio, mmio, PciBus::ram_below(0x1000000), nullptr, nullptr};
  std::shared_ptr<MsixFunction> fn = std::make_shared<MsixFunction>(&apic);
  uint8_t cap = 0;
};

TEST_F(PciMsixOnBus, TableReadsBackAndStartsMasked) {
  for (unsigned v = 0; v < 4; ++v) EXPECT_EQ(mmio.read(kBar + 16 * v + 12, 4), 1u);
  program(2, 0xFEE02003, 0x4045);
  EXPECT_EQ(mmio.read(kBar + 32, 4), 0xFEE02000u);  // bits 1:0 read 0
  EXPECT_EQ(mmio.read(kBar + 40, 4), 0x4045u);
  mmio.write(kBar + 32, 8, 0x00000000FEE04000ull);  // qword access
  EXPECT_EQ(mmio.read(kBar + 32, 8), 0x00000000FEE04000ull);
  mmio.write(kBar + 40, 1, 0x46);  // a byte write into the data dword
  EXPECT_EQ(mmio.read(kBar + 40, 4), 0x4046u);
  mmio.write(kBar + 44, 4, 0xFFFFFFFE);  // reserved control bits read 0
  EXPECT_EQ(mmio.read(kBar + 44, 4), 0u);
  EXPECT_EQ(mmio.read(kBar + 0x400, 4), 0u);  // between table and PBA
}

TEST_F(PciMsixOnBus, DeliversUnmaskedVectorsFromTheTable) {
  program(1, 0xFEE01000, 0x0061);
  mmio.write(kBar + 16 + 12, 4, 0);  // unmask vector 1
  fn->msix.notify(1);                // MSI-X disabled: INTx
  EXPECT_TRUE(fn->intx_level());
  EXPECT_TRUE(apic.sent.empty());
  fn->set_intx(false);

  enable(0x8000);
  fn->msix.notify(1);
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x61);
  EXPECT_EQ(apic.sent[0].dest, 1u);
  fn->msix.notify(7);  // no such vector
  EXPECT_EQ(apic.sent.size(), 1u);
}

TEST_F(PciMsixOnBus, MaskedVectorPendsInThePbaAndFiresOnUnmask) {
  program(3, 0xFEE00000, 0x0072);
  enable(0x8000);
  fn->msix.notify(3);  // still masked from reset
  EXPECT_TRUE(apic.sent.empty());
  EXPECT_TRUE(fn->msix.pending(3));
  EXPECT_EQ(mmio.read(kBar + 0x800, 8), 0x8u);
  mmio.write(kBar + 0x800, 8, 0);  // the PBA is read-only
  EXPECT_EQ(mmio.read(kBar + 0x800, 4), 0x8u);

  program(3, 0xFEE00000, 0x0073);    // reprogrammed while masked: the new data is used
  mmio.write(kBar + 48 + 12, 4, 0);  // unmask
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x73);
  EXPECT_FALSE(fn->msix.pending(3));
  EXPECT_EQ(mmio.read(kBar + 0x800, 8), 0u);
}

TEST_F(PciMsixOnBus, FunctionMaskHoldsEveryVector) {
  program(0, 0xFEE00000, 0x0080);
  program(1, 0xFEE00000, 0x0081);
  mmio.write(kBar + 12, 4, 0);
  mmio.write(kBar + 16 + 12, 4, 0);
  enable(0xC000);  // enabled, function-masked
  fn->msix.notify(0);
  fn->msix.notify(1);
  EXPECT_TRUE(apic.sent.empty());
  EXPECT_TRUE(fn->msix.pending(0) && fn->msix.pending(1));
  EXPECT_FALSE(fn->msix.masked(0));  // the per-vector bits are untouched
  enable(0x8000);
  ASSERT_EQ(apic.sent.size(), 2u);
  EXPECT_EQ(apic.sent[0].vector, 0x80);
  EXPECT_EQ(apic.sent[1].vector, 0x81);
}

TEST_F(PciMsixOnBus, BadAddressInTheTableIsDropped) {
  program(0, 0xC0000000, 0x0041);
  mmio.write(kBar + 12, 4, 0);
  enable(0x8000);
  fn->msix.notify(0);
  EXPECT_TRUE(apic.sent.empty());
  EXPECT_FALSE(fn->msix.pending(0));
}

TEST(PciMsix, LargeTableHasAMultiQwordPba) {
  FakeApicBus apic;
  MsixFunction f(&apic, 100);  // table 0x640 bytes, PBA 2 qwords at 0x800
  EXPECT_EQ(f.msix.region_size(), 0x1000u);
  EXPECT_EQ(f.read_config(f.msix.offset() + 2, 2), 99u);
  f.write_config(f.msix.offset() + 2, 2, 0x8000);
  f.msix.notify(70);
  auto region = f.msix.region();
  EXPECT_EQ(region->read(0x808, 4), 1u << 6);
  EXPECT_EQ(region->read(0x800, 8), 0u);
}

}  // namespace
}  // namespace tv::dev
