// Reads the MP tables back the way Linux's mpparse does: scan the BIOS ROM
// range for "_MP_", check the pointer and the configuration table, then walk
// the entries and compare them with pc_platform.h's wiring.
#include "firmware/mp_table.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "devices/pc_platform.h"
#include "firmware/acpi_tables.h"

namespace tv::fw {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

template <typename T>
T at(const GuestMemory& mem, uint64_t addr) {
  return mem.load<T>(GuestPhys{addr});
}
std::string text(const GuestMemory& mem, uint64_t addr, size_t len) {
  std::string s(len, '\0');
  mem.read(GuestPhys{addr}, {reinterpret_cast<uint8_t*>(s.data()), len});
  return s;
}
uint8_t sum(const GuestMemory& mem, uint64_t addr, size_t len) {
  uint8_t s = 0;
  for (size_t i = 0; i < len; ++i) s = uint8_t(s + at<uint8_t>(mem, addr + i));
  return s;
}

// MP 1.4 4.1: "_MP_" on a 16-byte boundary, one paragraph long, summing to 0.
std::vector<uint64_t> scan_for_mp(const GuestMemory& mem) {
  std::vector<uint64_t> found;
  for (uint64_t a = 0xF0000; a < 0x100000; a += 16)
    if (text(mem, a, 4) == "_MP_" && at<uint8_t>(mem, a + 8) == 1 && sum(mem, a, 16) == 0)
      found.push_back(a);
  return found;
}

struct Entry {
  uint8_t type;
  uint64_t addr;
};
// A 4-byte I/O or local interrupt entry, with its leading type byte.
struct Interrupt {
  uint8_t kind;
  uint16_t flags;
  uint8_t bus, bus_irq, dest, pin;
  bool operator==(const Interrupt&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Interrupt& i) {
  return os << "{kind " << int(i.kind) << " flags " << i.flags << " bus " << int(i.bus) << " irq "
            << int(i.bus_irq) << " dest " << int(i.dest) << " pin " << int(i.pin) << "}";
}

class MpTableTest : public ::testing::Test {
 protected:
  void write(unsigned cpus = 1) {
    d.cpus = cpus;
    pointer = write_mp_table(mem, d).value;
    config = at<uint32_t>(mem, pointer + 4);
    entries.clear();
    const uint64_t end = config + at<uint16_t>(mem, config + 4);
    for (uint64_t e = config + 44; e < end; e += at<uint8_t>(mem, e) == 0 ? 20 : 8)
      entries.push_back({at<uint8_t>(mem, e), e});
  }
  std::vector<uint64_t> of_type(uint8_t type) const {
    std::vector<uint64_t> v;
    for (const Entry& e : entries)
      if (e.type == type) v.push_back(e.addr);
    return v;
  }
  Interrupt interrupt(uint64_t e) const {
    return {at<uint8_t>(mem, e + 1), at<uint16_t>(mem, e + 2), at<uint8_t>(mem, e + 4),
            at<uint8_t>(mem, e + 5), at<uint8_t>(mem, e + 6),  at<uint8_t>(mem, e + 7)};
  }

