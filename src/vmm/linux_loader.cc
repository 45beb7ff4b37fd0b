// Linux/x86 boot protocol loader. Section names below are those of
// Documentation/arch/x86/boot.rst ("boot.rst") and zero-page.rst; field
// offsets are those of struct boot_params (arch/x86/include/uapi/asm/
// bootparam.h), which starts with the zero page fields and holds the setup
// header at 0x1F1, exactly where it sits in the bzImage file.
//
// Guest memory after loading:
//   0x10000   zero page (4 KiB)             0x20000   command line
//   load      protected-mode kernel, which decompresses itself in
//             [runtime_start, runtime_start + init_size)
//   top       initrds, concatenated, page-aligned, as high as allowed
#include "vmm/linux_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "vmm/bios_state.h"

namespace tv {
namespace {

// Setup header fields (boot.rst "The Real-Mode Kernel Header").
constexpr size_t kSetupSects = 0x1F1, kJump = 0x200, kHeaderMagic = 0x202, kVersion = 0x206,
                 kTypeOfLoader = 0x210, kLoadflags = 0x211, kCode32Start = 0x214,
                 kRamdiskImage = 0x218, kRamdiskSize = 0x21C, kHeapEndPtr = 0x224,
                 kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22C, kKernelAlignment = 0x230,
                 kRelocatable = 0x234, kCmdlineSize = 0x238, kPrefAddress = 0x258,
                 kInitSize = 0x260;
// The setup header never reaches past this (bootparam.h: _pad7 up to 0x290).
constexpr size_t kSetupHeaderLimit = 0x290;
// Zero page fields outside the setup header (zero-page.rst).
constexpr size_t kAltMemK = 0x1E0, kE820Entries = 0x1E8, kE820Table = 0x2D0;
constexpr size_t kZeroPageSize = 4096;

constexpr uint8_t kLoadedHigh = 1u << 0, kCanUseHeap = 1u << 7;
constexpr uint8_t kLoaderUndefined = 0xFF;  // boot.rst "type_of_loader": no assigned ID
constexpr uint16_t kMinVersion = 0x0206;    // 32-bit entry with cmdline_size known
constexpr uint64_t kHighLoad = 0x100000;    // where a bzImage's protected-mode part goes
// boot.rst "Sample Boot Configuration": heap_end = 0xe000 for a loaded-high
// kernel, heap_end_ptr = heap_end - 0x200. Only the real-mode setup code,
// which we skip, uses the heap; the field is filled for kernels that check it.
constexpr uint16_t kHeapEndPtr16 = 0xE000 - 0x200;

struct KernelHeader {
  uint16_t version = 0;
  uint64_t setup_bytes = 0;  // the real-mode part: (setup_sects + 1) sectors
  size_t header_end = 0;     // end of the setup header in the file
  bool relocatable = false;
  uint32_t kernel_alignment = 1;
  uint64_t pref_address = kHighLoad;
  uint32_t init_size = 0;
  uint32_t cmdline_size = 0;
  uint32_t initrd_addr_max = 0x37FFFFFF;  // boot.rst: the default before protocol 2.03
};

struct KernelPlacement {
  uint64_t load;           // where the protected-mode part is copied and entered
  uint64_t runtime_start;  // where it decompresses itself
  uint64_t end;            // end of everything it uses before reading the e820 map
};

template <typename T>
T get(std::span<const uint8_t> bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

template <typename T>
void put(std::span<uint8_t> bytes, size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

uint64_t align_up(uint64_t v, uint64_t align) { return (v + align - 1) & ~(align - 1); }

KernelHeader parse_header(std::span<const uint8_t> image) {
  if (image.size() < kSetupHeaderLimit || std::memcmp(image.data() + kHeaderMagic, "HdrS", 4) != 0)
    throw Error("kernel is not a Linux bzImage (no \"HdrS\" setup header at 0x202)");
  KernelHeader h;
  h.version = get<uint16_t>(image, kVersion);
  if (h.version < kMinVersion)
    throw Error(
        fmt::format("Linux boot protocol {}.{:02} is too old; transvisor needs 2.06 or newer",
                    h.version >> 8, h.version & 0xFF));
  if (!(image[kLoadflags] & kLoadedHigh))
    throw Error("kernel is a zImage (not LOADED_HIGH); only bzImage kernels are supported");
  // boot.rst "setup_sects": 0 means 4 for historical reasons.
  unsigned sects = image[kSetupSects] ? image[kSetupSects] : 4;
  h.setup_bytes = (sects + 1) * 512ull;
  // boot.rst "The Real-Mode Kernel Header": the header ends at 0x202 plus
  // the displacement of the short jump at 0x200.
  h.header_end = std::min<size_t>(0x202 + image[kJump + 1], kSetupHeaderLimit);
  h.initrd_addr_max = get<uint32_t>(image, kInitrdAddrMax);  // 2.03+
  h.relocatable = image[kRelocatable] != 0;                  // 2.05+
  h.kernel_alignment = std::max<uint32_t>(get<uint32_t>(image, kKernelAlignment), 1);
  if (h.relocatable && (h.kernel_alignment & (h.kernel_alignment - 1)))
    throw Error(
        fmt::format("bzImage kernel_alignment {:#x} is not a power of two", h.kernel_alignment));
  h.cmdline_size = get<uint32_t>(image, kCmdlineSize);  // 2.06+
  if (h.version >= 0x020A) {
    // Clamped to 4 GiB, which never fits, so that sums cannot overflow.
    h.pref_address =
        std::clamp<uint64_t>(get<uint64_t>(image, kPrefAddress), kHighLoad, 1ull << 32);
    h.init_size = get<uint32_t>(image, kInitSize);
  }
  if (image.size() <= h.setup_bytes)
    throw Error(fmt::format("bzImage is truncated: {} bytes, but its setup code alone takes {}",
                            image.size(), h.setup_bytes));
  return h;
}

// A relocatable kernel runs at its load address rounded up to
// kernel_alignment, but never below LOAD_PHYSICAL_ADDR, which it exports as
// pref_address (arch/x86/boot/compressed/head_32.S, startup_32). Loading it
// right there, as GRUB does, spares it a copy and makes its footprint exact.
// A non-relocatable kernel is loaded at 1 MiB and moves itself to
// pref_address (boot.rst "pref_address"). Before protocol 2.10 there is no
// init_size: the footprint is then the image itself.
KernelPlacement place_kernel(const KernelHeader& h, uint64_t image_size, uint64_t mem_size) {
  uint64_t runtime = h.pref_address;
  if (h.relocatable) runtime = std::max(align_up(kHighLoad, h.kernel_alignment), h.pref_address);
  uint64_t load = h.relocatable ? runtime : kHighLoad;
  uint64_t end = std::max(load + image_size, runtime + h.init_size);
  if (end > mem_size)
    throw Error(
        fmt::format("kernel does not fit: it needs RAM up to {:#x} (loaded at {:#x}, "
                    "init_size {:#x}), guest RAM is {} MiB; raise --mem",
                    end, load, h.init_size, mem_size >> 20));
  return {load, runtime, end};
}

// BIOS-style map (zero-page.rst "e820_table"): the kernel needs the usable
// low 639 KiB as well as the RAM above 1 MiB.
void put_e820(std::span<uint8_t> zero_page, uint64_t mem_size) {
  const std::vector<MemoryRange> map = pc_memory_map(mem_size);
  size_t off = kE820Table;
  for (const auto& e : map) {  // struct boot_e820_entry is packed: 20 bytes
    put(zero_page, off, e.addr);
    put(zero_page, off + 8, e.len);
    put(zero_page, off + 16, uint32_t(e.type));
    off += 20;
  }
  zero_page[kE820Entries] = uint8_t(map.size());
  put(zero_page, kAltMemK, uint32_t((mem_size - kHighLoad) >> 10));
}

// The kernel unpacks concatenated cpio archives, compressed or not, if each
// starts 4-byte aligned (init/initramfs.c, unpack_to_rootfs); zero padding
// between them is skipped.
uint64_t padded_size(const BootModule& m) { return align_up(m.data.size(), 4); }

// Puts the initrds as high as RAM and initrd_addr_max allow (boot.rst
// "ramdisk_image"), above everything the kernel uses while decompressing.
// Returns the ramdisk's address and size.
std::pair<uint64_t, uint64_t> load_initrds(GuestMemory& memory, const KernelHeader& h,
                                           uint64_t kernel_end,
                                           const std::vector<BootModule>& initrds) {
  uint64_t total = 0;
  for (const auto& m : initrds) total += padded_size(m);
  if (total == 0) return {0, 0};
  uint64_t top = std::min<uint64_t>(memory.size(), uint64_t(h.initrd_addr_max) + 1);
  uint64_t addr = total <= top ? (top - total) & kPageMask : 0;
  if (total > top || addr < kernel_end)
    throw Error(
        fmt::format("initrd ({} bytes) does not fit between the kernel's end at {:#x} "
                    "and {:#x}; raise --mem",
                    total, kernel_end, top));
  uint64_t next = addr;
  for (const auto& m : initrds) {
    memory.write(GuestPhys{next}, m.data);
    static constexpr uint8_t kZeros[4] = {};
    memory.write(GuestPhys{next + m.data.size()},
                 std::span(kZeros, padded_size(m) - m.data.size()));
    next += padded_size(m);
  }
  return {addr, total};
}

}  // namespace

BootState load_linux(GuestMemory& memory, std::span<const uint8_t> image,
                     const std::string& cmdline, const std::vector<BootModule>& initrds) {
  KernelHeader h = parse_header(image);
  auto kernel = image.subspan(h.setup_bytes);
  KernelPlacement place = place_kernel(h, kernel.size(), memory.size());
  if (cmdline.size() > h.cmdline_size)
    throw Error(fmt::format("kernel command line is {} bytes; this kernel takes at most {}",
                            cmdline.size(), h.cmdline_size));

  memory.write(GuestPhys{place.load}, kernel);
  auto [ramdisk, ramdisk_size] = load_initrds(memory, h, place.end, initrds);
  memory.write(GuestPhys{kLinuxCmdline},
               {reinterpret_cast<const uint8_t*>(cmdline.c_str()), cmdline.size() + 1});

  // boot.rst "Details of Header Fields": the loader copies the header and
  // fills in the fields marked "write".
  std::array<uint8_t, kZeroPageSize> zero_page{};
  std::copy(image.begin() + kSetupSects, image.begin() + h.header_end,
            zero_page.begin() + kSetupSects);
  zero_page[kTypeOfLoader] = kLoaderUndefined;
  zero_page[kLoadflags] |= kCanUseHeap;
  put(std::span(zero_page), kCode32Start, uint32_t(place.load));
  put(std::span(zero_page), kHeapEndPtr, kHeapEndPtr16);
  put(std::span(zero_page), kCmdLinePtr, uint32_t(kLinuxCmdline));
  put(std::span(zero_page), kRamdiskImage, uint32_t(ramdisk));
  put(std::span(zero_page), kRamdiskSize, uint32_t(ramdisk_size));
  put_e820(zero_page, memory.size());
  memory.write(GuestPhys{kLinuxZeroPage}, zero_page);

  log::get("loader")->debug(
      "Linux boot protocol {}.{:02}: kernel at {:#x} ({} bytes), runs at {:#x}, needs up to {:#x}; "
      "initrd at {:#x} ({} bytes)",
      h.version >> 8, h.version & 0xFF, place.load, kernel.size(), place.runtime_start, place.end,
      ramdisk, ramdisk_size);
  // boot.rst "32-bit Boot Protocol": ESI = boot_params, EBP/EDI/EBX = 0,
  // interrupts and paging off (the backends' flat protected-mode reset).
  BootState state;
  state.eip = uint32_t(place.load);
  state.esi = uint32_t(kLinuxZeroPage);
  // Not part of the protocol: a stack below the zero page for kernels that
  // push before setting their own (6.1 takes one inside boot_params).
  state.esp = uint32_t(kLinuxZeroPage);
  // "a GDT must be loaded with the descriptors for selectors __BOOT_CS(0x10)
  // and __BOOT_DS(0x18)", CS and DS/ES/SS set to them.
  write_boot_gdt(memory, kLinuxSelectors, state);
  return state;
}

}  // namespace tv
