#include "vmm/multiboot.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

#include "base/error.h"

namespace tv {
namespace {

constexpr uint32_t kMagic = 0x1BADB002;

void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) {
  if (v.size() < off + 4) v.resize(off + 4);
  std::memcpy(v.data() + off, &x, 4);
}

// An a.out-kludge image: header at offset 0, loaded at 1 MiB, entry 1 MiB + 0x40.
std::vector<uint8_t> kludge_image(uint32_t load_end_offset = 0x100, uint32_t bss = 0x1000) {
  std::vector<uint8_t> img(0x100, 0x90);
  uint32_t flags = 0x00010003;
  put32(img, 0, kMagic);
  put32(img, 4, flags);
  put32(img, 8, uint32_t(-(kMagic + flags)));
  put32(img, 12, 0x100000);                    // header_addr
  put32(img, 16, 0x100000);                    // load_addr
  put32(img, 20, 0x100000 + load_end_offset);  // load_end_addr
  put32(img, 24, 0x100000 + bss);              // bss_end_addr
  put32(img, 28, 0x100040);                    // entry
  return img;
}

// A minimal ELF32 with one PT_LOAD at `paddr` and a multiboot header.
std::vector<uint8_t> elf_image(uint32_t paddr, uint32_t memsz, uint32_t vaddr = 0) {
  if (!vaddr) vaddr = paddr;
  std::vector<uint8_t> img(0x200, 0);
  Elf32_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS32;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_386;
  eh.e_entry = vaddr + 0x10;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf32_Phdr);
  eh.e_phnum = 1;
  std::memcpy(img.data(), &eh, sizeof eh);
  Elf32_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_offset = 0x100;
  ph.p_vaddr = vaddr;
  ph.p_paddr = paddr;
  ph.p_filesz = 0x100;
  ph.p_memsz = memsz;
  std::memcpy(img.data() + sizeof eh, &ph, sizeof ph);
  put32(img, 0x100, kMagic);
  put32(img, 0x104, 3);
  put32(img, 0x108, uint32_t(-(kMagic + 3)));
  return img;
}

TEST(Multiboot, LoadsKludgeImageAndBuildsInfo) {
  GuestMemory mem(16 << 20);
  auto img = kludge_image();
  BootState s = load_multiboot(mem, img, "hello-arg", {{"mod0", {1, 2, 3}}});
  EXPECT_EQ(s.eax, 0x2BADB002u);
  EXPECT_EQ(s.eip, 0x100040u);
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{0x100000}), kMagic);
  EXPECT_EQ(mem.load<uint8_t>(GuestPhys{0x100100}), 0);  // bss cleared
  GuestPhys info{s.ebx};
  uint32_t flags = mem.load<uint32_t>(info);
  EXPECT_TRUE(flags & (1 << 0));
  EXPECT_TRUE(flags & (1 << 6));
  EXPECT_EQ(mem.load<uint32_t>(info + 4), 639u);
  EXPECT_EQ(mem.load<uint32_t>(info + 8), (15u << 20) >> 10);
  char cmdline[16] = {};
  mem.read(GuestPhys{mem.load<uint32_t>(info + 16)}, {reinterpret_cast<uint8_t*>(cmdline), 10});
  EXPECT_STREQ(cmdline, "hello-arg");
  EXPECT_EQ(mem.load<uint32_t>(info + 20), 1u);  // mods_count
  uint32_t mod = mem.load<uint32_t>(info + 24);
  uint32_t mod_start = mem.load<uint32_t>(GuestPhys{mod});
  EXPECT_EQ(mod_start % 4096, 0u);
  EXPECT_GE(mod_start, 0x101000u);  // after the kernel's bss
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{mod + 4}), mod_start + 3);
  EXPECT_EQ(mem.load<uint8_t>(GuestPhys{mod_start + 2}), 3);
}

TEST(Multiboot, LoadsElfAndTranslatesHigherHalfEntry) {
  GuestMemory mem(16 << 20);
  auto img = elf_image(0x200000, 0x2000, 0xC0200000);
  BootState s = load_multiboot(mem, img, "", {});
  EXPECT_EQ(s.eip, 0x200010u);
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{0x200000}), kMagic);
}

