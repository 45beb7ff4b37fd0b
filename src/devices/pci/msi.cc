// MSI and MSI-X (PCI Local Bus 3.0, 6.8). MSI's registers live in the
// function's config storage (the write masks make the read-only fields
// read-only) and a watch on them delivers pending vectors on unmask; the
// MSI-X table and pending bit array live here, behind the BAR region.
#include "devices/pci/msi.h"

#include <fmt/format.h>

#include <bit>

#include "base/error.h"
#include "base/log.h"
#include "devices/byte_lanes.h"
#include "devices/range_view.h"

namespace tv::dev {
namespace {

// MSI address (SDM Vol. 3A 11.11.1): 0xFEE in bits 31:20, destination ID
// in 19:12, redirection hint (RH) in bit 3, destination mode (DM) in bit 2.
constexpr uint64_t kMsiWindowMask = ~0xFFFFFull;
constexpr uint64_t kMsiWindow = 0xFEE00000;
constexpr uint32_t kAddressRh = 1u << 3;
constexpr uint32_t kAddressDm = 1u << 2;

// MSI Message Control (6.8.1.3).
constexpr uint16_t kMsiEnable = 1u << 0;
constexpr unsigned kMsiMmcShift = 1;  // bits 3:1, vectors requested (log2)
constexpr unsigned kMsiMmeShift = 4;  // bits 6:4, vectors enabled (log2)
constexpr uint16_t kMsi64Bit = 1u << 7;
constexpr uint16_t kMsiPerVectorMask = 1u << 8;

// MSI-X Message Control (6.8.2.3).
constexpr uint16_t kMsixEnable = 1u << 15;
constexpr uint16_t kMsixFunctionMask = 1u << 14;
constexpr unsigned kMsixEntrySize = 16;
constexpr unsigned kMsixMaxVectors = 2048;

}  // namespace

// SDM Vol. 3A 11.11.2, message data: vector in bits 7:0, delivery mode in
// 10:8, level (assert) in bit 14, trigger mode (1 = level) in bit 15.
std::optional<ApicMessage> decode_msi(uint64_t address, uint32_t data) {
  if ((address & kMsiWindowMask) != kMsiWindow) return std::nullopt;
  unsigned mode = (data >> 8) & 7;
  if (mode == 3 || mode == 6) return std::nullopt;  // reserved in MSI data
  ApicMessage message;
  message.vector = uint8_t(data);
  message.mode = DeliveryMode(mode);
  message.dest = (address >> 12) & 0xFF;
  message.logical = address & kAddressDm;
  // RH=1 lets the chipset pick among the destinations, i.e. lowest
  // priority arbitration; ApicMessage has no hint field, so a fixed
  // message with RH set is sent as lowest priority (KVM reads RH the same
  // way). With RH=0 the message goes to exactly the destination named.
  if ((address & kAddressRh) && message.mode == DeliveryMode::kFixed)
    message.mode = DeliveryMode::kLowestPriority;
  message.level = data & (1u << 15);
  // The level bit means nothing for edge-triggered messages.
  message.assert = !message.level || (data & (1u << 14));
  return message;
}

void MsiSender::send(uint64_t address, uint32_t data) {
  std::optional<ApicMessage> message = decode_msi(address, data);
  if (!message) {
    // The write would go to memory or to a reserved mode: nothing useful
    // happens on a real chipset either.
    if (!logged_bad_) {
      logged_bad_ = true;
      log::get("dev.pci")->info(
          "guest programmed MSI address {:#x} data {:#x}, which reaches no APIC; dropped "
          "(logged once)",
          address, data);
    }
    return;
  }
  if (apic_) apic_->send(*message);
}

// --- MSI ---------------------------------------------------------------------

MsiCapability::MsiCapability(PciDevice& device, ApicBus* apic, unsigned vectors, Address address,
                             Masking masking)
    : device_(device),
      sender_(apic),
      vectors_(vectors),
      address64_(address == Address::k64),
      per_vector_mask_(masking == Masking::kPerVector) {
  if (!std::has_single_bit(vectors) || vectors > 32)
    throw Error(fmt::format("MSI capability with {} vectors", vectors));
  unsigned length = (address64_ ? 0xE : 0xA) + (per_vector_mask_ ? 10 : 0);
  offset_ = device_.add_capability(pci::kCapMsi, length);
  uint16_t control = uint16_t(std::countr_zero(vectors) << kMsiMmcShift);
  if (address64_) control |= kMsi64Bit;
  if (per_vector_mask_) control |= kMsiPerVectorMask;
  device_.set_config(offset_ + 2, 2, control);
  device_.set_write_mask(offset_ + 2, 2, kMsiEnable | 7u << kMsiMmeShift);
  device_.set_write_mask(offset_ + 4, 4, 0xFFFFFFFC);  // dword-aligned address
  if (address64_) device_.set_write_mask(offset_ + 8, 4, ~0u);
  device_.set_write_mask(data_offset(), 2, 0xFFFF);
  if (per_vector_mask_) {
    uint32_t implemented = vectors == 32 ? ~0u : (1u << vectors) - 1;
    device_.set_write_mask(mask_offset(), 4, implemented);  // pending bits stay read-only
  }
  device_.watch_config(offset_, length, [this] { changed(); });
}

bool MsiCapability::enabled() const { return device_.config(offset_ + 2, 2) & kMsiEnable; }

// A guest enabling more than requested gets what was requested (the
// excess is undefined in 6.8.1.3).
unsigned MsiCapability::enabled_vectors() const {
  unsigned mme = (device_.config(offset_ + 2, 2) >> kMsiMmeShift) & 7;
  return std::min(1u << mme, vectors_);
}

bool MsiCapability::masked(unsigned vector) const {
  return per_vector_mask_ && vector < 32 && (device_.config(mask_offset(), 4) >> vector & 1);
}

bool MsiCapability::pending(unsigned vector) const {
  return per_vector_mask_ && vector < 32 && (device_.config(pending_offset(), 4) >> vector & 1);
}

void MsiCapability::notify(unsigned vector) {
  if (vector >= vectors_) {
    if (!logged_bad_vector_) {
      logged_bad_vector_ = true;
      log::get("dev.pci")->error("device signalled MSI vector {} of {}; dropped", vector, vectors_);
    }
    return;
  }
  if (!enabled()) return device_.set_intx(true);
  vector &= enabled_vectors() - 1;
  if (masked(vector)) {
    device_.set_config(pending_offset(), 4, device_.config(pending_offset(), 4) | 1u << vector);
    return;
  }
  deliver(vector);
}

// The function varies the low log2(enabled) bits of the data (6.8.1.6).
void MsiCapability::deliver(unsigned vector) {
  uint64_t address = device_.config(offset_ + 4, 4);
  if (address64_) address |= uint64_t(device_.config(offset_ + 8, 4)) << 32;
  uint32_t data = device_.config(data_offset(), 2);
  uint32_t low = enabled_vectors() - 1;
  sender_.send(address, (data & ~low) | (vector & low));
}

// After a guest write: a pending vector that is now unmasked is sent.
void MsiCapability::changed() {
  if (!per_vector_mask_ || !enabled()) return;
  for (unsigned vector = 0; vector < enabled_vectors(); ++vector) {
    if (!pending(vector) || masked(vector)) continue;
    device_.set_config(pending_offset(), 4, device_.config(pending_offset(), 4) & ~(1u << vector));
    deliver(vector);
  }
}

// --- MSI-X -------------------------------------------------------------------

MsixCapability::MsixCapability(PciDevice& device, ApicBus* apic, unsigned vectors, unsigned bar,
                               uint32_t table_offset, uint32_t pba_offset)
    : device_(device),
      sender_(apic),
      table_offset_(table_offset),
      pba_offset_(pba_offset),
      table_(vectors),
      pba_((vectors + 63) / 64),
      region_(make_range_view(*this, "msix", &MsixCapability::read_region,
                              &MsixCapability::write_region)) {
  uint64_t table_end = uint64_t(table_offset) + kMsixEntrySize * vectors;
  uint64_t pba_end = uint64_t(pba_offset) + 8 * pba_.size();
  if (vectors == 0 || vectors > kMsixMaxVectors || bar >= pci::kBars || (table_offset & 7) ||
      (pba_offset & 7) || (table_offset < pba_end && pba_offset < table_end))
    throw Error(fmt::format("MSI-X capability: {} vectors, BAR {}, table {:#x}, PBA {:#x}", vectors,
                            bar, table_offset, pba_offset));
  offset_ = device_.add_capability(pci::kCapMsix, 12);
  device_.set_config(offset_ + 2, 2, vectors - 1);
  device_.set_write_mask(offset_ + 2, 2, kMsixEnable | kMsixFunctionMask);
  device_.set_config(offset_ + 4, 4, table_offset | bar);
  device_.set_config(offset_ + 8, 4, pba_offset | bar);
  device_.watch_config(offset_ + 2, 2, [this] { deliver_unmasked(); });
}

uint64_t MsixCapability::region_size() const {
  uint64_t end = std::max(uint64_t(table_offset_) + kMsixEntrySize * table_.size(),
                          uint64_t(pba_offset_) + 8 * pba_.size());
  return std::bit_ceil(std::max<uint64_t>(end, 16));
}

bool MsixCapability::enabled() const { return device_.config(offset_ + 2, 2) & kMsixEnable; }

bool MsixCapability::function_masked() const {
  return device_.config(offset_ + 2, 2) & kMsixFunctionMask;
}

bool MsixCapability::masked(unsigned vector) const {
  return vector < table_.size() && (table_[vector].control & 1);
}

bool MsixCapability::pending(unsigned vector) const {
  return vector < table_.size() && (pba_[vector / 64] >> (vector % 64) & 1);
}

void MsixCapability::set_pending(unsigned vector, bool on) {
  uint64_t bit = 1ull << (vector % 64);
  pba_[vector / 64] = on ? pba_[vector / 64] | bit : pba_[vector / 64] & ~bit;
}

// Table entry: address low (bits 1:0 read 0), address high, data, vector
// control (bit 0 = mask; the rest reserved, read 0).
uint32_t MsixCapability::read_dword(uint64_t offset) const {
  if (offset >= table_offset_ && offset - table_offset_ < kMsixEntrySize * table_.size()) {
    const Entry& e = table_[(offset - table_offset_) / kMsixEntrySize];
    switch ((offset - table_offset_) % kMsixEntrySize) {
      case 0: return e.address_low;
      case 4: return e.address_high;
      case 8: return e.data;
      default: return e.control;
    }
  }
  if (offset >= pba_offset_ && offset - pba_offset_ < 8 * pba_.size()) {
    uint64_t qword = pba_[(offset - pba_offset_) / 8];
    return uint32_t(offset & 4 ? qword >> 32 : qword);
  }
  return 0;  // the rest of the BAR: reserved
}

void MsixCapability::write_dword(uint64_t offset, uint32_t value) {
  if (offset < table_offset_ || offset - table_offset_ >= kMsixEntrySize * table_.size()) return;
  Entry& e = table_[(offset - table_offset_) / kMsixEntrySize];
  switch ((offset - table_offset_) % kMsixEntrySize) {
    case 0: e.address_low = value & ~3u; break;
    case 4: e.address_high = value; break;
    case 8: e.data = value; break;
    default:
      e.control = value & 1;
      deliver_unmasked();
      break;
  }
}

// The BAR region holding the table and the pending bit array. Software
// uses aligned dword and qword accesses (6.8.2); other sizes are served
// byte by byte. The pending bits are read-only (writes are undefined).
uint64_t MsixCapability::read_region(uint64_t offset, unsigned size) {
  return read_lanes<4>(offset, size, [this](uint64_t dword) { return read_dword(dword); });
}

void MsixCapability::write_region(uint64_t offset, unsigned size, uint64_t value) {
  write_lanes<4>(offset, size, value, [this](uint64_t dword, uint64_t bits, uint64_t mask) {
    write_dword(dword, uint32_t((read_dword(dword) & ~mask) | bits));
  });
}

void MsixCapability::notify(unsigned vector) {
  if (vector >= table_.size()) {
    if (!logged_bad_vector_) {
      logged_bad_vector_ = true;
      log::get("dev.pci")->error("device signalled MSI-X vector {} of {}; dropped", vector,
                                 table_.size());
    }
    return;
  }
  if (!enabled()) return device_.set_intx(true);
  if (function_masked() || masked(vector)) return set_pending(vector, true);
  const Entry& e = table_[vector];
  sender_.send(uint64_t(e.address_high) << 32 | e.address_low, e.data);
}

// After an unmask (vector or function) or an enable: pending vectors go out.
void MsixCapability::deliver_unmasked() {
  if (!enabled() || function_masked()) return;
  for (unsigned vector = 0; vector < table_.size(); ++vector) {
    if (!pending(vector) || masked(vector)) continue;
    set_pending(vector, false);
    const Entry& e = table_[vector];
    sender_.send(uint64_t(e.address_high) << 32 | e.address_low, e.data);
  }
}

}  // namespace tv::dev
