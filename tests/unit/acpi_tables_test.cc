// Reads the ACPI tables back from guest RAM the way a kernel does: scan for
// the RSDP, follow RSDT/XSDT, check every checksum, then the fields. The
// DSDT's values are checked against pc_platform.h in the compiled AML, and,
// when acpica-tools are installed, by disassembling it (iasl -d) and by
// evaluating _PRT in ACPICA's own interpreter (acpiexec).
#include "firmware/acpi_tables.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "devices/pc_platform.h"

namespace tv::fw {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

std::vector<uint8_t> read_bytes(const GuestMemory& mem, uint64_t addr, size_t len) {
  std::vector<uint8_t> v(len);
  mem.read(GuestPhys{addr}, v);
  return v;
}
uint8_t sum(const std::vector<uint8_t>& v) {
  uint8_t s = 0;
  for (uint8_t b : v) s = uint8_t(s + b);
  return s;
}
std::string text(const GuestMemory& mem, uint64_t addr, size_t len) {
  auto v = read_bytes(mem, addr, len);
  return std::string(v.begin(), v.end());
}
template <typename T>
T at(const GuestMemory& mem, uint64_t addr) {
  return mem.load<T>(GuestPhys{addr});
}
bool in_bios_area(uint64_t addr, uint64_t len) {
  return addr >= pc::kFirmwareBase && addr + len <= pc::kFirmwareEnd;
}

// ACPI 6.4 5.2.5.1: "RSD PTR " on a 16-byte boundary whose first 20 bytes sum to 0.
std::vector<uint64_t> scan_for_rsdp(const GuestMemory& mem) {
  std::vector<uint64_t> found;
  for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
    if (text(mem, a, 8) == "RSD PTR " && sum(read_bytes(mem, a, 20)) == 0) found.push_back(a);
  return found;
}

// A system description table: checked header, then its address and length.
struct Sdt {
  std::string signature;
  uint64_t addr = 0;
  uint32_t length = 0;
};
Sdt table_at(const GuestMemory& mem, uint64_t addr) {
  Sdt t{text(mem, addr, 4), addr, at<uint32_t>(mem, addr + 4)};
  EXPECT_GE(t.length, 36u) << t.signature;
  EXPECT_TRUE(in_bios_area(addr, t.length)) << t.signature;
  EXPECT_EQ(sum(read_bytes(mem, addr, t.length)), 0) << t.signature << " checksum";
  return t;
}

class AcpiTablesTest : public ::testing::Test {
 protected:
  // Writes the tables and indexes the XSDT's by signature.
  void write(unsigned cpus = 1) {
    d.cpus = cpus;
    rsdp = write_acpi_tables(mem, d).value;
    uint64_t xsdt = at<uint64_t>(mem, rsdp + 24);
    Sdt x = table_at(mem, xsdt);
    for (uint64_t e = xsdt + 36; e < xsdt + x.length; e += 8) {
      Sdt t = table_at(mem, at<uint64_t>(mem, e));
      tables[t.signature] = t;
    }
  }
  uint64_t addr(const std::string& sig) { return tables.at(sig).addr; }