TEST(Multiboot, KernelBelowOneMebibyteLoadsWithInfoAfterIt) {
  GuestMemory mem(16 << 20);
  auto img = elf_image(0x10000, 0x2000);
  BootState s = load_multiboot(mem, img, "low", {{"mod.bin arg=1", {9}}});
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{0x10000}), kMagic);
  EXPECT_GE(s.ebx, 0x12000u);  // the information follows the kernel
  EXPECT_LT(s.ebx, 0x9FC00u);
  GuestPhys info{s.ebx};
  uint32_t mod = mem.load<uint32_t>(info + 24);
  EXPECT_GE(mem.load<uint32_t>(GuestPhys{mod}), 1u << 20);  // modules above 1 MiB
  char name[16] = {};
  mem.read(GuestPhys{mem.load<uint32_t>(GuestPhys{mod + 8})},
           {reinterpret_cast<uint8_t*>(name), 13});
  EXPECT_STREQ(name, "mod.bin arg=1");  // the module string is the whole entry
}

TEST(Multiboot, LeavesAFlatGdtLoaded) {
  GuestMemory mem(16 << 20);
  BootState s = load_multiboot(mem, elf_image(0x200000, 0x2000), "", {});
  EXPECT_EQ(s.code_selector, 0x08);
  EXPECT_EQ(s.data_selector, 0x10);
  EXPECT_EQ(s.gdt_limit, 23);
  EXPECT_EQ(mem.load<uint64_t>(GuestPhys{s.gdt_base}), 0u);
  EXPECT_EQ(mem.load<uint64_t>(GuestPhys{s.gdt_base + 8}), 0x00CF9B000000FFFFull);
  EXPECT_EQ(mem.load<uint64_t>(GuestPhys{s.gdt_base + 16}), 0x00CF93000000FFFFull);
}

TEST(Multiboot, MemoryMapReservesTheFirmwareAreas) {
  GuestMemory mem(16 << 20);
  BootState s = load_multiboot(mem, elf_image(0x200000, 0x2000), "", {});
  GuestPhys info{s.ebx};
  uint32_t len = mem.load<uint32_t>(info + 44), addr = mem.load<uint32_t>(info + 48);
  ASSERT_EQ(len, 4 * 24u);
  // Entry 2: the BIOS area with the ACPI and MP tables, reserved.
  EXPECT_EQ(mem.load<uint64_t>(GuestPhys{addr + 2 * 24 + 4}), 0xE0000u);
  EXPECT_EQ(mem.load<uint64_t>(GuestPhys{addr + 2 * 24 + 12}), 0x20000u);
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{addr + 2 * 24 + 20}), 2u);
}

void expect_error(const std::vector<uint8_t>& img, uint64_t mem_size, const std::string& part) {
  GuestMemory mem(mem_size);
  try {
    load_multiboot(mem, img, "", {});
    FAIL() << "expected an error containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST(Multiboot, RejectsMalformedImages) {
  std::vector<uint8_t> junk(10000, 0x55);
  expect_error(junk, 16 << 20, "no multiboot header");
  auto late = junk;
  put32(late, 8192, kMagic);  // just past the 8 KiB search window
  expect_error(late, 16 << 20, "no multiboot header");
  auto bad = kludge_image();
  put32(bad, 8, 0);
  expect_error(bad, 16 << 20, "checksum");
  expect_error(elf_image(0x200000, 0x2000), 2 << 20, "outside guest RAM");
  expect_error(elf_image(0x100000, 32 << 20), 16 << 20, "larger than guest RAM");
  auto not_elf = elf_image(0x200000, 0x2000);
  not_elf[0] = 0;
  expect_error(not_elf, 16 << 20, "not an ELF");
  expect_error(elf_image(0xA0000, 0x1000), 16 << 20, "overlaps memory reserved");
  expect_error(elf_image(0x0, 0x1000), 16 << 20, "overlaps memory reserved");
}

}  // namespace
}  // namespace tv
