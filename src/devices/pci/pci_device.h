// A PCI function's configuration space (PCI Local Bus 3.0, 6.1-6.2: the
// type 0 header) and what every function shares: base address registers
// with the sizing protocol, the capability list and INTx. The space is 256
// bytes of storage with per-byte write and write-1-to-clear masks, so the
// read-only fields, the sizing read-back and status bit clearing all fall
// out of the masks; a device adds registers of its own either by storage
// with masks (read back what was written) or by claiming offsets, which
// then go to its config_read/config_write hooks.
//
// A function does nothing until PciBus::add attaches it: the bus maps its
// BARs and routes its INTx. Devices run on the vCPU thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "devices/device.h"

namespace tv::dev {

class PciBus;

// Type 0 header offsets (PCI Local Bus 3.0, Figure 6-1).
namespace pci {
constexpr unsigned kVendorId = 0x00;
constexpr unsigned kDeviceId = 0x02;
constexpr unsigned kCommand = 0x04;
constexpr unsigned kStatus = 0x06;
constexpr unsigned kRevision = 0x08;
constexpr unsigned kClassCode = 0x09;  // 3 bytes: programming interface, sub-class, base class
constexpr unsigned kCacheLineSize = 0x0C;
constexpr unsigned kLatencyTimer = 0x0D;
constexpr unsigned kHeaderType = 0x0E;
constexpr unsigned kBar0 = 0x10;
constexpr unsigned kSubsystemVendorId = 0x2C;
constexpr unsigned kSubsystemId = 0x2E;
constexpr unsigned kCapabilitiesPointer = 0x34;
constexpr unsigned kInterruptLine = 0x3C;
constexpr unsigned kInterruptPin = 0x3D;
constexpr unsigned kDeviceSpecific = 0x40;  // first byte after the header
constexpr unsigned kConfigSize = 256;
constexpr unsigned kBars = 6;

// Command register bits (6.2.2).
constexpr uint16_t kCommandIo = 1 << 0;
constexpr uint16_t kCommandMemory = 1 << 1;
constexpr uint16_t kCommandBusMaster = 1 << 2;
constexpr uint16_t kCommandParityResponse = 1 << 6;
constexpr uint16_t kCommandSerr = 1 << 8;
constexpr uint16_t kCommandIntxDisable = 1 << 10;

// Status register bits (6.2.3).
constexpr uint16_t kStatusInterrupt = 1 << 3;
constexpr uint16_t kStatusCapabilities = 1 << 4;

constexpr uint8_t kHeaderMultiFunction = 0x80;

// Capability IDs (PCI Code and ID Assignment, 2).
constexpr uint8_t kCapMsi = 0x05;
constexpr uint8_t kCapVendor = 0x09;
constexpr uint8_t kCapMsix = 0x11;
}  // namespace pci

// The interrupt pin register's values (6.2.4): which INTx# a function uses.
enum class IntxPin : uint8_t { kNone = 0, kA = 1, kB = 2, kC = 3, kD = 4 };

// The read-only identity of a function.
struct PciIdentity {
  uint16_t vendor = 0xFFFF;
  uint16_t device = 0xFFFF;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base class << 16 | sub-class << 8 | programming interface
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem = 0;
  bool multi_function = false;  // header type bit 7: functions 1-7 exist (only read on function 0)
  IntxPin pin = IntxPin::kNone;
};

enum class BarKind : uint8_t { kIo, kMemory32, kMemory64 };

// A BAR as the device declares it (6.2.5.1). `size` is a power of two, at
// least 4 (I/O) or 16 (memory); I/O BARs are at most 256 bytes. A 64-bit
// BAR also takes the next BAR slot for its upper half. `device` sees
// offsets into the BAR wherever the guest places it.
struct BarSpec {
  BarKind kind = BarKind::kMemory32;
  uint64_t size = 0;
  bool prefetchable = false;
  std::shared_ptr<IoDevice> device;
};

class PciDevice {
 public:
  explicit PciDevice(const PciIdentity& id);
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // Configuration accesses from the bus, 1-4 bytes within the 256 (others
  // read all-ones and are dropped). Whatever the guest writes is accepted.
  uint32_t read_config(unsigned offset, unsigned size);
  void write_config(unsigned offset, unsigned size, uint32_t value);

