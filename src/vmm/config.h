// What the user asked for on the command line, validated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tv {

enum class BackendKind { kBt, kKvm };

// One --disk: a raw image file and how the guest sees it (QEMU's -drive
// names: if=, readonly, cache=).
enum class DiskInterface { kVirtio, kIde };
// kWriteback: host page cache, guest flushes fdatasync. kNone: O_DIRECT
// (bypasses the page cache), flushes still fdatasync. kUnsafe: flushes are
// ignored; a host crash can lose anything the guest wrote.
enum class DiskCache { kWriteback, kNone, kUnsafe };
struct DiskConfig {
  std::string path;
  DiskInterface interface = DiskInterface::kVirtio;
  bool read_only = false;
  DiskCache cache = DiskCache::kWriteback;
};

struct Config {
  std::string kernel;
  std::vector<std::string> initrds;
  std::string append;
  uint64_t mem_bytes = 256ull << 20;
  BackendKind backend = BackendKind::kBt;
  bool profile = false;
  bool perf_map = false;  // write /tmp/perf-PID.map for host perf
  std::string profile_json;
  uint64_t tc_size_bytes = 64ull << 20;
  std::vector<DiskConfig> disks;  // in command-line order
};

// Guest RAM limits: enough for the multiboot structures and a kernel, and
// below the 32-bit device hole (no PAE, no RAM above 4 GiB).
constexpr uint64_t kMinMemBytes = 2ull << 20;
constexpr uint64_t kMaxMemBytes = 3ull << 30;

// Parses "64M", "1G", "512K", "1048576B"; a bare number means MiB, as in
// QEMU's -m. Returns nullopt for anything else or on overflow.
std::optional<uint64_t> parse_size(const std::string& text);

// One file of an --initrd value. QEMU's syntax: "FILE ARGS,FILE2 ARGS2":
// modules are separated by commas (",," is a literal comma), the path ends
// at the first space, and a multiboot module's command line is the whole
// entry, path included (as QEMU and GRUB pass it).
struct InitrdSpec {
  std::string path;
  std::string cmdline;
};
std::vector<InitrdSpec> parse_initrd(const std::string& value);

// One --disk value: "FILE[,if=virtio|ide][,readonly[=on|off]][,cache=
// writeback|none|unsafe]" (",," is a literal comma in FILE, as in QEMU).
// Throws tv::Error quoting the bad part.
DiskConfig parse_disk(const std::string& value);

// Disks per interface: the IDE controller's four positions (primary and
// secondary, master and slave); virtio-blk disks take one PCI slot each.
constexpr size_t kMaxIdeDisks = 4;
constexpr size_t kMaxVirtioDisks = 8;

// Throws tv::Error with a one-line message if `config` cannot run.
void validate(const Config& config);

}  // namespace tv
