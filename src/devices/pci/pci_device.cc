// PCI configuration space: storage with masks, BAR decode and INTx. The
// bus (pci_bus.cc) owns the port and MMIO buses, so a BAR change here ends
// as a map/unmap request to it.
//
// BAR decode (PCI Local Bus 3.0, 6.2.5.1): a BAR's address bits below its
// size are read-only zero, so writing all-ones reads back the size mask.
// A BAR is placed on the bus when its space is enabled in the command
// register and it holds an address; 0 and the all-ones sizing pattern
// count as "no address" (a guest sizing a BAR with decode on would
// otherwise flash it over the top of the 4 GiB space), as does an I/O
// BAR beyond the 64 KiB that IN/OUT reach.
#include "devices/pci/pci_device.h"

#include <fmt/format.h>

#include <bit>

#include "base/error.h"
#include "devices/pci/pci_bus.h"

namespace tv::dev {
namespace {

// Command bits a guest may set (6.2.2): I/O, memory, bus master, parity
// error response, SERR#, interrupt disable. Special cycles, memory write
// and invalidate, VGA snoop, stepping and fast back-to-back are
// hard-wired to 0: nothing here would act on them.
constexpr uint16_t kCommandWritable = pci::kCommandIo | pci::kCommandMemory |
                                      pci::kCommandBusMaster | pci::kCommandParityResponse |
                                      pci::kCommandSerr | pci::kCommandIntxDisable;
// Status bits that a 1 clears (6.2.3): master data parity error, signaled
// and received target abort, received master abort, signaled system
// error, detected parity error.
constexpr uint16_t kStatusWriteOneToClear = 0xF900;

constexpr unsigned kBarEnd = pci::kBar0 + 4 * pci::kBars;

bool overlaps(unsigned offset, unsigned size, unsigned begin, unsigned end) {
  return offset < end && begin < offset + size;
}

uint32_t byte_mask(unsigned size) { return size >= 4 ? ~0u : (1u << (8 * size)) - 1; }

// The writable address bits of a BAR of `size` bytes (flag bits excluded).
uint64_t bar_address_mask(const BarSpec& spec) {
  uint64_t flags = spec.kind == BarKind::kIo ? 0x3 : 0xF;
  return ~(spec.size - 1) & ~flags;
}

}  // namespace

PciDevice::PciDevice(const PciIdentity& id) {
  set_config(pci::kVendorId, 2, id.vendor);
  set_config(pci::kDeviceId, 2, id.device);
  set_config(pci::kRevision, 1, id.revision);
  set_config(pci::kClassCode, 3, id.class_code & 0xFFFFFF);
  set_config(pci::kHeaderType, 1, id.multi_function ? pci::kHeaderMultiFunction : 0);
  set_config(pci::kSubsystemVendorId, 2, id.subsystem_vendor);
  set_config(pci::kSubsystemId, 2, id.subsystem);
  set_config(pci::kInterruptPin, 1, uint8_t(id.pin));

  set_write_mask(pci::kCommand, 2, kCommandWritable);
  set_clear_mask(pci::kStatus, 2, kStatusWriteOneToClear);
  set_write_mask(pci::kCacheLineSize, 1, 0xFF);
  set_write_mask(pci::kLatencyTimer, 1, 0xFF);
  set_write_mask(pci::kInterruptLine, 1, 0xFF);
}

bool PciDevice::multi_function() const {
  return config_[pci::kHeaderType] & pci::kHeaderMultiFunction;
}

// --- Storage and masks -------------------------------------------------------

uint32_t PciDevice::config(unsigned offset, unsigned size) const {
  uint32_t value = 0;
  for (unsigned i = 0; i < size && offset + i < pci::kConfigSize; ++i)
    value |= uint32_t(config_[offset + i]) << (8 * i);
  return value;
}

void PciDevice::set_config(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size && offset + i < pci::kConfigSize; ++i)
    config_[offset + i] = uint8_t(value >> (8 * i));
}

void PciDevice::set_write_mask(unsigned offset, unsigned size, uint32_t mask) {
  for (unsigned i = 0; i < size && offset + i < pci::kConfigSize; ++i)
    write_mask_[offset + i] = uint8_t(mask >> (8 * i));
}

void PciDevice::set_clear_mask(unsigned offset, unsigned size, uint32_t mask) {
  for (unsigned i = 0; i < size && offset + i < pci::kConfigSize; ++i)
    clear_mask_[offset + i] = uint8_t(mask >> (8 * i));
}

