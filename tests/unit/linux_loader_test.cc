// Linux boot protocol loader: synthetic bzImages with the header fields set
// as Debian 12's 6.1 686 kernel sets them (protocol 2.15, relocatable,
// 16 MiB alignment and pref_address), checked through the zero page.
#include "vmm/linux_loader.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/error.h"

namespace tv {
namespace {

constexpr uint32_t kMiB = 1 << 20;

template <typename T>
void put(std::vector<uint8_t>& v, size_t off, T x) {
  std::memcpy(v.data() + off, &x, sizeof x);
}

struct FakeKernel {
  uint16_t version = 0x020F;
  uint8_t setup_sects = 2;
  uint8_t loadflags = 0x01;  // LOADED_HIGH
  uint8_t relocatable = 1;
  uint32_t kernel_alignment = 16 * kMiB;
  uint64_t pref_address = 16 * kMiB;
  uint32_t init_size = 20 * kMiB;
  uint32_t cmdline_size = 2047;
  uint32_t initrd_addr_max = 0x7FFFFFFF;
  size_t payload = 0x3000;  // protected-mode bytes, filled with 0xC3 after a marker

  std::vector<uint8_t> build() const {
    size_t sects = setup_sects ? setup_sects : 4;
    std::vector<uint8_t> img((sects + 1) * 512 + payload, 0xC3);
    std::fill(img.begin(), img.begin() + (sects + 1) * 512, 0);
    img[0x1F1] = setup_sects;
    put<uint16_t>(img, 0x1FE, 0xAA55);
    img[0x200] = 0xEB, img[0x201] = 0x6A;  // jmp over a header ending at 0x26C
    std::memcpy(img.data() + 0x202, "HdrS", 4);
    put(img, 0x206, version);
    img[0x211] = loadflags;
    put<uint32_t>(img, 0x214, 0x100000);
    put(img, 0x22C, initrd_addr_max);
    put(img, 0x230, kernel_alignment);
    img[0x234] = relocatable;
    put(img, 0x238, cmdline_size);
    put(img, 0x258, pref_address);
    put(img, 0x260, init_size);
    img[0x268] = 0x5A;  // inside the header: copied
    img[0x270] = 0x77;  // past the header's end: not copied
    put<uint32_t>(img, (sects + 1) * 512, 0xFEEDC0DE);
    return img;
  }
};

template <typename T>
T zp(const GuestMemory& mem, uint64_t off) {
  return mem.load<T>(GuestPhys{kLinuxZeroPage + off});
}

std::string guest_string(const GuestMemory& mem, uint32_t addr) {
  std::string s;
  for (char c; (c = char(mem.load<uint8_t>(GuestPhys{addr}))) != 0; ++addr) s += c;
  return s;
}

TEST(LinuxLoader, EntersProtectedModeKernelWithZeroPage) {
  GuestMemory mem(64 * kMiB);
  BootState s = load_linux(mem, FakeKernel{}.build(), "console=ttyS0", {});
  // Relocatable with 16 MiB alignment: loaded where it would run anyway.
  EXPECT_EQ(s.eip, 16 * kMiB);
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{16 * kMiB}), 0xFEEDC0DEu);
  EXPECT_EQ(mem.load<uint8_t>(GuestPhys{16 * kMiB + 0x2FFF}), 0xC3);
  EXPECT_EQ(s.esi, kLinuxZeroPage);
  EXPECT_EQ(s.ebx, 0u);
  EXPECT_EQ(s.ebp, 0u);
  EXPECT_EQ(s.edi, 0u);
  EXPECT_EQ(zp<uint32_t>(mem, 0x214), 16 * kMiB);  // code32_start follows the load address
}

TEST(LinuxLoader, CopiesSetupHeaderAndFillsLoaderFields) {
  GuestMemory mem(64 * kMiB);
  load_linux(mem, FakeKernel{}.build(), "console=ttyS0 panic=-1", {});
  EXPECT_EQ(zp<uint8_t>(mem, 0x1F1), 2);
  EXPECT_EQ(zp<uint16_t>(mem, 0x1FE), 0xAA55);
  EXPECT_EQ(zp<uint32_t>(mem, 0x202), 0x53726448u);  // "HdrS"
  EXPECT_EQ(zp<uint16_t>(mem, 0x206), 0x020F);
  EXPECT_EQ(zp<uint8_t>(mem, 0x268), 0x5A);
  EXPECT_EQ(zp<uint8_t>(mem, 0x270), 0);               // past 0x202 + jump displacement
  EXPECT_EQ(zp<uint8_t>(mem, 0x210), 0xFF);            // type_of_loader
  EXPECT_EQ(zp<uint8_t>(mem, 0x211), 0x81);            // LOADED_HIGH | CAN_USE_HEAP
  EXPECT_EQ(zp<uint16_t>(mem, 0x224), 0xDE00);         // heap_end_ptr
  EXPECT_EQ(zp<uint32_t>(mem, 0x228), kLinuxCmdline);  // cmd_line_ptr
  EXPECT_EQ(guest_string(mem, kLinuxCmdline), "console=ttyS0 panic=-1");
  EXPECT_EQ(zp<uint32_t>(mem, 0x218), 0u);  // no initrd
  EXPECT_EQ(zp<uint32_t>(mem, 0x21C), 0u);
}