  GuestMemory mem{2 * kMiB};
  Description d;
  uint64_t pointer = 0, config = 0;
  std::vector<Entry> entries;
};

TEST_F(MpTableTest, FloatingPointerIsFoundByScan) {
  write();
  EXPECT_EQ(scan_for_mp(mem), std::vector<uint64_t>{pointer});
  EXPECT_EQ(at<uint8_t>(mem, pointer + 9), 4);  // spec revision 1.4
  for (unsigned i = 11; i < 16; ++i)            // no default config, IMCR absent
    EXPECT_EQ(at<uint8_t>(mem, pointer + i), 0) << i;
  EXPECT_GE(config, 0xF0000u);
}

TEST_F(MpTableTest, ConfigurationHeaderAndChecksum) {
  write(2);
  const uint16_t length = at<uint16_t>(mem, config + 4);
  EXPECT_EQ(text(mem, config, 4), "PCMP");
  EXPECT_EQ(at<uint8_t>(mem, config + 6), 4);
  EXPECT_EQ(sum(mem, config, length), 0);
  EXPECT_EQ(text(mem, config + 8, 8), "TVISOR  ");
  EXPECT_EQ(at<uint32_t>(mem, config + 28), 0u);  // no OEM table
  EXPECT_EQ(at<uint16_t>(mem, config + 34), entries.size());
  EXPECT_EQ(at<uint32_t>(mem, config + 36), pc::kLapicBase);
  EXPECT_EQ(at<uint16_t>(mem, config + 40), 0);  // no extended table
  EXPECT_EQ(at<uint8_t>(mem, config + 42), 0);
  EXPECT_LE(config + length, pc::kFirmwareEnd);
  // 2 CPUs, 2 buses, 1 I/O APIC, 15 ISA interrupts, 2 local interrupts.
  EXPECT_EQ(entries.size(), 2u + 2 + 1 + 15 + 2);
  EXPECT_EQ(length, 44 + 2 * 20 + 20 * 8);
  for (size_t i = 1; i < entries.size(); ++i)
    EXPECT_LE(entries[i - 1].type, entries[i].type) << "entries sorted by type";
}

TEST_F(MpTableTest, ProcessorBusAndIoApicEntries) {
  write(4);
  auto cpus = of_type(0);
  ASSERT_EQ(cpus.size(), 4u);
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(at<uint8_t>(mem, cpus[i] + 1), i);               // APIC ID
    EXPECT_EQ(at<uint8_t>(mem, cpus[i] + 2), 0x14);            // APIC version
    EXPECT_EQ(at<uint8_t>(mem, cpus[i] + 3), i == 0 ? 3 : 1);  // EN, BP on CPU 0
    EXPECT_EQ(at<uint32_t>(mem, cpus[i] + 4) >> 8 & 0xF, 6u);  // family 6
    EXPECT_EQ(at<uint32_t>(mem, cpus[i] + 8), d.cpu_features);
  }
  auto buses = of_type(1);
  ASSERT_EQ(buses.size(), 2u);
  EXPECT_EQ(at<uint8_t>(mem, buses[0] + 1), kMpPciBus);
  EXPECT_EQ(text(mem, buses[0] + 2, 6), "PCI   ");
  EXPECT_EQ(at<uint8_t>(mem, buses[1] + 1), kMpIsaBus);
  EXPECT_EQ(text(mem, buses[1] + 2, 6), "ISA   ");
  auto ioapics = of_type(2);
  ASSERT_EQ(ioapics.size(), 1u);
  EXPECT_EQ(at<uint8_t>(mem, ioapics[0] + 1), pc::kIoapicId);
  EXPECT_EQ(at<uint8_t>(mem, ioapics[0] + 2), 0x11);
  EXPECT_EQ(at<uint8_t>(mem, ioapics[0] + 3), 1);  // enabled
  EXPECT_EQ(at<uint32_t>(mem, ioapics[0] + 4), pc::kIoapicBase);
}

TEST_F(MpTableTest, IsaInterruptsFollowTheOverrides) {
  write();
  std::map<uint8_t, Interrupt> isa;
  for (uint64_t e : of_type(3)) {
    Interrupt i = interrupt(e);
    EXPECT_EQ(i.bus, kMpIsaBus);
    isa[i.bus_irq] = i;
  }
  ASSERT_EQ(isa.size(), 15u);
  EXPECT_EQ(isa.count(2), 0u);  // the cascade
  for (unsigned irq = 0; irq < 16; ++irq) {
    if (irq == 2) continue;
    const uint16_t flags = irq == 0 ? 0x5 : irq == pc::kSciIrq ? 0xD : 0;
    EXPECT_EQ(isa[irq], (Interrupt{0, flags, kMpIsaBus, uint8_t(irq), pc::kIoapicId,
                                   uint8_t(pc::isa_irq_to_gsi(irq))}));
  }
}

TEST_F(MpTableTest, PciInterruptsFollowPciLinkOnce) {
  d.pci_interrupts = {{3, 0}, {31, 3}, {4, 1}, {3, 0}};  // one listed twice
  write();
  std::vector<Interrupt> pci;
  for (uint64_t e : of_type(3))
    if (interrupt(e).bus == kMpPciBus) pci.push_back(interrupt(e));
  auto want = [](uint8_t slot, uint8_t pin) {
    return Interrupt{0,
                     0xF,
                     kMpPciBus,
                     uint8_t(slot << 2 | pin),
                     pc::kIoapicId,
                     uint8_t(pc::kPciLinkGsiBase + pc::pci_link(slot, pin))};
  };
  EXPECT_EQ(pci, (std::vector<Interrupt>{want(3, 0), want(4, 1), want(31, 3)}));
  EXPECT_EQ(pci[0].pin, 16 + 2);  // slot 3 INTA# is PIRQC
}

TEST_F(MpTableTest, LocalInterruptsAreExtIntAndNmi) {
  write();
  auto local = of_type(4);
  ASSERT_EQ(local.size(), 2u);
  EXPECT_EQ(interrupt(local[0]), (Interrupt{3, 0, kMpIsaBus, 0, 0xFF, 0}));  // ExtINT, LINT0
  EXPECT_EQ(interrupt(local[1]), (Interrupt{1, 0, kMpIsaBus, 0, 0xFF, 1}));  // NMI, LINT1
}

TEST_F(MpTableTest, TablesThatDoNotFitThrow) {
  d.cpus = 255;
  d.mp_area = {0xF0000, 0xF1000};  // 255 processor entries alone take 5100 bytes
  EXPECT_THROW(write_mp_table(mem, d), Error);
  d.mp_area = {0xE8000, 0xF0000};  // outside the range Linux scans
  d.acpi_area = {0xE0000, 0xE8000};
  EXPECT_THROW(write_mp_table(mem, d), Error);
  d = Description{};
  d.pci_interrupts = {{32, 0}};
  EXPECT_THROW(write_mp_table(mem, d), Error);
  d.pci_interrupts = {{0, 0}};  // the host bridge has no INTx
  EXPECT_THROW(write_mp_table(mem, d), Error);
  d = Description{};
  d.cpus = 255;
  EXPECT_NO_THROW(write_mp_table(mem, d));
}

TEST_F(MpTableTest, AcpiAndMpTablesShareTheBiosArea) {
  d.cpus = 4;
  d.pci_interrupts = {{3, 0}};
  const uint64_t rsdp = write_acpi_tables(mem, d).value;
  write(4);
  EXPECT_EQ(scan_for_mp(mem), std::vector<uint64_t>{pointer});
  EXPECT_EQ(text(mem, rsdp, 8), "RSD PTR ");  // the MP write kept the ACPI tables
  EXPECT_EQ(sum(mem, rsdp, 36), 0);
  EXPECT_GE(pointer, pc::kFirmwareBase);
  EXPECT_LT(rsdp, 0xF0000u);
}

}  // namespace
}  // namespace tv::fw