  GuestMemory mem{2 * kMiB};
  Description d;
  uint64_t rsdp = 0;
  std::map<std::string, Sdt> tables;
};

TEST_F(AcpiTablesTest, RsdpIsFoundByTheSpecScanWithBothChecksums) {
  write();
  EXPECT_EQ(scan_for_rsdp(mem), std::vector<uint64_t>{rsdp});
  EXPECT_EQ(at<uint8_t>(mem, rsdp + 15), 2);     // revision
  EXPECT_EQ(at<uint32_t>(mem, rsdp + 20), 36u);  // length
  EXPECT_EQ(sum(read_bytes(mem, rsdp, 36)), 0);  // extended checksum
  EXPECT_EQ(text(mem, rsdp + 9, 6), "TVISOR");
}

TEST_F(AcpiTablesTest, RsdtAndXsdtPointAtTheSameFadtMadtAndHpet) {
  write();
  Sdt rsdt = table_at(mem, at<uint32_t>(mem, rsdp + 16));
  Sdt xsdt = table_at(mem, at<uint64_t>(mem, rsdp + 24));
  ASSERT_EQ(rsdt.signature, "RSDT");
  ASSERT_EQ(xsdt.signature, "XSDT");
  ASSERT_EQ(rsdt.length, 36u + 3 * 4);
  ASSERT_EQ(xsdt.length, 36u + 3 * 8);
  std::vector<std::string> sigs;
  for (unsigned i = 0; i < 3; ++i) {
    uint64_t r = at<uint32_t>(mem, rsdt.addr + 36 + 4 * i);
    EXPECT_EQ(r, at<uint64_t>(mem, xsdt.addr + 36 + 8 * i));
    sigs.push_back(table_at(mem, r).signature);
  }
  EXPECT_EQ(sigs, (std::vector<std::string>{"FACP", "APIC", "HPET"}));
}

TEST_F(AcpiTablesTest, FadtDescribesThePmBlockResetRegisterAndSci) {
  write();
  const uint64_t f = addr("FACP");
  EXPECT_EQ(tables.at("FACP").length, 244u);
  EXPECT_EQ(at<uint8_t>(mem, f + 8), 3);  // revision
  EXPECT_EQ(at<uint16_t>(mem, f + 46), pc::kSciIrq);
  EXPECT_EQ(at<uint32_t>(mem, f + 48), 0u);  // SMI_CMD: ACPI mode always on
  EXPECT_EQ(at<uint32_t>(mem, f + 56), pc::kPm1aEvt);
  EXPECT_EQ(at<uint32_t>(mem, f + 60), 0u);  // no PM1b
  EXPECT_EQ(at<uint32_t>(mem, f + 64), pc::kPm1aCnt);
  EXPECT_EQ(at<uint32_t>(mem, f + 76), pc::kPmTmr);
  EXPECT_EQ(at<uint32_t>(mem, f + 80), pc::kGpe0Base);
  EXPECT_EQ(at<uint8_t>(mem, f + 88), 4);  // PM1_EVT_LEN
  EXPECT_EQ(at<uint8_t>(mem, f + 89), 2);  // PM1_CNT_LEN
  EXPECT_EQ(at<uint8_t>(mem, f + 91), 4);  // PM_TMR_LEN
  EXPECT_EQ(at<uint8_t>(mem, f + 92), pc::kGpe0Length);
  EXPECT_EQ(at<uint8_t>(mem, f + 108), 0x32);  // CENTURY
  EXPECT_EQ(at<uint16_t>(mem, f + 109), fadt::kBoot8042 | fadt::kBootLegacyDevices);
  EXPECT_EQ(at<uint32_t>(mem, f + 112), fadt::kFlags);
  EXPECT_TRUE(at<uint32_t>(mem, f + 112) & fadt::kResetRegSup);
  // RESET_REG: system I/O, 8 bits at 0xCF9, value 6.
  EXPECT_EQ(at<uint8_t>(mem, f + 116), 1);
  EXPECT_EQ(at<uint8_t>(mem, f + 117), 8);
  EXPECT_EQ(at<uint64_t>(mem, f + 120), pc::kResetPort);
  EXPECT_EQ(at<uint8_t>(mem, f + 128), pc::kResetValue);
  // X_PM1a_EVT, X_PM1a_CNT, X_PM_TMR, X_GPE0: system I/O GAS, same ports.
  const std::pair<unsigned, uint64_t> x_blocks[] = {
      {148, pc::kPm1aEvt}, {172, pc::kPm1aCnt}, {208, pc::kPmTmr}, {220, pc::kGpe0Base}};
  const uint8_t widths[] = {32, 16, 32, uint8_t(pc::kGpe0Length * 8)};
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(at<uint8_t>(mem, f + x_blocks[i].first), 1) << i;
    EXPECT_EQ(at<uint8_t>(mem, f + x_blocks[i].first + 1), widths[i]) << i;
    EXPECT_EQ(at<uint64_t>(mem, f + x_blocks[i].first + 4), x_blocks[i].second) << i;
  }
}

