// Virtio PCI modern transport (spec 4.1). The function's identity and
// capabilities (4.1.2, 4.1.4), the BAR that holds the structures, device
// status and feature negotiation (2.1, 2.2, 3.1.1), and interrupts: MSI-X
// when the guest enabled it, else INTx through the ISR (4.1.5.3, 4.1.5.4).
//
// Choices where the spec leaves room:
// - A reset with requests still at the host completes when they have:
//   device_status keeps reading its old value until then (4.1.4.3.2 has
//   the driver wait for 0), so no DMA lands after the reset.
// - Accesses of other than the natural width (4.1.3.1) and writes to
//   fields the driver must not write are guest errors: logged, reads 0,
//   writes dropped. Queue fields are frozen while the queue is enabled.
// - A queue_size that is not a power of two up to the maximum is not
//   taken (4.1.4.3.1: the device presents only 0 or powers of two).
// - Queues are served only while bus mastering is on: a function with
//   bus mastering off cannot reach memory.
#include "devices/virtio/virtio_pci.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "base/error.h"
#include "base/log.h"

namespace tv::dev {

using namespace virtio_pci;

namespace {

// Common configuration fields (4.1.4.3).
constexpr uint64_t kDeviceFeatureSelect = 0x00;
constexpr uint64_t kDeviceFeature = 0x04;
constexpr uint64_t kDriverFeatureSelect = 0x08;
constexpr uint64_t kDriverFeature = 0x0C;
constexpr uint64_t kConfigMsixVector = 0x10;
constexpr uint64_t kNumQueues = 0x12;
constexpr uint64_t kDeviceStatus = 0x14;
constexpr uint64_t kConfigGeneration = 0x15;
constexpr uint64_t kQueueSelect = 0x16;
constexpr uint64_t kQueueSize = 0x18;
constexpr uint64_t kQueueMsixVector = 0x1A;
constexpr uint64_t kQueueEnable = 0x1C;
constexpr uint64_t kQueueNotifyOff = 0x1E;
constexpr uint64_t kQueueDesc = 0x20;
constexpr uint64_t kQueueDriver = 0x28;
constexpr uint64_t kQueueDevice = 0x30;

// The width of the field at `offset`, 0 if none starts there; the high
// halves of the 64-bit fields count as 32-bit fields (4.1.3.1).
unsigned field_width(uint64_t offset) {
  switch (offset) {
    case 0x00:
    case 0x04:
    case 0x08:
    case 0x0C:
    case 0x24:
    case 0x2C:
    case 0x34: return 4;
    case 0x10:
    case 0x12:
    case 0x16:
    case 0x18:
    case 0x1A:
    case 0x1C:
    case 0x1E:
    case 0x38:
    case 0x3A: return 2;
    case 0x14:
    case 0x15: return 1;
    case 0x20:
    case 0x28:
    case 0x30: return 8;
    default: return 0;
  }
}

bool natural(uint64_t offset, unsigned size) {
  unsigned width = field_width(offset);
  return width != 0 && (size == width || (width == 8 && size == 4));
}

// The 32 bits at `offset` (4 = the high half) of a 64-bit field, or all 64.
uint64_t part(uint64_t field, uint64_t offset, unsigned size) {
  if (size == 8) return field;
  return uint32_t(field >> (8 * (offset & 4)));
}

void set_part(uint64_t& field, uint64_t offset, unsigned size, uint64_t value) {
  if (size == 8) {
    field = value;
    return;
  }
  unsigned shift = 8 * (offset & 4);
  field = (field & ~(0xFFFFFFFFull << shift)) | (uint64_t(uint32_t(value)) << shift);
}

PciIdentity identity_of(const VirtioDevice& device) {
  PciIdentity id;
  id.vendor = kVendor;
  id.device = uint16_t(kDeviceBase + device.device_id());
  id.revision = 1;  // 4.1.2.1: non-transitional
  id.class_code = device.pci_class();
  id.subsystem_vendor = kVendor;
  id.subsystem = kSubsystem;
  id.pin = IntxPin::kA;
  return id;
}

// One MSI-X vector for configuration changes and one per queue, so that
// Linux gets a vector per queue; the table must fit below the PBA.
unsigned msix_vectors(const VirtioDevice& device) {
  unsigned queues = device.queue_count();
  if (queues > 255)
    throw Error(fmt::format("virtio-pci: {} has {} queues (at most 255)", device.name(), queues));
  for (unsigned q = 0; q < queues; ++q) {
    uint16_t size = device.queue_max_size(q);
    if (size == 0 || !std::has_single_bit(size) || size > virtq::kMaxSize)
      throw Error(fmt::format("virtio-pci: {} queue {} has size {}", device.name(), q, size));
  }
  if (device.config_size() > kRegionSize)
    throw Error(fmt::format("virtio-pci: {} config space of {} bytes", device.name(),
                            device.config_size()));
  return queues + 1;
}

}  // namespace

class VirtioPci::Bar final : public IoDevice {
 public:
  explicit Bar(VirtioPci& pci) : pci_(pci) {}
  std::string_view name() const override { return "virtio-pci"; }
  uint64_t read(uint64_t offset, unsigned size) override { return pci_.bar_read(offset, size); }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    pci_.bar_write(offset, size, value);
  }

