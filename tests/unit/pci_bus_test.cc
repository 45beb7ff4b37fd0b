#include "devices/pci/pci_bus.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "devices/pci/bridges.h"

namespace tv::dev {
namespace {

// Answers every read with a tag and records writes.
class Tagged : public IoDevice {
 public:
  explicit Tagged(uint32_t tag) : tag_(tag) {}
  std::string_view name() const override { return "tagged"; }
  uint64_t read(uint64_t offset, unsigned) override { return tag_ + offset; }
  void write(uint64_t offset, unsigned, uint64_t value) override {
    writes.push_back({offset, value});
  }
  std::vector<std::pair<uint64_t, uint64_t>> writes;

 private:
  uint32_t tag_;
};

// Every level change of every line (the GSI and 8259 outputs).
class LevelLog : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override {
    levels.at(irq) = level;
    changes.push_back({irq, level});
  }
  std::array<bool, 24> levels{};
  std::vector<std::pair<unsigned, bool>> changes;
};

class Function : public PciDevice {
 public:
  explicit Function(IntxPin pin = IntxPin::kA, bool multi = false, uint16_t device = 0x1000)
      : PciDevice(identity(pin, multi, device)) {}
  using PciDevice::declare_bar;

 private:
  static PciIdentity identity(IntxPin pin, bool multi, uint16_t device) {
    PciIdentity id;
    id.vendor = 0x1234;
    id.device = device;
    id.class_code = 0x020000;
    id.multi_function = multi;
    id.pin = pin;
    return id;
  }
};

class PciBusTest : public ::testing::Test {
 protected:
  PciBusTest() {
    pio.insert(pc::kPciConfigAddress, 1, pci.address_port());
    pio.insert(pc::kPciConfigData, 4, pci.data_port());
  }

  void select(unsigned slot, unsigned function, unsigned reg) {
    pio.write(0xCF8, 4, 0x80000000u | slot << 11 | function << 8 | reg);
  }
  uint32_t cfg_read(unsigned slot, unsigned function, unsigned offset, unsigned size) {
    select(slot, function, offset & 0xFC);
    return uint32_t(pio.read(0xCFC + (offset & 3), size));
  }
  void cfg_write(unsigned slot, unsigned function, unsigned offset, unsigned size, uint32_t value) {
    select(slot, function, offset & 0xFC);
    pio.write(0xCFC + (offset & 3), size, value);
  }