TEST_F(AcpiTablesTest, FadtPointsAtTheFacsAndTheDsdtTwice) {
  write();
  const uint64_t f = addr("FACP");
  const uint64_t facs = at<uint32_t>(mem, f + 36);
  EXPECT_EQ(at<uint64_t>(mem, f + 132), facs);
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(text(mem, facs, 4), "FACS");
  EXPECT_EQ(at<uint32_t>(mem, facs + 4), 64u);
  EXPECT_TRUE(in_bios_area(facs, 64));
  const uint64_t dsdt = at<uint32_t>(mem, f + 40);
  EXPECT_EQ(at<uint64_t>(mem, f + 140), dsdt);
  Sdt t = table_at(mem, dsdt);
  EXPECT_EQ(t.signature, "DSDT");
  auto aml = dsdt_aml();
  EXPECT_EQ(read_bytes(mem, dsdt, t.length), std::vector<uint8_t>(aml.begin(), aml.end()));
}

// MADT entries by type, each checked to have its spec length.
std::multimap<uint8_t, uint64_t> madt_entries(const GuestMemory& mem, uint64_t madt, uint32_t len) {
  static const std::map<uint8_t, uint8_t> kLength = {{0, 8}, {1, 12}, {2, 10}, {4, 6}};
  std::multimap<uint8_t, uint64_t> entries;
  for (uint64_t e = madt + 44; e < madt + len; e += at<uint8_t>(mem, e + 1)) {
    uint8_t type = at<uint8_t>(mem, e);
    EXPECT_EQ(at<uint8_t>(mem, e + 1), kLength.at(type)) << "type " << int(type);
    entries.emplace(type, e);
  }
  return entries;
}

void expect_madt(const GuestMemory& mem, uint64_t madt, uint32_t len, unsigned cpus) {
  EXPECT_EQ(len, 44 + 8 * cpus + 12 + 2 * 10 + 6);
  EXPECT_EQ(at<uint32_t>(mem, madt + 36), pc::kLapicBase);
  EXPECT_EQ(at<uint32_t>(mem, madt + 40), 1u);  // PCAT_COMPAT
  auto entries = madt_entries(mem, madt, len);
  ASSERT_EQ(entries.count(0), cpus);
  unsigned cpu = 0;
  for (auto [it, end] = entries.equal_range(0); it != end; ++it, ++cpu) {
    EXPECT_EQ(at<uint8_t>(mem, it->second + 2), cpu);  // ACPI UID
    EXPECT_EQ(at<uint8_t>(mem, it->second + 3), cpu);  // APIC ID
    EXPECT_EQ(at<uint32_t>(mem, it->second + 4), 1u);  // enabled
  }
  ASSERT_EQ(entries.count(1), 1u);
  const uint64_t io = entries.find(1)->second;
  EXPECT_EQ(at<uint8_t>(mem, io + 2), pc::kIoapicId);
  EXPECT_EQ(at<uint32_t>(mem, io + 4), pc::kIoapicBase);
  EXPECT_EQ(at<uint32_t>(mem, io + 8), 0u);
  std::map<uint8_t, std::pair<uint32_t, uint16_t>> overrides;  // irq -> gsi, flags
  for (auto [it, end] = entries.equal_range(2); it != end; ++it) {
    EXPECT_EQ(at<uint8_t>(mem, it->second + 2), 0);  // ISA
    overrides[at<uint8_t>(mem, it->second + 3)] = {at<uint32_t>(mem, it->second + 4),
                                                   at<uint16_t>(mem, it->second + 8)};
  }
  EXPECT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides[0], std::pair(2u, uint16_t(0x5)));  // edge, active-high
  EXPECT_EQ(overrides[pc::kSciIrq], std::pair(uint32_t(pc::kSciIrq), uint16_t(0xD)));  // level
  ASSERT_EQ(entries.count(4), 1u);
  const uint64_t nmi = entries.find(4)->second;
  EXPECT_EQ(at<uint8_t>(mem, nmi + 2), 0xFF);  // all processors
  EXPECT_EQ(at<uint8_t>(mem, nmi + 5), 1);     // LINT1
}

TEST_F(AcpiTablesTest, MadtForOneCpu) {
  write(1);
  expect_madt(mem, addr("APIC"), tables.at("APIC").length, 1);
}

TEST_F(AcpiTablesTest, MadtForFourCpus) {
  write(4);
  expect_madt(mem, addr("APIC"), tables.at("APIC").length, 4);
}