void PciDevice::store_masked(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    uint8_t byte = uint8_t(value >> (8 * i));
    uint8_t& cell = config_[offset + i];
    cell = uint8_t((cell & ~write_mask_[offset + i]) | (byte & write_mask_[offset + i]));
    cell = uint8_t(cell & ~(byte & clear_mask_[offset + i]));
  }
}

void PciDevice::claim_config(unsigned offset, unsigned length) {
  if (offset < pci::kDeviceSpecific || offset + length > pci::kConfigSize)
    throw Error(
        fmt::format("PCI config claim {:#x}+{} is outside device-specific space", offset, length));
  for (unsigned i = 0; i < length; ++i) claimed_[offset + i] = true;
}

uint32_t PciDevice::config_read(unsigned, unsigned size) { return byte_mask(size); }

void PciDevice::config_write(unsigned, unsigned, uint32_t) {}

void PciDevice::watch_config(unsigned offset, unsigned length, std::function<void()> changed) {
  watches_.push_back({offset, offset + length, std::move(changed)});
}

// --- Guest accesses ----------------------------------------------------------

// Splits the access into runs of claimed and unclaimed bytes.
uint32_t PciDevice::read_config(unsigned offset, unsigned size) {
  if (size == 0 || size > 4 || offset + size > pci::kConfigSize) return byte_mask(size);
  uint32_t value = 0;
  for (unsigned i = 0; i < size;) {
    unsigned run = 1;
    while (i + run < size && claimed_[offset + i + run] == claimed_[offset + i]) ++run;
    uint32_t part = claimed_[offset + i] ? config_read(offset + i, run) : config(offset + i, run);
    value |= (part & byte_mask(run)) << (8 * i);
    i += run;
  }
  return value;
}

void PciDevice::write_config(unsigned offset, unsigned size, uint32_t value) {
  if (size == 0 || size > 4 || offset + size > pci::kConfigSize) return;
  bool old_output = intx_output();
  for (unsigned i = 0; i < size;) {
    unsigned run = 1;
    while (i + run < size && claimed_[offset + i + run] == claimed_[offset + i]) ++run;
    uint32_t part = (value >> (8 * i)) & byte_mask(run);
    if (claimed_[offset + i])
      config_write(offset + i, run, part);
    else
      store_masked(offset + i, run, part);
    i += run;
  }
  after_write(offset, size);
  if (intx_output() != old_output && bus_) bus_->intx_changed(*this);
}

void PciDevice::after_write(unsigned offset, unsigned size) {
  if (overlaps(offset, size, pci::kCommand, pci::kCommand + 2) ||
      overlaps(offset, size, pci::kBar0, kBarEnd))
    update_bars();
  // A copy, so that a callback adding a watch cannot pull the vector from under us.
  auto watches = watches_;
  for (const Watch& w : watches)
    if (overlaps(offset, size, w.begin, w.end)) w.changed();
}

// --- BARs --------------------------------------------------------------------

void PciDevice::declare_bar(unsigned index, const BarSpec& spec) {
  bool wide = spec.kind == BarKind::kMemory64;
  auto fail = [&](const char* why) {
    throw Error(fmt::format("PCI BAR {} ({:#x} bytes): {}", index, spec.size, why));
  };
  if (index >= pci::kBars || (wide && index + 1 >= pci::kBars)) fail("no such BAR slot");
  if (bars_[index].spec.size || bars_[index].upper_half ||
      (wide && (bars_[index + 1].spec.size || bars_[index + 1].upper_half)))
    fail("slot already declared");
  if (!spec.device) fail("no device behind it");
  if (!std::has_single_bit(spec.size)) fail("size is not a power of two");
  if (spec.kind == BarKind::kIo && (spec.size < 4 || spec.size > 256 || spec.prefetchable))
    fail("an I/O BAR is 4-256 bytes and never prefetchable");
  if (spec.kind != BarKind::kIo && spec.size < 16) fail("a memory BAR is at least 16 bytes");
  if (spec.kind == BarKind::kMemory32 && spec.size > (1ull << 31))
    fail("a 32-bit memory BAR is at most 2 GiB");

  // Flag bits (6.2.5.1): bit 0 = I/O; bits 2:1 = type (0 = 32-bit, 2 = 64-bit); bit 3 =
  // prefetchable.
  uint32_t flags =
      spec.kind == BarKind::kIo ? 0x1 : (wide ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0);
  uint64_t mask = bar_address_mask(spec);
  unsigned offset = pci::kBar0 + 4 * index;
  bars_[index].spec = spec;
  set_config(offset, 4, flags);
  set_write_mask(offset, 4, uint32_t(mask));
  if (wide) {
    bars_[index + 1].upper_half = true;
    set_write_mask(offset + 4, 4, uint32_t(mask >> 32));
  }
}