  Bus pio{BusKind::kPio};
  Bus mmio{BusKind::kMmio};
  LevelLog ioapic, pic;
  PciBus pci{pio, mmio, PciBus::ram_below(0x8000000), &ioapic, &pic};  // 128 MiB RAM
};

TEST(PciBusRemove, RemovesOnlyTheOwnersRangeAtItsBase) {
  Bus bus(BusKind::kMmio);
  auto a = std::make_shared<Tagged>(0x100);
  auto b = std::make_shared<Tagged>(0x200);
  bus.insert(0x1000, 0x100, a);
  bus.insert(0x2000, 0x100, b);
  EXPECT_FALSE(bus.remove(0x1000, *b));  // not b's range
  EXPECT_FALSE(bus.remove(0x1010, *a));  // not a range's base
  EXPECT_EQ(bus.read(0x1010, 4), 0x110u);
  EXPECT_TRUE(bus.remove(0x1000, *a));
  EXPECT_FALSE(bus.claimed(0x1000));
  EXPECT_EQ(bus.read(0x1010, 4), 0xFFFFFFFFu);
  EXPECT_FALSE(bus.remove(0x1000, *a));
  bus.insert(0x1000, 0x1000, a);  // the space is free again, up to b
  EXPECT_EQ(bus.read(0x1FFC, 4), 0x10FCu);
  EXPECT_EQ(bus.read(0x2000, 4), 0x200u);
}

TEST_F(PciBusTest, ConfigAddressIsDwordOnly) {
  pio.write(0xCF8, 4, 0xFFFFFFFF);
  EXPECT_EQ(pio.read(0xCF8, 4), 0x80FFFFFCu);  // reserved bits read 0
  pio.write(0xCF8, 4, 0x80000800);
  pio.write(0xCF8, 1, 0x00);  // byte and word writes go elsewhere
  pio.write(0xCF8, 2, 0x0000);
  EXPECT_EQ(pio.read(0xCF8, 4), 0x80000800u);
  EXPECT_EQ(pio.read(0xCF8, 1), 0xFFu);
  EXPECT_EQ(pio.read(0xCF8, 2), 0xFFFFu);
}

TEST_F(PciBusTest, DataWindowAtEveryWidthAndOffset) {
  pci.add(0, 0, std::make_shared<HostBridge>());
  EXPECT_EQ(cfg_read(0, 0, 0x00, 4), 0x12378086u);
  EXPECT_EQ(cfg_read(0, 0, 0x00, 2), 0x8086u);
  EXPECT_EQ(cfg_read(0, 0, 0x02, 2), 0x1237u);
  EXPECT_EQ(cfg_read(0, 0, 0x01, 2), 0x3780u);  // unaligned word inside the dword
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(cfg_read(0, 0, i, 1), (0x12378086u >> 8 * i) & 0xFF);
  // A dword at 0xCFD: three bytes of the register, then 0xD00 (nothing).
  select(0, 0, 0);
  EXPECT_EQ(pio.read(0xCFD, 4), 0xFF123780u);

  cfg_write(0, 0, 0x3C, 1, 0x0E);
  EXPECT_EQ(cfg_read(0, 0, 0x3C, 1), 0x0Eu);
  cfg_write(0, 0, 0x3C, 2, 0x7709);  // 0x3D (pin) is read-only
  EXPECT_EQ(cfg_read(0, 0, 0x3C, 4), 0x00000009u);
  cfg_write(0, 0, 0x5B, 1, 0xFF);  // PAM2: bits 5:4 and 1:0 hold
  EXPECT_EQ(cfg_read(0, 0, 0x58, 4), 0x33000000u);
}

TEST_F(PciBusTest, AbsentFunctionsOtherBusesAndDisabledWindowReadOnes) {
  pci.add(0, 0, std::make_shared<HostBridge>());
  EXPECT_EQ(cfg_read(3, 0, 0x00, 4), 0xFFFFFFFFu);
  EXPECT_EQ(cfg_read(3, 0, 0x02, 2), 0xFFFFu);
  cfg_write(3, 0, 0x3C, 4, 0);      // ignored, no crash
  pio.write(0xCF8, 4, 0x80010000);  // bus 1, slot 0
  EXPECT_EQ(pio.read(0xCFC, 4), 0xFFFFFFFFu);
  pio.write(0xCF8, 4, 0x00000000);  // enable clear: not a config cycle
  EXPECT_EQ(pio.read(0xCFC, 4), 0xFFFFFFFFu);
  pio.write(0xCFC, 4, 0);
  EXPECT_EQ(cfg_read(0, 0, 0x00, 4), 0x12378086u);
}

TEST_F(PciBusTest, MultiFunctionDiscovery) {
  pci.add(0, 0, std::make_shared<HostBridge>());
  pci.add(1, 0, std::make_shared<IsaBridge>());
  pci.add(1, 1, std::make_shared<Function>(IntxPin::kNone, false, 0x7010));
  pci.add(4, 0, std::make_shared<Function>(IntxPin::kA, false, 0x4000));
  pci.add(4, 2, std::make_shared<Function>(IntxPin::kB, false, 0x4002));  // fn 0 is single
  pci.add(5, 3, std::make_shared<Function>(IntxPin::kB, false, 0x5003));  // no fn 0

  EXPECT_EQ(cfg_read(1, 0, 0x00, 4), 0x70008086u);
  EXPECT_EQ(cfg_read(1, 0, 0x0E, 1), 0x80u);
  EXPECT_EQ(cfg_read(1, 0, 0x08, 4) >> 8, 0x060100u);
  EXPECT_EQ(cfg_read(1, 1, 0x02, 2), 0x7010u);
  EXPECT_EQ(cfg_read(1, 2, 0x00, 4), 0xFFFFFFFFu);
  EXPECT_EQ(cfg_read(4, 2, 0x00, 4), 0xFFFFFFFFu);
  EXPECT_EQ(cfg_read(5, 3, 0x00, 4), 0xFFFFFFFFu);

  auto list = pci.functions();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].slot, 0u);
  EXPECT_EQ(list[2].slot, 1u);
  EXPECT_EQ(list[2].function, 1u);
  EXPECT_FALSE(list[2].link.has_value());
  EXPECT_EQ(list[3].slot, 4u);
  EXPECT_EQ(list[3].pin, IntxPin::kA);
  EXPECT_EQ(list[3].link, pc::pci_link(4, 0));
  EXPECT_EQ(list[3].link, 3u);
}