TEST_F(AcpiTablesTest, HpetTableNamesTheBlockAndItsAddress) {
  write();
  const uint64_t h = addr("HPET");
  EXPECT_EQ(tables.at("HPET").length, 56u);
  EXPECT_EQ(at<uint32_t>(mem, h + 36), 0x8086A201u);
  EXPECT_EQ(at<uint8_t>(mem, h + 40), 0);  // system memory
  EXPECT_EQ(at<uint64_t>(mem, h + 44), pc::kHpetBase);
  EXPECT_EQ(at<uint8_t>(mem, h + 52), 0);  // HPET number
  EXPECT_EQ(at<uint16_t>(mem, h + 53), 128);
}

TEST_F(AcpiTablesTest, RewriteReplacesStaleTables) {
  write(4);
  // A stale but valid-looking RSDP elsewhere in the area, as a guest could leave.
  std::vector<uint8_t> fake(20, 0);
  std::memcpy(fake.data(), "RSD PTR ", 8);
  fake[8] = uint8_t(-sum(fake));
  mem.write(GuestPhys{0xEFF00}, fake);
  tables.clear();
  write(1);
  EXPECT_EQ(scan_for_rsdp(mem), std::vector<uint64_t>{rsdp});
  EXPECT_EQ(madt_entries(mem, addr("APIC"), tables.at("APIC").length).count(0), 1u);
}

TEST_F(AcpiTablesTest, TablesThatDoNotFitThrow) {
  d.cpus = 255;
  d.acpi_area = {0xE0000, 0xE0400};
  EXPECT_THROW(write_acpi_tables(mem, d), Error);
  d.acpi_area = {0xD0000, 0xE0000};  // outside the BIOS area
  EXPECT_THROW(write_acpi_tables(mem, d), Error);
  d = Description{};
  GuestMemory small(512 * 1024);  // RAM ends below the BIOS area
  EXPECT_THROW(write_acpi_tables(small, d), Error);
  d.cpus = 255;  // the largest description fits the default area
  EXPECT_NO_THROW(write_acpi_tables(mem, d));
}

TEST_F(AcpiTablesTest, InvalidDescriptionsThrow) {
  for (unsigned cpus : {0u, 256u}) {
    d.cpus = cpus;
    EXPECT_THROW(write_acpi_tables(mem, d), Error) << cpus;
  }
  d = Description{};
  d.hpet_address = 0xFED01000;  // the DSDT says pc::kHpetBase
  EXPECT_THROW(write_acpi_tables(mem, d), Error);
  d = Description{};
  d.isa_overrides.push_back({16, 16, Polarity::kActiveLow, Trigger::kLevel});
  EXPECT_THROW(write_acpi_tables(mem, d), Error);
  d = Description{};
  d.mp_area = d.acpi_area;
  EXPECT_THROW(write_acpi_tables(mem, d), Error);
}

// --- The DSDT against pc_platform.h -------------------------------------

