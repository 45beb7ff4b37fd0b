// virtio-rng, the entropy device (virtio 1.2, 5.4): one queue of
// device-writable buffers, each filled from the host's getrandom(2) when
// the driver makes it available. Requests are small (Linux asks for 64
// bytes at a time), so they are served synchronously on the vCPU thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>

#include "devices/apic_bus.h"
#include "devices/dma.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/virtio.h"

namespace tv::dev {

class VirtioRng final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 64;
  // Per buffer; the device may use less than the buffer (5.4.6.2), and a
  // guest handing in a huge one does not stall the vCPU thread.
  static constexpr uint32_t kMaxPerRequest = 64 * 1024;

  // Fills its argument with random bytes; throws tv::Error if the host
  // cannot.
  using Source = std::function<void(std::span<uint8_t>)>;
  static void host_random(std::span<uint8_t> out);

  explicit VirtioRng(Source source = host_random) : source_(std::move(source)) {}

  std::string_view name() const override { return "virtio-rng"; }
  uint16_t device_id() const override { return virtio::kIdEntropy; }
  uint32_t pci_class() const override { return 0xFF0000; }  // device does not fit a class
  uint64_t features() const override { return 0; }
  unsigned queue_count() const override { return 1; }
  uint16_t queue_max_size(unsigned) const override { return kQueueSize; }
  unsigned config_size() const override { return 0; }
  void read_config(unsigned, std::span<uint8_t> out) const override;

  void attach(VirtioContext& context) override { context_ = &context; }
  void queue_notified(unsigned queue) override;
  void reset() override {}

 private:
  Source source_;
  VirtioContext* context_ = nullptr;
  GuestErrorLog guest_errors_{"dev.virtio-rng"};
};

// The virtio-rng PCI function for PciBus::add.
std::shared_ptr<PciDevice> make_virtio_rng(ApicBus* apic, DmaSpace& dma);

}  // namespace tv::dev