TEST_F(PciBusTest, AddRejectsDuplicatesAndBadPositions) {
  pci.add(2, 0, std::make_shared<Function>());
  EXPECT_THROW(pci.add(2, 0, std::make_shared<Function>()), Error);
  EXPECT_THROW(pci.add(32, 0, std::make_shared<Function>()), Error);
  EXPECT_THROW(pci.add(3, 8, std::make_shared<Function>()), Error);
  auto twice = std::make_shared<Function>();
  pci.add(3, 0, twice);
  EXPECT_THROW(pci.add(6, 0, twice), Error);
}

TEST_F(PciBusTest, InterruptLineStartsAtTheLinksIrq) {
  pci.add(2, 0, std::make_shared<Function>(IntxPin::kA));  // link 1 -> IRQ 10
  pci.add(3, 0, std::make_shared<Function>(IntxPin::kA));  // link 2 -> IRQ 11
  EXPECT_EQ(cfg_read(2, 0, 0x3C, 1), 10u);
  EXPECT_EQ(cfg_read(3, 0, 0x3C, 1), 11u);
}

// --- BAR mapping ---------------------------------------------------------------

class PciBarMapping : public PciBusTest {
 protected:
  PciBarMapping() {
    fn->declare_bar(0, {BarKind::kIo, 0x20, false, io});
    fn->declare_bar(1, {BarKind::kMemory32, 0x1000, false, mem});
    fn->declare_bar(2, {BarKind::kMemory64, 0x4000, true, mem64});
    pci.add(3, 0, fn);
  }
  std::shared_ptr<Tagged> io = std::make_shared<Tagged>(0x100);
  std::shared_ptr<Tagged> mem = std::make_shared<Tagged>(0x200);
  std::shared_ptr<Tagged> mem64 = std::make_shared<Tagged>(0x300);
  std::shared_ptr<Function> fn = std::make_shared<Function>();
};

TEST_F(PciBarMapping, EnableMapsAndDisableUnmaps) {
  cfg_write(3, 0, 0x10, 4, 0xC000);
  cfg_write(3, 0, 0x14, 4, 0xFEB00000);
  EXPECT_FALSE(pio.claimed(0xC000));  // decode still off
  EXPECT_FALSE(mmio.claimed(0xFEB00000));

  cfg_write(3, 0, 0x04, 2, 0x0001);  // I/O only
  EXPECT_EQ(pio.read(0xC004, 1), 0x104u);
  EXPECT_EQ(pio.read(0xC01F, 1), 0x11Fu);
  EXPECT_FALSE(pio.claimed(0xC020));
  EXPECT_FALSE(mmio.claimed(0xFEB00000));
  EXPECT_EQ(fn->bar_mapping(0), 0xC000u);

  cfg_write(3, 0, 0x04, 2, 0x0003);
  EXPECT_EQ(mmio.read(0xFEB00010, 4), 0x210u);
  mmio.write(0xFEB00FFC, 4, 0x55);
  ASSERT_EQ(mem->writes.size(), 1u);
  EXPECT_EQ(mem->writes[0].first, 0xFFCu);

  cfg_write(3, 0, 0x04, 2, 0x0000);
  EXPECT_FALSE(pio.claimed(0xC000));
  EXPECT_FALSE(mmio.claimed(0xFEB00000));
  EXPECT_EQ(fn->bar_mapping(1), std::nullopt);
}

TEST_F(PciBarMapping, MoveAndSizingUnmap) {
  cfg_write(3, 0, 0x04, 2, 0x0003);
  cfg_write(3, 0, 0x14, 4, 0xFEB00000);
  EXPECT_TRUE(mmio.claimed(0xFEB00000));
  cfg_write(3, 0, 0x14, 4, 0xFEB01000);  // moved
  EXPECT_FALSE(mmio.claimed(0xFEB00000));
  EXPECT_EQ(mmio.read(0xFEB01000, 4), 0x200u);

  cfg_write(3, 0, 0x14, 4, 0xFFFFFFFF);  // sizing with decode on
  EXPECT_EQ(cfg_read(3, 0, 0x14, 4), 0xFFFFF000u);
  EXPECT_FALSE(mmio.claimed(0xFEB01000));
  EXPECT_FALSE(mmio.claimed(0xFFFFF000));
  cfg_write(3, 0, 0x14, 4, 0xFEB01000);
  EXPECT_TRUE(mmio.claimed(0xFEB01000));
  cfg_write(3, 0, 0x14, 4, 0);  // address 0: unassigned
  EXPECT_FALSE(mmio.claimed(0));

  cfg_write(3, 0, 0x10, 4, 0xFFFFFFFF);  // I/O sizing
  EXPECT_EQ(cfg_read(3, 0, 0x10, 4), 0xFFFFFFE1u);
  EXPECT_EQ(fn->bar_mapping(0), std::nullopt);
  cfg_write(3, 0, 0x10, 4, 0x1FFE0);  // beyond the 64 KiB port space
  EXPECT_EQ(fn->bar_mapping(0), std::nullopt);
  cfg_write(3, 0, 0x10, 4, 0xFFE0);  // the last 32 ports
  EXPECT_EQ(pio.read(0xFFFF, 1), 0x11Fu);
}