  bool multi_function() const;
  IntxPin intx_pin() const { return IntxPin(config_[pci::kInterruptPin]); }

  // INTx# as a level (shared, level-triggered): the device asserts it while
  // it has an interrupt condition. The status register's interrupt bit
  // follows the level; the command register's interrupt disable bit keeps
  // it off the wire.
  void set_intx(bool level);
  bool intx_level() const { return intx_level_; }
  bool intx_output() const;

  // Where each BAR is mapped now (nullopt: unmapped), for tests and debug.
  std::optional<uint64_t> bar_mapping(unsigned index) const;

 protected:
  // Declares BAR `index` (0-5). Throws tv::Error for a bad declaration
  // (index taken, size not a power of two, a 64-bit BAR in slot 5, ...).
  void declare_bar(unsigned index, const BarSpec& spec);

  // Appends a capability of `length` bytes with ID `id` to the list and
  // returns its offset (dword-aligned, from 0x40 up). Its bytes after the
  // ID and next pointer are read-only zero until the device sets them.
  // Throws tv::Error when config space is full.
  uint8_t add_capability(uint8_t id, unsigned length);

  // Device-side access to config storage, bypassing the guest masks.
  uint32_t config(unsigned offset, unsigned size) const;
  void set_config(unsigned offset, unsigned size, uint32_t value);
  // Bits the guest may write, and bits a guest 1 clears, per byte.
  void set_write_mask(unsigned offset, unsigned size, uint32_t mask);
  void set_clear_mask(unsigned offset, unsigned size, uint32_t mask);

  // Sends guest accesses to [offset, offset+length) to config_read and
  // config_write instead of storage. An access that covers claimed and
  // unclaimed bytes is split at the boundaries.
  void claim_config(unsigned offset, unsigned length);
  virtual uint32_t config_read(unsigned offset, unsigned size);
  virtual void config_write(unsigned offset, unsigned size, uint32_t value);

  // Calls `changed` after every guest write that touches [offset, offset+length)
  // (for capability helpers whose registers live in storage).
  void watch_config(unsigned offset, unsigned length, std::function<void()> changed);

  PciBus* bus() const { return bus_; }

 private:
  friend class PciBus;
  friend class MsiCapability;
  friend class MsixCapability;

  struct Bar {
    BarSpec spec;
    bool upper_half = false;         // the high dword of the 64-bit BAR below it
    std::optional<uint64_t> wanted;  // where decode puts it now
    std::optional<uint64_t> mapped;  // where it is on the bus (wanted, unless refused)
  };
  struct Watch {
    unsigned begin, end;
    std::function<void()> changed;
  };

  void store_masked(unsigned offset, unsigned size, uint32_t value);
  void after_write(unsigned offset, unsigned size);
  std::optional<uint64_t> decoded_address(unsigned index) const;
  void update_bars();
  void attach(PciBus& bus, unsigned slot, unsigned function);

  std::array<uint8_t, pci::kConfigSize> config_{};
  std::array<uint8_t, pci::kConfigSize> write_mask_{};
  std::array<uint8_t, pci::kConfigSize> clear_mask_{};
  std::array<bool, pci::kConfigSize> claimed_{};
  std::array<Bar, pci::kBars> bars_{};
  std::vector<Watch> watches_;
  unsigned next_capability_ = pci::kDeviceSpecific;
  uint8_t last_capability_ = 0;
  bool intx_level_ = false;
  PciBus* bus_ = nullptr;
  unsigned slot_ = 0;
  unsigned function_ = 0;
};

}  // namespace tv::dev