std::vector<uint8_t> aml() {
  auto a = dsdt_aml();
  return {a.begin(), a.end()};
}
size_t count(const std::vector<uint8_t>& hay, const std::vector<uint8_t>& needle) {
  size_t n = 0;
  for (auto it = hay.begin();
       (it = std::search(it, hay.end(), needle.begin(), needle.end())) != hay.end(); ++it)
    ++n;
  return n;
}
std::vector<uint8_t> le(uint64_t v, unsigned bytes) {
  std::vector<uint8_t> out;
  for (unsigned i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
  return out;
}
// AML integer encoding of a small constant (ACPI 6.4 20.2.3).
std::vector<uint8_t> aml_byte(uint8_t v) {
  if (v == 0) return {0x00};
  if (v == 1) return {0x01};
  return {0x0A, v};
}
// IO (Decode16, port, port, 1, len) (6.4.2.5).
std::vector<uint8_t> io_descriptor(uint16_t port, uint8_t len) {
  std::vector<uint8_t> v = {0x47, 0x01};
  for (int i = 0; i < 2; ++i) v.insert(v.end(), {uint8_t(port), uint8_t(port >> 8)});
  v.insert(v.end(), {0x01, len});
  return v;
}

TEST(Dsdt, HeaderAndChecksum) {
  auto a = aml();
  ASSERT_GE(a.size(), 36u);
  EXPECT_EQ(std::string(a.begin(), a.begin() + 4), "DSDT");
  EXPECT_EQ(a[4] | a[5] << 8 | a[6] << 16 | a[7] << 24, int(a.size()));
  EXPECT_EQ(a[8], 2);  // revision 2: 64-bit integers
  EXPECT_EQ(sum(a), 0);
}

TEST(Dsdt, S5PackageHoldsTheSleepType) {
  // NameOp "_S5_" PackageOp PkgLength NumElements(4) SLP_TYPa SLP_TYPb ...
  std::vector<uint8_t> s5 = {'_', 'S', '5', '_', 0x12};
  auto a = aml();
  auto it = std::search(a.begin(), a.end(), s5.begin(), s5.end());
  ASSERT_NE(it, a.end());
  it += 5 + 1;  // PkgLength is one byte for a package this small
  EXPECT_EQ(*it++, 4);
  std::vector<uint8_t> typ = aml_byte(pc::kSleepTypeS5);
  EXPECT_TRUE(std::equal(typ.begin(), typ.end(), it));
  EXPECT_TRUE(std::equal(typ.begin(), typ.end(), it + ptrdiff_t(typ.size())));
}

TEST(Dsdt, ResourcesMatchThePlatform) {
  auto a = aml();
  // Memory32Fixed (ReadOnly, pc::kHpetBase, 0x400) (6.4.3.4).
  std::vector<uint8_t> hpet = {0x86, 0x09, 0x00, 0x00};
  for (uint8_t b : le(pc::kHpetBase, 4)) hpet.push_back(b);
  for (uint8_t b : le(0x400, 4)) hpet.push_back(b);
  EXPECT_EQ(count(a, hpet), 1u);
  EXPECT_EQ(count(a, io_descriptor(pc::kPmBase, pc::kPmLength)), 1u);
  EXPECT_EQ(count(a, io_descriptor(pc::kGpe0Base, pc::kGpe0Length)), 1u);
  EXPECT_EQ(count(a, io_descriptor(pc::kPciConfigAddress, 8)), 1u);
  EXPECT_EQ(count(a, io_descriptor(0x3F8, 8)), 1u);
  // IRQ (Level, ActiveLow, Shared) {n}: one per link wired to n.
  for (uint8_t irq : pc::kPciLinkDefaultIrq) {
    std::vector<uint8_t> d = {0x23, uint8_t(1u << irq), uint8_t((1u << irq) >> 8), 0x18};
    EXPECT_EQ(count(a, d), size_t(std::count(std::begin(pc::kPciLinkDefaultIrq),
                                             std::end(pc::kPciLinkDefaultIrq), irq)))
        << int(irq);
  }
}

// --- With acpica-tools ---------------------------------------------------

std::optional<std::string> on_path(const std::string& tool) {
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + tool;
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/tv_acpi_test_XXXXXX";
    path = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path.empty()) std::filesystem::remove_all(path);
  }
  std::string path;
};

// Runs `command` through the shell; returns its exit status and output.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  return {pclose(p), out};
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

TEST(Dsdt, DisassemblesWithIasl) {
  auto iasl = on_path("iasl");
  if (!iasl) GTEST_SKIP() << "iasl not on PATH";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  write_file(dir.path + "/dsdt.aml", aml());
  auto [status, out] = run(*iasl + " -vs -p " + dir.path + "/out -d " + dir.path + "/dsdt.aml");
  ASSERT_EQ(status, 0) << out;
  std::ifstream dsl(dir.path + "/out.dsl");
  std::string source((std::istreambuf_iterator<char>(dsl)), std::istreambuf_iterator<char>());
  EXPECT_NE(source.find("Name (_S5, Package"), std::string::npos);
  EXPECT_NE(source.find("EisaId (\"PNP0A03\")"), std::string::npos);
}

// The _PRT entries (4-element packages) in acpiexec's output: integers
// (printed in hex) in decimal, references by the name of their device.
std::vector<std::vector<std::string>> parse_prt(const std::string& out) {
  std::vector<std::vector<std::string>> entries;
  std::stringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[Package] Contains 4 Elements") != std::string::npos) entries.emplace_back();
    if (entries.empty() || entries.back().size() >= 4) continue;
    if (auto i = line.find("[Integer] = "); i != std::string::npos) {
      entries.back().push_back(std::to_string(std::stoull(line.substr(i + 12), nullptr, 16)));
    } else if (auto n = line.find("Name ");
               n != std::string::npos && line.find("[Object Reference]") != std::string::npos) {
      entries.back().push_back(line.substr(n + 5, 4));
    }
  }
  return entries;
}