TEST_F(PciBarMapping, Memory64BarMapsAboveAndBelow4G) {
  cfg_write(3, 0, 0x04, 2, 0x0002);
  cfg_write(3, 0, 0x18, 4, 0xFEB10000);
  EXPECT_EQ(mmio.read(0xFEB10008, 4), 0x308u);
  cfg_write(3, 0, 0x1C, 4, 0x1);  // high half: now at 0x1_FEB10000
  EXPECT_FALSE(mmio.claimed(0xFEB10000));
  EXPECT_EQ(mmio.read(0x1FEB10000, 4), 0x300u);
  cfg_write(3, 0, 0x1C, 4, 0xFFFFFFFF);  // sizing the high half
  EXPECT_EQ(fn->bar_mapping(2), std::nullopt);
}

TEST_F(PciBarMapping, BarOverRamOrAnotherDeviceStaysUnmapped) {
  auto other = std::make_shared<Tagged>(0x900);
  mmio.insert(0xFEC00000, 0x1000, other);
  pio.insert(0x3F8, 8, other);
  cfg_write(3, 0, 0x04, 2, 0x0003);

  cfg_write(3, 0, 0x14, 4, 0x00100000);  // inside the 128 MiB of RAM
  EXPECT_EQ(fn->bar_mapping(1), std::nullopt);
  EXPECT_FALSE(mmio.claimed(0x00100000));
  cfg_write(3, 0, 0x14, 4, 0x07FFF000);  // the last RAM page
  EXPECT_EQ(fn->bar_mapping(1), std::nullopt);
  cfg_write(3, 0, 0x14, 4, 0x08000000);  // just above RAM: fine
  EXPECT_EQ(fn->bar_mapping(1), 0x08000000u);

  cfg_write(3, 0, 0x14, 4, 0xFEC00000);  // over the I/O APIC
  EXPECT_EQ(fn->bar_mapping(1), std::nullopt);
  EXPECT_EQ(mmio.read(0xFEC00000, 4), 0x900u);  // the owner keeps it
  EXPECT_FALSE(mmio.claimed(0x08000000));

  cfg_write(3, 0, 0x10, 4, 0x3E0);  // 0x3E0-0x3FF covers the UART
  EXPECT_EQ(fn->bar_mapping(0), std::nullopt);
  EXPECT_EQ(pio.read(0x3F8, 1), 0x900u);
  cfg_write(3, 0, 0x10, 4, 0x400);  // moved clear of it
  EXPECT_EQ(pio.read(0x400, 1), 0x100u);

  cfg_write(3, 0, 0x10, 4, 0xCE0);  // 0xCE0-0xCFF: over CONFIG_ADDRESS and CONFIG_DATA
  EXPECT_EQ(fn->bar_mapping(0), std::nullopt);
  EXPECT_EQ(cfg_read(3, 0, 0x00, 2), 0x1234u);
}

// --- INTx routing --------------------------------------------------------------

class PciIntxRouting : public PciBusTest {
 protected:
  PciIntxRouting() {
    pci.add(0, 0, std::make_shared<HostBridge>());
    pci.add(1, 0, isa);
    pci.add(2, 0, a);  // INTA: link 1 (PIRQB), GSI 17, IRQ 10
    pci.add(6, 0, b);  // INTA: link 1 as well
    pci.add(3, 0, c);  // INTA: link 2 (PIRQC), GSI 18, IRQ 11
    pci.add(5, 0, d);  // INTA: link 0 (PIRQA), GSI 16, IRQ 10
  }
  std::shared_ptr<IsaBridge> isa = std::make_shared<IsaBridge>();
  std::shared_ptr<Function> a = std::make_shared<Function>();
  std::shared_ptr<Function> b = std::make_shared<Function>();
  std::shared_ptr<Function> c = std::make_shared<Function>();
  std::shared_ptr<Function> d = std::make_shared<Function>();
};