 private:
  VirtioPci& pci_;
};

VirtioPci::VirtioPci(ApicBus* apic, DmaSpace& dma, std::unique_ptr<VirtioDevice> device)
    : PciDevice(identity_of(*device)),
      dma_(dma),
      device_(std::move(device)),
      vectors_(msix_vectors(*device_)),
      msix_(*this, apic, vectors_, kBar, kMsixTableOffset, kMsixPbaOffset) {
  unsigned count = device_->queue_count();
  queues_.reserve(count);
  for (unsigned q = 0; q < count; ++q) {
    queues_.emplace_back(dma_, device_->queue_max_size(q));
    queues_[q].set_error_handler(
        [this, q](const std::string& why) { device_error(fmt::format("queue {}: {}", q, why)); });
  }
  queue_state_.resize(count);

  add_virtio_cap(kCapCommon, kCommonOffset, kCommonSize);
  uint8_t notify =
      add_virtio_cap(kCapNotify, kNotifyOffset, std::max(2u, count * kNotifyMultiplier), 4);
  set_config(notify + 16u, 4, kNotifyMultiplier);
  add_virtio_cap(kCapIsr, kIsrOffset, 1);
  if (device_->config_size() > 0) add_virtio_cap(kCapDevice, kDeviceOffset, device_->config_size());
  // 4.1.4.9: bar, offset and length are the driver's; the data bytes are
  // a window onto the BAR.
  pci_cfg_cap_ = add_virtio_cap(kCapPciCfg, 0, 0, 4);
  set_write_mask(pci_cfg_cap_ + 4u, 1, 0xFF);
  set_write_mask(pci_cfg_cap_ + 8u, 4, ~0u);
  set_write_mask(pci_cfg_cap_ + 12u, 4, ~0u);
  claim_config(pci_cfg_cap_ + 16u, 4);

  if (msix_.region_size() > kBarSize) throw Error("virtio-pci: MSI-X table does not fit the BAR");
  declare_bar(kBar, {BarKind::kMemory64, kBarSize, false, std::make_shared<Bar>(*this)});
  device_->attach(*this);
}

VirtioPci::~VirtioPci() = default;

// struct virtio_pci_cap (4.1.4): vndr, next, cap_len, cfg_type, bar, id,
// padding[2], le32 offset, le32 length, then `extra` bytes.
uint8_t VirtioPci::add_virtio_cap(uint8_t type, uint64_t offset, uint64_t length, unsigned extra) {
  unsigned cap_len = 16 + extra;
  uint8_t cap = add_capability(pci::kCapVendor, cap_len);
  set_config(cap + 2u, 1, cap_len);
  set_config(cap + 3u, 1, type);
  set_config(cap + 4u, 1, kBar);
  set_config(cap + 8u, 4, uint32_t(offset));
  set_config(cap + 12u, 4, uint32_t(length));
  caps_.push_back(cap);
  return cap;
}

uint64_t VirtioPci::offered() const {
  return device_->features() | virtio::kFVersion1 | virtio::kFRingIndirectDesc |
         virtio::kFRingEventIdx;
}

// --- BAR -------------------------------------------------------------------

uint64_t VirtioPci::bar_read(uint64_t offset, unsigned size) {
  if (offset >= kMsixTableOffset) return msix_.region()->read(offset, size);
  uint64_t region = offset & ~(kRegionSize - 1), at = offset - region;
  switch (region) {
    case kCommonOffset: return at < kCommonSize ? common_read(at, size) : 0;
    case kIsrOffset: return at == 0 ? isr_read() : 0;
    case kDeviceOffset: return device_config_read(at, size);
    default: return 0;  // the notify region reads as zero
  }
}

