// Message-signalled interrupts for PCI functions: the MSI capability (PCI
// Local Bus 3.0, 6.8.1) and MSI-X (6.8.2, table and pending bits in a
// memory BAR). A device model owns one as a member, built in its
// constructor, and calls notify(vector) where it would raise INTx. The
// message is the memory write the function would make; instead of going
// through the MMIO bus it is decoded (SDM Vol. 3A 11.11) and sent on the
// APIC bus.
//
// With the capability disabled, notify() asserts INTx instead: the device
// deasserts it (PciDevice::set_intx(false)) when the guest acknowledges
// the interrupt, as for any level-triggered INTx source.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/device.h"
#include "devices/pci/pci_device.h"

namespace tv::dev {

// The APIC message a write of `data` to `address` makes, or nullopt if it
// makes none: the address is outside 0xFEE00000-0xFEEFFFFF or the delivery
// mode is reserved (3, 6).
std::optional<ApicMessage> decode_msi(uint64_t address, uint32_t data);

// Per-capability state for "log once, drop" of messages that go nowhere.
class MsiSender {
 public:
  explicit MsiSender(ApicBus* apic) : apic_(apic) {}
  void send(uint64_t address, uint32_t data);

 private:
  ApicBus* apic_;
  bool logged_bad_ = false;
};

class MsiCapability {
 public:
  enum class Address : uint8_t { k32, k64 };
  enum class Masking : uint8_t { kNone, kPerVector };

  // Adds the capability to `device` (call from its constructor). `vectors`
  // is 1, 2, 4, 8, 16 or 32 (Multiple Message Capable); tv::Error otherwise.
  MsiCapability(PciDevice& device, ApicBus* apic, unsigned vectors = 1,
                Address address = Address::k64, Masking masking = Masking::kNone);
  MsiCapability(const MsiCapability&) = delete;
  MsiCapability& operator=(const MsiCapability&) = delete;

  // Signals `vector` (0 .. vectors-1). With fewer vectors enabled than
  // asked for, the function may only vary the enabled low data bits, so
  // vector numbers wrap onto the enabled ones (6.8.1.5).
  void notify(unsigned vector);

  uint8_t offset() const { return offset_; }
  bool enabled() const;
  unsigned enabled_vectors() const;
  bool masked(unsigned vector) const;
  bool pending(unsigned vector) const;

 private:
  unsigned data_offset() const { return offset_ + (address64_ ? 0xC : 0x8); }
  unsigned mask_offset() const { return data_offset() + 4; }
  unsigned pending_offset() const { return data_offset() + 8; }
  void deliver(unsigned vector);
  void changed();

  PciDevice& device_;
  MsiSender sender_;
  unsigned vectors_;
  bool address64_;
  bool per_vector_mask_;
  uint8_t offset_;
  bool logged_bad_vector_ = false;
};

class MsixCapability {
 public:
  // Adds the capability to `device` for a table of `vectors` (1-2048)
  // entries at `table_offset` and the pending bits at `pba_offset` in BAR
  // `bar` (offsets 8-byte aligned, not overlapping). The device declares
  // that BAR as memory, at least region_size() bytes, with region() (or
  // a device of its own that forwards those offsets to region()).
  MsixCapability(PciDevice& device, ApicBus* apic, unsigned vectors, unsigned bar,
                 uint32_t table_offset, uint32_t pba_offset);
  MsixCapability(const MsixCapability&) = delete;
  MsixCapability& operator=(const MsixCapability&) = delete;

  std::shared_ptr<IoDevice> region() { return region_; }
  uint64_t region_size() const;

  // Signals `vector`: sent now, or left pending while it or the function
  // is masked, and sent when unmasked.
  void notify(unsigned vector);

  uint8_t offset() const { return offset_; }
  bool enabled() const;
  bool function_masked() const;
  bool masked(unsigned vector) const;
  bool pending(unsigned vector) const;

 private:
  struct Entry {
    uint32_t address_low = 0;
    uint32_t address_high = 0;
    uint32_t data = 0;
    uint32_t control = 1;  // the vector is masked after reset (6.8.2.9)
  };

  uint32_t read_dword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value);
  uint64_t read_region(uint64_t offset, unsigned size);
  void write_region(uint64_t offset, unsigned size, uint64_t value);
  void set_pending(unsigned vector, bool on);
  void deliver_unmasked();

  PciDevice& device_;
  MsiSender sender_;
  uint32_t table_offset_;
  uint32_t pba_offset_;
  std::vector<Entry> table_;
  std::vector<uint64_t> pba_;
  std::shared_ptr<IoDevice> region_;
  uint8_t offset_;
  bool logged_bad_vector_ = false;
};

}  // namespace tv::dev
