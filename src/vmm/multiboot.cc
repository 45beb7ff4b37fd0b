#include "vmm/multiboot.h"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/error.h"
#include "base/log.h"
#include "vmm/bios_state.h"

namespace tv {
namespace {

constexpr uint32_t kHeaderMagic = 0x1BADB002;
constexpr uint32_t kBootMagic = 0x2BADB002;
constexpr size_t kSearchBytes = 8192;

// Header flags (spec 3.1.2): bits 0-15 are requirements the loader must meet.
constexpr uint32_t kFlagPageAlignModules = 1u << 0;
constexpr uint32_t kFlagMemInfo = 1u << 1;
constexpr uint32_t kFlagVideoMode = 1u << 2;
constexpr uint32_t kFlagAoutKludge = 1u << 16;
constexpr uint32_t kSupportedRequired = kFlagPageAlignModules | kFlagMemInfo | kFlagVideoMode;

// Info flags (spec 3.3).
constexpr uint32_t kInfoMem = 1u << 0, kInfoCmdline = 1u << 2, kInfoMods = 1u << 3,
                   kInfoMmap = 1u << 6, kInfoLoaderName = 1u << 9;

struct LoadedImage {
  uint32_t entry;
  uint64_t start, end;  // lowest and highest guest-physical byte loaded (end exclusive)
};

struct Header {
  size_t offset;  // of the magic in the image
  uint32_t flags;
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

#pragma pack(push, 1)
struct Info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
};
struct MmapEntry {
  uint32_t size;
  uint64_t addr, len;
  uint32_t type;
};
struct Module {
  uint32_t mod_start, mod_end, string, reserved;
};
#pragma pack(pop)

uint32_t word(std::span<const uint8_t> image, size_t offset) {
  uint32_t v;
  std::memcpy(&v, image.data() + offset, 4);
  return v;
}

std::optional<Header> find_header(std::span<const uint8_t> image) {
  size_t limit = std::min(image.size(), kSearchBytes);
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    if (word(image, off) != kHeaderMagic) continue;
    Header h{off, word(image, off + 4), 0, 0, 0, 0, 0};
    if (uint32_t(kHeaderMagic + h.flags + word(image, off + 8)) != 0)
      throw Error("multiboot header checksum is wrong");
    if (h.flags & kFlagAoutKludge) {
      if (off + 32 > image.size()) throw Error("multiboot header is truncated");
      h.header_addr = word(image, off + 12);
      h.load_addr = word(image, off + 16);
      h.load_end_addr = word(image, off + 20);
      h.bss_end_addr = word(image, off + 24);
      h.entry_addr = word(image, off + 28);
    }
    return h;
  }
  return std::nullopt;
}

void check_fits(const GuestMemory& memory, uint64_t addr, uint64_t len, const char* what) {
  if (len > memory.size())
    throw Error(fmt::format("{} ({} bytes) is larger than guest RAM ({} MiB); raise --mem", what,
                            len, memory.size() >> 20));
  if (!memory.contains(GuestPhys{addr}, len))
    throw Error(fmt::format("{} at {:#x}-{:#x} lies outside guest RAM ({} MiB)", what, addr,
                            addr + len, memory.size() >> 20));
}

// Firmware owns the IVT, the BIOS data area, the EBDA and [0xA0000, 1 MiB)
// (the firmware tables live there); a kernel anywhere else loads.
void check_not_firmware(uint64_t addr, uint64_t len, const char* what) {
  if (overlaps_firmware(addr, len))
    throw Error(
        fmt::format("{} at {:#x}-{:#x} overlaps memory reserved for the BIOS data area, the EBDA "
                    "or the firmware tables (below 0x500, or 0x9fc00-0x100000)",
                    what, addr, addr + len));
}

// Loads the a.out-kludge image (spec 3.1.3).
LoadedImage load_kludge(GuestMemory& memory, std::span<const uint8_t> image, const Header& h) {
  if (h.load_addr > h.header_addr)
    throw Error("multiboot header: load_addr lies above header_addr");
  uint64_t file_start = h.offset - (h.header_addr - h.load_addr);
  if (h.offset < h.header_addr - h.load_addr)
    throw Error("multiboot header: load_addr is before the file");
  uint64_t load_len =
      h.load_end_addr ? uint64_t(h.load_end_addr) - h.load_addr : image.size() - file_start;
  if (h.load_end_addr && h.load_end_addr < h.load_addr)
    throw Error("multiboot header: load_end_addr lies below load_addr");
  if (file_start + load_len > image.size())
    throw Error("multiboot header: load_end_addr lies past the file");
  uint64_t end = h.bss_end_addr ? std::max<uint64_t>(h.bss_end_addr, h.load_addr + load_len)
                                : h.load_addr + load_len;
  check_fits(memory, h.load_addr, end - h.load_addr, "kernel image");
  check_not_firmware(h.load_addr, end - h.load_addr, "kernel image");
  memory.write(GuestPhys{h.load_addr}, image.subspan(file_start, load_len));
  std::memset(memory.host(GuestPhys{h.load_addr + load_len}), 0, end - h.load_addr - load_len);
  return {h.entry_addr, h.load_addr, end};
}

LoadedImage load_elf(GuestMemory& memory, std::span<const uint8_t> image) {
  if (image.size() < sizeof(Elf32_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0)
    throw Error("kernel is not an ELF file and its multiboot header has no load addresses");
  Elf32_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_machine != EM_386)
    throw Error("kernel is not a 32-bit x86 ELF file (multiboot v1 needs ELF32)");
  if (eh.e_phentsize != sizeof(Elf32_Phdr) ||
      uint64_t(eh.e_phoff) + uint64_t(eh.e_phnum) * sizeof(Elf32_Phdr) > image.size())
    throw Error("kernel ELF program headers are malformed");
  uint32_t entry = eh.e_entry;
  uint64_t start = ~0ull, end = 0;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf32_Phdr ph;
    std::memcpy(&ph, image.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz || uint64_t(ph.p_offset) + ph.p_filesz > image.size())
      throw Error(fmt::format("kernel ELF segment {} is malformed", i));
    check_fits(memory, ph.p_paddr, ph.p_memsz, "kernel segment");
    check_not_firmware(ph.p_paddr, ph.p_memsz, "kernel segment");
    memory.write(GuestPhys{ph.p_paddr}, image.subspan(ph.p_offset, ph.p_filesz));
    std::memset(memory.host(GuestPhys{uint64_t(ph.p_paddr) + ph.p_filesz}), 0,
                ph.p_memsz - ph.p_filesz);
    // A higher-half kernel links its entry at a virtual address: translate
    // it through the segment that contains it, as GRUB does.
    if (eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz)
      entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
    start = std::min<uint64_t>(start, ph.p_paddr);
    end = std::max<uint64_t>(end, uint64_t(ph.p_paddr) + ph.p_memsz);
  }
  if (end == 0) throw Error("kernel ELF file has no loadable segments");
  return {entry, start, end};
}