std::optional<uint64_t> PciDevice::decoded_address(unsigned index) const {
  const BarSpec& spec = bars_[index].spec;
  unsigned offset = pci::kBar0 + 4 * index;
  uint64_t mask = bar_address_mask(spec);
  uint64_t low = config(offset, 4) & uint32_t(mask);
  if (spec.kind == BarKind::kMemory64) {
    uint64_t high = config(offset + 4, 4);
    uint64_t address = high << 32 | low;
    // Either half left at its sizing pattern: the guest is mid-sizing.
    bool sizing = (uint32_t(mask) != 0 && low == uint32_t(mask)) || high == (mask >> 32);
    if (address == 0 || sizing) return std::nullopt;
    return address;
  }
  if (low == 0 || low == uint32_t(mask)) return std::nullopt;
  if (spec.kind == BarKind::kIo && low + spec.size > 0x10000) return std::nullopt;
  return low;
}

// Two passes, so that a BAR moving into space another BAR of this function
// just left finds it free.
void PciDevice::update_bars() {
  if (!bus_) return;
  uint16_t command = uint16_t(config(pci::kCommand, 2));
  std::array<bool, pci::kBars> changed{};
  for (unsigned i = 0; i < pci::kBars; ++i) {
    Bar& bar = bars_[i];
    if (!bar.spec.size) continue;
    uint16_t enable = bar.spec.kind == BarKind::kIo ? pci::kCommandIo : pci::kCommandMemory;
    std::optional<uint64_t> wanted = command & enable ? decoded_address(i) : std::nullopt;
    if (wanted == bar.wanted) continue;
    changed[i] = true;
    bar.wanted = wanted;
    if (bar.mapped) bus_->unmap_bar(bar.spec, *bar.mapped);
    bar.mapped.reset();
  }
  for (unsigned i = 0; i < pci::kBars; ++i) {
    Bar& bar = bars_[i];
    if (changed[i] && bar.wanted && bus_->map_bar(*this, i, bar.spec, *bar.wanted))
      bar.mapped = bar.wanted;
  }
}

std::optional<uint64_t> PciDevice::bar_mapping(unsigned index) const {
  return index < pci::kBars ? bars_[index].mapped : std::nullopt;
}

// --- Capabilities ------------------------------------------------------------

uint8_t PciDevice::add_capability(uint8_t id, unsigned length) {
  unsigned offset = (next_capability_ + 3) & ~3u;
  if (length < 2 || offset + length > pci::kConfigSize)
    throw Error(fmt::format("PCI capability {:#04x} ({} bytes) does not fit", id, length));
  for (unsigned i = 0; i < length; ++i)
    if (claimed_[offset + i])
      throw Error(
          fmt::format("PCI capability {:#04x} would cover claimed offset {:#x}", id, offset + i));
  set_config(offset, 1, id);
  set_config(offset + 1, 1, 0);
  if (last_capability_ == 0) {
    set_config(pci::kCapabilitiesPointer, 1, offset);
    set_config(pci::kStatus, 2, config(pci::kStatus, 2) | pci::kStatusCapabilities);
  } else {
    set_config(last_capability_ + 1u, 1, offset);
  }
  last_capability_ = uint8_t(offset);
  next_capability_ = offset + length;
  return uint8_t(offset);
}

// --- INTx --------------------------------------------------------------------

bool PciDevice::intx_output() const {
  uint16_t command = uint16_t(config(pci::kCommand, 2));
  return intx_level_ && !(command & pci::kCommandIntxDisable) && intx_pin() != IntxPin::kNone;
}

void PciDevice::set_intx(bool level) {
  bool old_output = intx_output();
  intx_level_ = level;
  uint16_t status = uint16_t(config(pci::kStatus, 2));
  status = level ? status | pci::kStatusInterrupt : status & ~pci::kStatusInterrupt;
  set_config(pci::kStatus, 2, status);
  if (intx_output() != old_output && bus_) bus_->intx_changed(*this);
}

void PciDevice::attach(PciBus& bus, unsigned slot, unsigned function) {
  if (bus_) throw Error("PCI function added to a bus twice");
  bus_ = &bus;
  slot_ = slot;
  function_ = function;
  update_bars();
}

}  // namespace tv::dev