void VirtioPci::bar_write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset >= kMsixTableOffset) return msix_.region()->write(offset, size, value);
  uint64_t region = offset & ~(kRegionSize - 1), at = offset - region;
  switch (region) {
    case kCommonOffset:
      if (at < kCommonSize) common_write(at, size, value);
      return;
    case kDeviceOffset: {
      uint8_t bytes[8];
      for (unsigned i = 0; i < size && i < 8; ++i) bytes[i] = uint8_t(value >> (8 * i));
      device_->write_config(unsigned(at), std::span<const uint8_t>(bytes, std::min(size, 8u)));
      return;
    }
    case kNotifyOffset: return notify_write(at);
    default: return;  // ISR is read-only
  }
}

// --- Common configuration ----------------------------------------------------

Virtqueue* VirtioPci::selected() {
  return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

uint64_t VirtioPci::common_read(uint64_t offset, unsigned size) {
  if (!natural(offset, size)) {
    guest_errors_.report(fmt::format("common config read of {} bytes at {:#x}", size, offset));
    return 0;
  }
  auto word = [](uint64_t bits, uint32_t select) {
    return select < 2 ? uint32_t(bits >> (32 * select)) : 0u;
  };
  switch (offset) {
    case kDeviceFeatureSelect: return device_feature_select_;
    case kDeviceFeature: return word(offered(), device_feature_select_);
    case kDriverFeatureSelect: return driver_feature_select_;
    case kDriverFeature: return word(driver_features_, driver_feature_select_);
    case kConfigMsixVector: return config_vector_;
    case kNumQueues: return queues_.size();
    case kDeviceStatus: return read_status();
    case kConfigGeneration: return generation_;
    case kQueueSelect: return queue_select_;
    default: break;
  }
  Virtqueue* q = selected();
  if (!q) return offset == kQueueMsixVector ? kNoVector : 0;  // 4.1.4.3.1: size 0
  switch (offset & ~7ull) {
    case kQueueDesc: return part(q->desc_addr, offset, size);
    case kQueueDriver: return part(q->driver_addr, offset, size);
    case kQueueDevice: return part(q->device_addr, offset, size);
    default: break;
  }
  switch (offset) {
    case kQueueSize: return q->size();
    case kQueueMsixVector: return queue_state_[queue_select_].vector;
    case kQueueEnable: return q->enabled();
    case kQueueNotifyOff: return queue_select_;
    default: return 0;  // queue_notify_data, queue_reset: features not offered
  }
}

void VirtioPci::common_write(uint64_t offset, unsigned size, uint64_t value) {
  if (!natural(offset, size)) {
    guest_errors_.report(fmt::format("common config write of {} bytes at {:#x}", size, offset));
    return;
  }
  // 4.1.5.1.2: a vector outside the table reads back as NO_VECTOR.
  auto vector = [&](uint64_t v) { return v < vectors_ ? uint16_t(v) : kNoVector; };
  switch (offset) {
    case kDeviceFeatureSelect: device_feature_select_ = uint32_t(value); return;
    case kDriverFeatureSelect: driver_feature_select_ = uint32_t(value); return;
    case kDriverFeature:
      if (status_ & virtio::kFeaturesOk)
        guest_errors_.report("driver features written after FEATURES_OK");
      else if (driver_feature_select_ < 2)
        set_part(driver_features_, driver_feature_select_ * 4, 4, value);
      return;
    case kConfigMsixVector: config_vector_ = vector(value); return;
    case kDeviceStatus: return write_status(uint8_t(value));
    case kQueueSelect: queue_select_ = uint16_t(value); return;
    case kQueueMsixVector:
      if (selected()) queue_state_[queue_select_].vector = vector(value);
      return;
    default: return queue_write(offset, size, value);
  }
}

// The per-queue fields other than the vector; frozen once enabled.
void VirtioPci::queue_write(uint64_t offset, unsigned size, uint64_t value) {
  Virtqueue* q = selected();
  if (!q) {
    guest_errors_.report(
        fmt::format("queue field {:#x} written for absent queue {}", offset, queue_select_));
    return;
  }
  if (offset == kDeviceFeature || offset == kNumQueues || offset == kConfigGeneration ||
      offset == kQueueNotifyOff) {
    guest_errors_.report(fmt::format("write to read-only common config field {:#x}", offset));
    return;
  }
  if (q->enabled()) {
    if (offset != kQueueEnable || value != 1)
      guest_errors_.report(
          fmt::format("queue {} field {:#x} written while enabled", queue_select_, offset));
    return;
  }
  switch (offset & ~7ull) {
    case kQueueDesc: return set_part(q->desc_addr, offset, size, value);
    case kQueueDriver: return set_part(q->driver_addr, offset, size, value);
    case kQueueDevice: return set_part(q->device_addr, offset, size, value);
    default: break;
  }
  if (offset == kQueueSize && !q->set_size(uint16_t(value))) {
    guest_errors_.report(
        fmt::format("queue {} size {} (max {})", queue_select_, value, q->max_size()));
  } else if (offset == kQueueEnable) {
    // 4.1.4.3.2: "The driver MUST NOT write a 0 to queue_enable."
    if (value != 1) return guest_errors_.report("queue_enable written with 0");
    uint64_t features = negotiated();
    q->enable(
        {bool(features & virtio::kFRingIndirectDesc), bool(features & virtio::kFRingEventIdx)});
  }
}

uint8_t VirtioPci::isr_read() {
  uint8_t value = isr_;
  isr_ = 0;
  set_intx(false);
  return value;
}

// 4.1.4.3.1 note: the generation moves when the driver reads a changed
// configuration, so a reader that brackets its reads sees it move.
uint64_t VirtioPci::device_config_read(uint64_t offset, unsigned size) {
  if (config_dirty_) {
    ++generation_;
    config_dirty_ = false;
  }
  uint8_t bytes[8] = {};
  unsigned config = device_->config_size();
  if (offset < config) {
    unsigned n = std::min<unsigned>({size, 8u, unsigned(config - offset)});
    device_->read_config(unsigned(offset), std::span<uint8_t>(bytes, n));
  }
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) value |= uint64_t(bytes[i]) << (8 * i);
  return value;
}