TEST(Dsdt, PrtFollowsPciLinkInBothInterruptModes) {
  auto iasl = on_path("iasl");
  auto acpiexec = on_path("acpiexec");
  if (!iasl || !acpiexec) GTEST_SKIP() << "iasl or acpiexec not on PATH";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  write_file(dir.path + "/dsdt.aml", aml());
  // A helper table: PRTL evaluates _PRT once, PRTH(h) returns half h of it
  // (the debugger prints at most 16 KiB per result, each command costs ~10 ms).
  std::ofstream(dir.path + "/prte.asl") << R"(DefinitionBlock ("", "SSDT", 2, "TVISOR", "PRTE", 1) {
    External (\_SB.PCI0._PRT, MethodObj)
    Name (PRTC, Zero)
    Method (PRTL, 0) { CopyObject (\_SB.PCI0._PRT (), PRTC) }
    Method (PRTH, 1) {
      Local0 = Package (62) {}
      Local1 = Zero
      While (Local1 < 62) {
        Local0 [Local1] = DerefOf (PRTC [Arg0 * 62 + Local1])
        Local1++
      }
      Return (Local0)
    }
  })";
  auto [cstatus, compile_out] =
      run(*iasl + " -vs -p " + dir.path + "/prte " + dir.path + "/prte.asl");
  ASSERT_EQ(cstatus, 0) << compile_out;
  // acpiexec's debugger reads commands from stdin (-b takes at most 1023 characters).
  constexpr unsigned kEntries = 31 * 4;  // slots 1-31, pins A-D
  const char* kLinks[] = {"LNKA", "LNKB", "LNKC", "LNKD"};
  {
    std::ofstream commands(dir.path + "/commands");
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 1) commands << "evaluate \\_PIC 1\n";
      commands << "evaluate PRTL\nevaluate PRTH 0\nevaluate PRTH 1\n";
    }
    for (const char* link : kLinks) commands << "evaluate \\_SB." << link << "._CRS\n";
    commands << "quit\n";
  }
  auto [status, out] = run(*acpiexec + " -dt " + dir.path + "/dsdt.aml " + dir.path +
                           "/prte.aml < " + dir.path + "/commands");
  ASSERT_EQ(status, 0) << out;
  auto entries = parse_prt(out);
  ASSERT_EQ(entries.size(), 2 * kEntries) << out.substr(0, 2000);
  for (unsigned mode = 0; mode < 2; ++mode) {
    for (unsigned i = 0; i < kEntries; ++i) {
      const unsigned slot = 1 + i / 4, pin = i % 4, link = pc::pci_link(slot, pin);
      std::vector<std::string> want = {std::to_string(slot << 16 | 0xFFFF), std::to_string(pin)};
      if (mode == 0) {
        want.insert(want.end(), {kLinks[link], "0"});
      } else {
        want.insert(want.end(), {"0", std::to_string(pc::kPciLinkGsiBase + link)});
      }
      EXPECT_EQ(entries[mode * kEntries + i], want)
          << "mode " << mode << " slot " << slot << " pin " << pin;
    }
  }
  // Each link's _CRS: IRQ (Level, ActiveLow, Shared) {pc::kPciLinkDefaultIrq[link]}.
  for (unsigned link = 0; link < pc::kPciLinks; ++link) {
    const unsigned mask = 1u << pc::kPciLinkDefaultIrq[link];
    char want[32];
    snprintf(want, sizeof want, "0000: 23 %02X %02X 18 79 00", mask & 0xFF, mask >> 8);
    auto at = out.find(std::string("Evaluation of \\_SB.") + kLinks[link] + "._CRS returned");
    ASSERT_NE(at, std::string::npos) << kLinks[link];
    EXPECT_NE(out.substr(at, 300).find(want), std::string::npos) << out.substr(at, 300);
  }
}

}  // namespace
}  // namespace tv::fw