TEST_F(PciIntxRouting, RouteRegistersStartAtTheDefaults) {
  EXPECT_EQ(cfg_read(1, 0, 0x60, 4), 0x0B0B0A0Au);
  EXPECT_EQ(pci.link_irq(0), 10);
  EXPECT_EQ(pci.link_irq(3), 11);
  cfg_write(1, 0, 0x61, 1, 0xFF);  // reserved bits 6:4 read 0
  EXPECT_EQ(cfg_read(1, 0, 0x61, 1), 0x8Fu);
  EXPECT_EQ(pci.link_irq(1), std::nullopt);  // bit 7: not routed
}

TEST_F(PciIntxRouting, SharedLinkIsTheOrOfItsDevices) {
  a->set_intx(true);
  EXPECT_TRUE(ioapic.levels[17]);
  EXPECT_TRUE(pic.levels[10]);
  b->set_intx(true);
  a->set_intx(false);
  EXPECT_TRUE(ioapic.levels[17]);  // b still holds the line
  EXPECT_TRUE(pic.levels[10]);
  b->set_intx(false);
  EXPECT_FALSE(ioapic.levels[17]);
  EXPECT_FALSE(pic.levels[10]);
  // Only changes are driven: one rise and one fall on each output.
  EXPECT_EQ(ioapic.changes, (std::vector<std::pair<unsigned, bool>>{{17, true}, {17, false}}));
  EXPECT_EQ(pic.changes, (std::vector<std::pair<unsigned, bool>>{{10, true}, {10, false}}));
}

TEST_F(PciIntxRouting, LinksSharingAnIrqAndSeparateGsis) {
  a->set_intx(true);  // link 1, IRQ 10
  d->set_intx(true);  // link 0, IRQ 10 as well
  c->set_intx(true);  // link 2, IRQ 11
  EXPECT_TRUE(ioapic.levels[16]);
  EXPECT_TRUE(ioapic.levels[17]);
  EXPECT_TRUE(ioapic.levels[18]);
  EXPECT_FALSE(ioapic.levels[19]);
  a->set_intx(false);
  EXPECT_FALSE(ioapic.levels[17]);
  EXPECT_TRUE(pic.levels[10]);  // link 0 still drives IRQ 10
  d->set_intx(false);
  EXPECT_FALSE(pic.levels[10]);
  EXPECT_TRUE(pic.levels[11]);
}

TEST_F(PciIntxRouting, RerouteMovesAnAssertedLevel) {
  c->set_intx(true);
  EXPECT_TRUE(pic.levels[11]);
  cfg_write(1, 0, 0x62, 1, 0x05);  // PIRQC -> IRQ 5
  EXPECT_FALSE(pic.levels[11]);
  EXPECT_TRUE(pic.levels[5]);
  cfg_write(1, 0, 0x62, 1, 0x85);  // disabled
  EXPECT_FALSE(pic.levels[5]);
  EXPECT_TRUE(ioapic.levels[18]);  // the I/O APIC path does not depend on the route
  cfg_write(1, 0, 0x62, 1, 0x0D);  // reserved IRQ 13: not routed
  EXPECT_FALSE(pic.levels[13]);
  cfg_write(1, 0, 0x60, 4, 0x0B0B0B0B);  // dword write of all four
  EXPECT_TRUE(pic.levels[11]);
  c->set_intx(false);
  EXPECT_FALSE(pic.levels[11]);
}

TEST_F(PciIntxRouting, InterruptDisableDropsTheLine) {
  c->set_intx(true);
  cfg_write(3, 0, 0x04, 2, 0x0400);
  EXPECT_FALSE(ioapic.levels[18]);
  EXPECT_FALSE(pic.levels[11]);
  cfg_write(3, 0, 0x04, 2, 0x0000);
  EXPECT_TRUE(ioapic.levels[18]);
}

TEST_F(PciBusTest, PinsOfOneSlotUseDifferentLinks) {
  pci.add(4, 0, std::make_shared<Function>(IntxPin::kA, true));
  auto fn1 = std::make_shared<Function>(IntxPin::kB);
  pci.add(4, 1, fn1);
  fn1->set_intx(true);  // slot 4 INTB: (4 + 1 + 3) % 4 = link 0
  EXPECT_TRUE(ioapic.levels[16]);
  EXPECT_TRUE(pci.link_level(0));
  EXPECT_EQ(pci.functions()[1].link, 0u);
}

TEST_F(PciBusTest, IntxAssertedBeforeAddIsRouted) {
  auto fn = std::make_shared<Function>(IntxPin::kA);
  fn->set_intx(true);
  pci.add(3, 0, fn);
  EXPECT_TRUE(ioapic.levels[18]);
  EXPECT_TRUE(pic.levels[11]);
}

}  // namespace
}  // namespace tv::dev