uint64_t page_align(uint64_t a) { return (a + kPageSize - 1) & kPageMask; }

// The information structure and everything it points to, placed the way
// QEMU's multiboot loader does: in the first free pages after the kernel
// image, then the modules after it. Kernels linked anywhere outside the
// firmware's areas load (even below 1 MiB).
class InfoArea {
 public:
  InfoArea(GuestMemory& memory, uint64_t base)
      : memory_(memory), base_(base), next_(base + sizeof(Info)) {}
  uint32_t put(const void* data, size_t len) {
    uint64_t addr = (next_ + 7) & ~7ull;
    check_fits(memory_, base_, addr + len - base_, "multiboot information");
    memory_.write(GuestPhys{addr}, {static_cast<const uint8_t*>(data), len});
    next_ = addr + len;
    return uint32_t(addr);
  }
  uint32_t put(const std::string& s) { return put(s.c_str(), s.size() + 1); }
  uint64_t base() const { return base_; }
  uint64_t end() const { return next_; }

 private:
  GuestMemory& memory_;
  uint64_t base_;
  uint64_t next_;
};

// Where the information goes: after the kernel; a kernel in conventional
// memory whose end leaves no room below the EBDA puts it at 1 MiB.
uint64_t info_base(uint64_t kernel_end, size_t bytes) {
  uint64_t base = page_align(kernel_end);
  if (base < kHighRam && (base + bytes > kLowRamEnd)) base = kHighRam;
  return base;
}

}  // namespace