// 4.1.5.2: the driver writes the queue index to the queue's address; the
// address says which queue (the value is not needed without
// VIRTIO_F_NOTIFICATION_DATA). Spurious notifications are harmless.
void VirtioPci::notify_write(uint64_t offset) {
  unsigned q = unsigned(offset / kNotifyMultiplier);
  if (offset % kNotifyMultiplier || q >= queues_.size()) {
    guest_errors_.report(fmt::format("notify write at {:#x}", offset));
    return;
  }
  if (!live() || !queues_[q].enabled()) return;
  device_->queue_notified(q);
}

// --- Status, features, reset --------------------------------------------------

bool VirtioPci::live() {
  constexpr uint8_t kReady = virtio::kDriverOk | virtio::kFeaturesOk;
  if ((status_ & kReady) != kReady || (status_ & (virtio::kNeedsReset | virtio::kFailed)))
    return false;
  if (config(pci::kCommand, 2) & pci::kCommandBusMaster) return true;
  if (!logged_bus_master_) {
    logged_bus_master_ = true;
    log::get("dev.virtio")
        ->info("{}: bus mastering is off, queues are not served (logged once)", device_->name());
  }
  return false;
}

bool VirtioPci::reset_pending() {
  if (resetting_ && device_->quiesced()) resetting_ = false;
  return resetting_;
}

// Until the reset is done the old status shows (a reset written while
// another was pending keeps the first one's).
uint8_t VirtioPci::read_status() {
  if (!reset_pending()) return status_;
  return status_before_reset_ ? status_before_reset_ : virtio::kNeedsReset;
}

// 2.2.1: the device accepts any subset of what it offered, VERSION_1
// included (a legacy driver would not set it; there is no legacy interface).
bool VirtioPci::features_acceptable() const {
  return (driver_features_ & ~offered()) == 0 && (driver_features_ & virtio::kFVersion1);
}

// 2.1.1: the driver only sets bits; DEVICE_NEEDS_RESET is the device's.
void VirtioPci::write_status(uint8_t value) {
  if (value == 0) return reset();
  if (reset_pending())
    return guest_errors_.report("device status written before the reset completed");
  if (status_ & ~value & ~virtio::kNeedsReset)
    guest_errors_.report(
        fmt::format("driver cleared status bits ({:#x} -> {:#x})", status_, value));
  uint8_t added = value & ~status_ & ~virtio::kNeedsReset;
  if ((added & virtio::kFeaturesOk) && !features_acceptable()) {
    log::get("dev.virtio")
        ->info("{}: refused driver features {:#x} (offered {:#x})", device_->name(),
               driver_features_, offered());
    added &= ~virtio::kFeaturesOk;
  }
  status_ |= added;
  // Buffers made available before DRIVER_OK got no service (2.1.2).
  if ((added & virtio::kDriverOk) && live())
    for (unsigned q = 0; q < queues_.size(); ++q)
      if (queues_[q].enabled()) device_->queue_notified(q);
}

