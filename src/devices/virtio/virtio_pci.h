// Virtio over PCI, modern interface only (virtio 1.2, "spec" below, 4.1):
// a PCI function 1AF4:1040+id, revision 1, whose vendor-specific
// capabilities locate the common configuration, notification, ISR and
// device configuration structures in one 64-bit memory BAR, plus the PCI
// configuration access capability and MSI-X (one vector for configuration
// changes and one per queue) in the same BAR. The layout is what Linux
// 6.1's virtio_pci_modern maps: each structure 4 KiB apart, notifications
// 4 bytes apart per queue.
//
//   BAR 0 + 0x0000  common configuration (4.1.4.3), 0x3C bytes
//         + 0x1000  ISR status (4.1.4.5), 1 byte
//         + 0x2000  device configuration (4.1.4.6)
//         + 0x3000  queue notify, queue n at 4 * n (4.1.4.4)
//         + 0x4000  MSI-X table, + 0x5000 pending bits
//
// The device type (VirtioDevice) plugs in behind it. The guest reaches
// the device through BAR accesses (MMIO, vCPU thread); a queue notify
// write calls VirtioDevice::queue_notified on that thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/dma.h"
#include "devices/pci/msi.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtqueue.h"

namespace tv::dev {

namespace virtio_pci {
constexpr uint16_t kVendor = 0x1AF4;
constexpr uint16_t kDeviceBase = 0x1040;
constexpr uint16_t kSubsystem = 0x0040;  // 4.1.2.1: 0x40 or higher for non-transitional
constexpr uint16_t kNoVector = 0xFFFF;   // VIRTIO_MSI_NO_VECTOR

// Capability cfg_type values (4.1.4).
constexpr uint8_t kCapCommon = 1;
constexpr uint8_t kCapNotify = 2;
constexpr uint8_t kCapIsr = 3;
constexpr uint8_t kCapDevice = 4;
constexpr uint8_t kCapPciCfg = 5;

// ISR status bits (4.1.4.5).
constexpr uint8_t kIsrQueue = 1;
constexpr uint8_t kIsrConfig = 2;

constexpr unsigned kBar = 0;
constexpr uint64_t kBarSize = 0x8000;
constexpr uint64_t kCommonOffset = 0x0000;
constexpr uint64_t kCommonSize = 0x3C;
constexpr uint64_t kIsrOffset = 0x1000;
constexpr uint64_t kDeviceOffset = 0x2000;
constexpr uint64_t kNotifyOffset = 0x3000;
constexpr uint32_t kNotifyMultiplier = 4;
constexpr uint64_t kMsixTableOffset = 0x4000;
constexpr uint64_t kMsixPbaOffset = 0x5000;
constexpr uint64_t kRegionSize = 0x1000;
}  // namespace virtio_pci

class VirtioPci final : public PciDevice, private VirtioContext {
 public:
  // Throws tv::Error if `device` does not fit the layout (more than 255
  // queues, a queue size that is not a power of two, config over 4 KiB).
  VirtioPci(ApicBus* apic, DmaSpace& dma, std::unique_ptr<VirtioDevice> device);
  ~VirtioPci() override;

  // For tests and debugging.
  VirtioDevice& device() { return *device_; }
  uint8_t device_status() const { return status_; }
  uint8_t isr_status() const { return isr_; }
  uint64_t driver_features() const { return driver_features_; }
  Virtqueue& virtqueue(unsigned index) { return queues_[index]; }
  const MsixCapability& msix() const { return msix_; }
  // The offsets of the vendor capabilities, in list order.
  const std::vector<uint8_t>& virtio_capabilities() const { return caps_; }

 protected:
  // The PCI configuration access capability's data window.
  uint32_t config_read(unsigned offset, unsigned size) override;
  void config_write(unsigned offset, unsigned size, uint32_t value) override;

 private:
  class Bar;
  struct QueueState {
    uint16_t vector = virtio_pci::kNoVector;
  };

  // Set-up.
  uint8_t add_virtio_cap(uint8_t type, uint64_t offset, uint64_t length, unsigned extra = 0);
  uint64_t offered() const;

  // BAR regions.
  uint64_t bar_read(uint64_t offset, unsigned size);
  void bar_write(uint64_t offset, unsigned size, uint64_t value);
  uint64_t common_read(uint64_t offset, unsigned size);
  void common_write(uint64_t offset, unsigned size, uint64_t value);
  void queue_write(uint64_t offset, unsigned size, uint64_t value);
  uint8_t isr_read();
  uint64_t device_config_read(uint64_t offset, unsigned size);
  void notify_write(uint64_t offset);
  bool pci_cfg_window(uint64_t& at, unsigned& length);

  // Status and reset.
  bool reset_pending();
  uint8_t read_status();
  void write_status(uint8_t value);
  bool features_acceptable() const;
  void reset();
  bool live();
  Virtqueue* selected();

  // Interrupts.
  void config_interrupt();
  void send(uint16_t vector, uint8_t isr_bit);

  // VirtioContext.
  DmaSpace& dma() override { return dma_; }
  Virtqueue& queue(unsigned index) override { return queues_[index]; }
  uint64_t negotiated() const override { return driver_features_ & offered(); }
  void notify_used(unsigned queue) override;
  void config_changed() override;
  void device_error(std::string_view what) override;
  bool needs_reset() const override { return status_ & virtio::kNeedsReset; }

  DmaSpace& dma_;
  std::unique_ptr<VirtioDevice> device_;
  unsigned vectors_;  // MSI-X table size: configuration + one per queue
  MsixCapability msix_;
  std::vector<Virtqueue> queues_;
  std::vector<QueueState> queue_state_;
  std::vector<uint8_t> caps_;
  uint8_t pci_cfg_cap_ = 0;
  uint8_t pci_cfg_data_[4] = {};

  uint8_t status_ = 0;
  uint8_t status_before_reset_ = 0;
  bool resetting_ = false;  // reset written, device not yet quiesced
  uint8_t isr_ = 0;
  uint8_t generation_ = 0;
  bool config_dirty_ = false;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint16_t config_vector_ = virtio_pci::kNoVector;
  uint16_t queue_select_ = 0;

  GuestErrorLog guest_errors_{"dev.virtio"};
  bool logged_bus_master_ = false;
};

}  // namespace tv::dev