bool has_multiboot_header(std::span<const uint8_t> image) {
  size_t limit = std::min(image.size(), kSearchBytes);
  for (size_t off = 0; off + 12 <= limit; off += 4)
    if (word(image, off) == kHeaderMagic) return true;
  return false;
}

BootState load_multiboot(GuestMemory& memory, std::span<const uint8_t> image,
                         const std::string& cmdline, const std::vector<BootModule>& modules) {
  auto header = find_header(image);
  if (!header) throw Error("no multiboot header in the first 8 KiB of the kernel");
  uint32_t unsupported = header->flags & 0xFFFF & ~kSupportedRequired;
  if (unsupported)
    throw Error(fmt::format("kernel requires unsupported multiboot features {:#x}", unsupported));
  if (memory.size() < 2ull << 20) throw Error("multiboot needs at least 2 MiB of guest RAM");

  const LoadedImage kernel = (header->flags & kFlagAoutKludge) ? load_kludge(memory, image, *header)
                                                               : load_elf(memory, image);
  const uint64_t end = kernel.end;

  // Everything the area will hold, with alignment slack per item.
  size_t info_bytes = sizeof(Info) + cmdline.size() + 64 + 6 * sizeof(MmapEntry) + 64;
  for (const auto& m : modules) info_bytes += m.name.size() + 1 + sizeof(Module) + 16;
  InfoArea area(memory, info_base(end, info_bytes));
  Info info{};
  info.flags = kInfoMem | kInfoCmdline | kInfoMmap | kInfoLoaderName | kInfoMods;
  info.mem_lower = uint32_t(kLowRamEnd >> 10);
  info.mem_upper = uint32_t((memory.size() - (1ull << 20)) >> 10);
  info.cmdline = area.put(cmdline);
  info.boot_loader_name = area.put(std::string("transvisor ") + TRANSVISOR_VERSION);

  std::vector<MmapEntry> map;
  for (const MemoryRange& r : pc_memory_map(memory.size()))
    map.push_back({20, r.addr, r.len, uint32_t(r.type)});
  info.mmap_addr = area.put(map.data(), map.size() * sizeof(MmapEntry));
  info.mmap_length = uint32_t(map.size() * sizeof(MmapEntry));

  // Modules go after the information, page-aligned (always, which
  // satisfies flag bit 0), and above 1 MiB.
  std::vector<Module> mods;
  std::vector<uint32_t> mod_strings;
  for (const auto& m : modules) mod_strings.push_back(area.put(m.name));
  uint64_t next =
      page_align(std::max({end, area.end() + sizeof(Module) * modules.size() + 8, kHighRam}));
  for (const auto& m : modules) {
    check_fits(memory, next, m.data.size(), fmt::format("module '{}'", m.name).c_str());
    memory.write(GuestPhys{next}, m.data);
    mods.push_back({uint32_t(next), uint32_t(next + m.data.size()), mod_strings[mods.size()], 0});
    next = (next + m.data.size() + kPageSize - 1) & kPageMask;
  }
  info.mods_count = uint32_t(mods.size());
  info.mods_addr = mods.empty() ? 0 : area.put(mods.data(), mods.size() * sizeof(Module));
  memory.store(GuestPhys{area.base()}, info);

  log::get("loader")->debug("multiboot kernel entry {:#x}, image end {:#x}, {} modules",
                            kernel.entry, end, mods.size());
  BootState state;
  state.eip = kernel.entry;
  state.eax = kBootMagic;
  state.ebx = uint32_t(area.base());
  write_boot_gdt(memory, kMultibootSelectors, state);
  return state;
}

}  // namespace tv