TEST(LinuxLoader, WritesE820Map) {
  GuestMemory mem(64 * kMiB);
  load_linux(mem, FakeKernel{}.build(), "", {});
  ASSERT_EQ(zp<uint8_t>(mem, 0x1E8), 4);
  struct {
    uint64_t addr, size;
    uint32_t type;
  } want[] = {{0, 0x9FC00, 1}, {0x9FC00, 0x400, 2}, {0xE0000, 0x20000, 2}, {kMiB, 63 * kMiB, 1}};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(zp<uint64_t>(mem, 0x2D0 + 20 * i), want[i].addr);
    EXPECT_EQ(zp<uint64_t>(mem, 0x2D0 + 20 * i + 8), want[i].size);
    EXPECT_EQ(zp<uint32_t>(mem, 0x2D0 + 20 * i + 16), want[i].type);
  }
  EXPECT_EQ(zp<uint32_t>(mem, 0x1E0), 63u * 1024);  // alt_mem_k
}

TEST(LinuxLoader, SmallAlignmentLoadsAtOneMiB) {
  FakeKernel k;
  k.kernel_alignment = 0x2000;
  k.pref_address = kMiB;
  GuestMemory mem(32 * kMiB);
  EXPECT_EQ(load_linux(mem, k.build(), "", {}).eip, kMiB);
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{kMiB}), 0xFEEDC0DEu);
}

TEST(LinuxLoader, NonRelocatableKernelLoadsAtOneMiB) {
  FakeKernel k;
  k.relocatable = 0;
  GuestMemory mem(64 * kMiB);
  EXPECT_EQ(load_linux(mem, k.build(), "", {}).eip, kMiB);
}

TEST(LinuxLoader, ZeroSetupSectsMeansFour) {
  FakeKernel k;
  k.setup_sects = 0;
  GuestMemory mem(64 * kMiB);
  load_linux(mem, k.build(), "", {});
  EXPECT_EQ(mem.load<uint32_t>(GuestPhys{16 * kMiB}), 0xFEEDC0DEu);
}

TEST(LinuxLoader, ConcatenatesInitrdsHighAndAligned) {
  GuestMemory mem(64 * kMiB);
  std::vector<BootModule> initrds = {{"a", {1, 2, 3, 4, 5}}, {"b", {6, 7}}};
  load_linux(mem, FakeKernel{}.build(), "", initrds);
  uint32_t image = zp<uint32_t>(mem, 0x218), size = zp<uint32_t>(mem, 0x21C);
  EXPECT_EQ(size, 12u);  // the first padded to 4 bytes so the second starts aligned
  EXPECT_EQ(image % 4096, 0u);
  EXPECT_EQ(image, 64 * kMiB - 4096);
  uint8_t got[12];
  mem.read(GuestPhys{image}, got);
  const uint8_t want[12] = {1, 2, 3, 4, 5, 0, 0, 0, 6, 7, 0, 0};
  EXPECT_EQ(std::memcmp(got, want, 12), 0);
}

TEST(LinuxLoader, InitrdStaysBelowInitrdAddrMax) {
  FakeKernel k;
  k.initrd_addr_max = 40 * kMiB - 1;
  GuestMemory mem(64 * kMiB);
  load_linux(mem, k.build(), "", {{"r", std::vector<uint8_t>(10000, 0xAB)}});
  EXPECT_EQ(zp<uint32_t>(mem, 0x218), 40 * kMiB - 3 * 4096);
}

TEST(LinuxLoader, InitrdMayNotOverlapDecompressionArea) {
  // The kernel uses [16 MiB, 36 MiB); 40 MiB of RAM leaves 4 MiB above it.
  GuestMemory mem(40 * kMiB);
  load_linux(mem, FakeKernel{}.build(), "", {{"r", std::vector<uint8_t>(4 * kMiB, 1)}});
  EXPECT_EQ(zp<uint32_t>(mem, 0x218), 36 * kMiB);
  GuestMemory mem2(40 * kMiB);
  EXPECT_THROW(
      load_linux(mem2, FakeKernel{}.build(), "", {{"r", std::vector<uint8_t>(4 * kMiB + 1, 1)}}),
      Error);
}

void expect_error(const std::vector<uint8_t>& img, uint64_t mem_size, const std::string& cmdline,
                  const char* fragment) {
  GuestMemory mem(mem_size);
  try {
    load_linux(mem, img, cmdline, {});
    ADD_FAILURE() << "no error, expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(LinuxLoader, RejectsWhatItCannotBoot) {
  auto good = FakeKernel{}.build();
  auto no_magic = good;
  no_magic[0x202] = 'X';
  expect_error(no_magic, 64 * kMiB, "", "not a Linux bzImage");
  expect_error(std::vector<uint8_t>(0x100, 0), 64 * kMiB, "", "not a Linux bzImage");
  FakeKernel old;
  old.version = 0x0204;
  expect_error(old.build(), 64 * kMiB, "", "2.04 is too old");
  FakeKernel zimage;
  zimage.loadflags = 0;
  expect_error(zimage.build(), 64 * kMiB, "", "zImage");
  // 16 MiB + 20 MiB of init_size does not fit in 32 MiB.
  expect_error(good, 32 * kMiB, "", "kernel does not fit");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 3 * 512), 64 * kMiB, "",
               "truncated");
  FakeKernel short_cmdline;
  short_cmdline.cmdline_size = 8;
  expect_error(short_cmdline.build(), 64 * kMiB, "123456789", "at most 8");
}

TEST(LinuxLoader, CommandLineOfExactlyCmdlineSizeFits) {
  FakeKernel k;
  k.cmdline_size = 8;
  GuestMemory mem(64 * kMiB);
  load_linux(mem, k.build(), "12345678", {});
  EXPECT_EQ(guest_string(mem, kLinuxCmdline), "12345678");
}

}  // namespace
}  // namespace tv
