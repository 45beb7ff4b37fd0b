// What every virtio device model shares, whatever its transport (virtio
// 1.2, "spec" below, chapter 2 "Basic Facilities of a Virtio Device"): the
// device status and feature bits, the interface a device type implements
// (VirtioDevice: block, entropy, later network and console) and the
// services its transport gives it (VirtioContext: the queues, guest RAM,
// interrupts, the error state). Only the modern (1.x) interface exists
// here: no legacy or transitional layout.
//
// Everything runs on the vCPU thread; a device that hands work to a host
// thread gets its completion back on the vCPU thread (block.h), so no
// state here needs a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "devices/dma.h"

namespace tv::dev {

class Virtqueue;

namespace virtio {

// Device status bits (spec 2.1).
constexpr uint8_t kAcknowledge = 1;
constexpr uint8_t kDriver = 2;
constexpr uint8_t kDriverOk = 4;
constexpr uint8_t kFeaturesOk = 8;
constexpr uint8_t kNeedsReset = 64;
constexpr uint8_t kFailed = 128;

// Reserved feature bits the transport and the rings handle (spec 6).
constexpr uint64_t kFRingIndirectDesc = 1ull << 28;
constexpr uint64_t kFRingEventIdx = 1ull << 29;
constexpr uint64_t kFVersion1 = 1ull << 32;

// Device IDs (spec 5).
constexpr uint16_t kIdBlock = 2;
constexpr uint16_t kIdEntropy = 4;

}  // namespace virtio

// A device type's half of a virtio device. The transport owns the
// virtqueues, the feature negotiation and the status register; the device
// supplies its features, its configuration space and what happens when the
// driver makes buffers available.
class VirtioContext;

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual std::string_view name() const = 0;
  virtual uint16_t device_id() const = 0;
  // PCI class code (base << 16 | sub-class << 8 | interface); virtio does
  // not define one, drivers match on the IDs.
  virtual uint32_t pci_class() const = 0;
  // Device-type feature bits (0-23, 50-127). The transport adds the ring
  // and version bits.
  virtual uint64_t features() const = 0;

  virtual unsigned queue_count() const = 0;
  // A power of two, at most 32768 (spec 2.7).
  virtual uint16_t queue_max_size(unsigned queue) const = 0;

  // Device configuration space (spec 2.5), little-endian. Bytes past
  // config_size() read as zero; writes to read-only fields are ignored.
  virtual unsigned config_size() const = 0;
  virtual void read_config(unsigned offset, std::span<uint8_t> out) const = 0;
  virtual void write_config(unsigned /*offset*/, std::span<const uint8_t> /*in*/) {}

  // Called once, before anything else, by the transport that owns it.
  virtual void attach(VirtioContext& context) = 0;
  // The driver made buffers available on `queue` (an available buffer
  // notification; spec 2.7.13). Only called while the device is live
  // (DRIVER_OK, not NEEDS_RESET) and the queue enabled.
  virtual void queue_notified(unsigned queue) = 0;
  // Device reset (spec 2.4): forget every request. Requests still with the
  // host complete later and must then touch neither the rings nor status
  // bytes; quiesced() is false until they have.
  virtual void reset() = 0;
  virtual bool quiesced() const { return true; }
};

// The transport's services to its device.
class VirtioContext {
 public:
  virtual ~VirtioContext() = default;

  virtual DmaSpace& dma() = 0;
  virtual Virtqueue& queue(unsigned index) = 0;
  // The feature bits both sides agreed on (valid once FEATURES_OK is set).
  virtual uint64_t negotiated() const = 0;

  // Sends a used buffer notification for `queue` unless the driver
  // suppressed it (spec 2.7.7, 2.7.10). Call after push()ing a batch.
  virtual void notify_used(unsigned queue) = 0;
  // The device configuration changed: a new generation and a configuration
  // change notification (spec 2.5, 4.1.5.5).
  virtual void config_changed() = 0;
  // The driver broke the protocol in a way no status byte can report: the
  // device sets DEVICE_NEEDS_RESET and tells the driver (spec 2.1.2).
  virtual void device_error(std::string_view what) = 0;
  virtual bool needs_reset() const = 0;
};

// Guest errors are logged, but a guest can make them at any rate: this
// passes a burst per window and then counts what it drops, reporting the
// count when the next window opens.
class GuestErrorLog {
 public:
  explicit GuestErrorLog(std::string logger) : logger_(std::move(logger)) {}
  void report(std::string_view what);
  uint64_t reported() const { return reported_; }

 private:
  static constexpr unsigned kBurst = 10;
  static constexpr std::chrono::seconds kWindow{10};

  std::string logger_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned in_window_ = 0;
  uint64_t suppressed_ = 0;
  uint64_t reported_ = 0;
};

}  // namespace tv::dev