void VirtioPci::reset() {
  if (!resetting_) status_before_reset_ = status_;
  device_->reset();
  for (Virtqueue& q : queues_) q.reset();
  for (QueueState& s : queue_state_) s = QueueState{};
  status_ = isr_ = 0;
  set_intx(false);
  device_feature_select_ = driver_feature_select_ = 0;
  driver_features_ = 0;
  config_vector_ = kNoVector;
  queue_select_ = 0;
  config_dirty_ = false;
  resetting_ = !device_->quiesced();
}

// --- Interrupts ----------------------------------------------------------------

// 4.1.5.3, 4.1.5.4: MSI-X if enabled (nothing for NO_VECTOR), else the
// ISR bit and INTx, held until the driver reads the ISR.
void VirtioPci::send(uint16_t vector, uint8_t isr_bit) {
  if (msix_.enabled()) {
    if (vector != kNoVector) msix_.notify(vector);
    return;
  }
  isr_ |= isr_bit;
  set_intx(true);
}

// 4.1.4.5.1: the configuration bit is set whichever way the interrupt goes.
void VirtioPci::config_interrupt() {
  isr_ |= kIsrConfig;
  send(config_vector_, kIsrConfig);
}

void VirtioPci::notify_used(unsigned queue) {
  if (queue < queues_.size() && queues_[queue].needs_notification())
    send(queue_state_[queue].vector, kIsrQueue);
}

void VirtioPci::config_changed() {
  config_dirty_ = true;
  if (status_ & virtio::kDriverOk) config_interrupt();
}

// 2.1.2: NEEDS_RESET, and a configuration change notification if the
// driver is past DRIVER_OK.
void VirtioPci::device_error(std::string_view what) {
  guest_errors_.report(fmt::format("{}: {}; device needs reset", device_->name(), what));
  if (needs_reset()) return;
  status_ |= virtio::kNeedsReset;
  if (status_ & virtio::kDriverOk) config_interrupt();
}

// --- PCI configuration access capability (4.1.4.9) --------------------------

// The window the driver set up: cap.bar, cap.offset and cap.length, which
// must name 1, 2 or 4 aligned bytes of the BAR.
bool VirtioPci::pci_cfg_window(uint64_t& at, unsigned& length) {
  unsigned bar = config(pci_cfg_cap_ + 4u, 1);
  at = config(pci_cfg_cap_ + 8u, 4);
  length = config(pci_cfg_cap_ + 12u, 4);
  if (bar == kBar && (length == 1 || length == 2 || length == 4) && at % length == 0 &&
      at + length <= kBarSize)
    return true;
  guest_errors_.report(fmt::format("PCI config access window BAR {} {:#x}+{}", bar, at, length));
  return false;
}

uint32_t VirtioPci::config_read(unsigned offset, unsigned size) {
  uint64_t at;
  unsigned length;
  if (!pci_cfg_window(at, length)) return 0;
  uint64_t data = bar_read(at, length);
  for (unsigned i = 0; i < length; ++i) pci_cfg_data_[i] = uint8_t(data >> (8 * i));
  unsigned window = offset - (pci_cfg_cap_ + 16u);
  uint32_t value = 0;
  for (unsigned i = 0; i < size && window + i < 4; ++i)
    value |= uint32_t(pci_cfg_data_[window + i]) << (8 * i);
  return value;
}

void VirtioPci::config_write(unsigned offset, unsigned size, uint32_t value) {
  unsigned window = offset - (pci_cfg_cap_ + 16u);
  for (unsigned i = 0; i < size && window + i < 4; ++i)
    pci_cfg_data_[window + i] = uint8_t(value >> (8 * i));
  uint64_t at;
  unsigned length;
  if (!pci_cfg_window(at, length)) return;
  uint64_t data = 0;
  for (unsigned i = 0; i < length; ++i) data |= uint64_t(pci_cfg_data_[i]) << (8 * i);
  bar_write(at, length, data);
}

}  // namespace tv::dev
