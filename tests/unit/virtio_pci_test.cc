// The virtio PCI transport as a driver sees it: the function on a PCI bus
// with its BAR mapped, the capability list read through config space, the
// common configuration, notifications and ISR through MMIO, interrupts on
// fake I/O APIC pins and a fake APIC bus. Behind it, a device that uses
// every buffer it gets, and the entropy device end to end.
#include "devices/virtio/virtio_pci.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/bus.h"
#include "devices/pci/pci_bus.h"
#include "devices/virtio/virtio_rng.h"
#include "dma_fakes.h"

namespace tv::dev {
namespace {

using namespace virtio_pci;

using FakeDma = VectorDma;

class FakeApicBus : public ApicBus {
 public:
  void send(const ApicMessage& message) override { sent.push_back(message); }
  std::vector<ApicMessage> sent;
};

class LevelLog : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override { levels.at(irq) = level; }
  std::array<bool, 24> levels{};
};

// Two queues (16 and 8 entries), an 8-byte configuration space, feature
// bits 0 and 50; uses every chain it is given, with length 0.
class FakeDevice : public VirtioDevice {
 public:
  std::string_view name() const override { return "fake"; }
  uint16_t device_id() const override { return 1; }
  uint32_t pci_class() const override { return 0x020000; }
  uint64_t features() const override { return 1ull | 1ull << 50; }
  unsigned queue_count() const override { return 2; }
  uint16_t queue_max_size(unsigned q) const override { return q == 0 ? 16 : 8; }
  unsigned config_size() const override { return 8; }
  void read_config(unsigned offset, std::span<uint8_t> out) const override {
    for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(offset + i + 1);
  }
  void write_config(unsigned offset, std::span<const uint8_t> in) override {
    config_writes.emplace_back(offset, in.size());
  }
  void attach(VirtioContext& c) override { context = &c; }
  void queue_notified(unsigned q) override {
    notified.push_back(q);
    Virtqueue& queue = context->queue(q);
    while (auto chain = queue.pop()) queue.push(chain->head, 0);
    context->notify_used(q);
  }
  void reset() override { ++resets; }
  bool quiesced() const override { return idle; }

  VirtioContext* context = nullptr;
  std::vector<unsigned> notified;
  std::vector<std::pair<unsigned, size_t>> config_writes;
  unsigned resets = 0;
  bool idle = true;
};

constexpr unsigned kSlot = 3;
constexpr unsigned kGsi = 16 + pc::pci_link(kSlot, 0);
constexpr uint64_t kBarBase = 0xFE000000;
constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;

// Common configuration offsets (4.1.4.3).
constexpr uint64_t kDfSelect = 0x00, kDf = 0x04, kGfSelect = 0x08, kGf = 0x0C;
constexpr uint64_t kConfigVector = 0x10, kNumQueues = 0x12, kStatus = 0x14, kGeneration = 0x15;
constexpr uint64_t kQSelect = 0x16, kQSize = 0x18, kQVector = 0x1A, kQEnable = 0x1C;
constexpr uint64_t kQNotifyOff = 0x1E, kQDesc = 0x20, kQDriver = 0x28, kQDevice = 0x30;

constexpr uint8_t kAck = virtio::kAcknowledge, kDrv = virtio::kDriver;
constexpr uint8_t kFeatOk = virtio::kFeaturesOk, kDrvOk = virtio::kDriverOk;

class VirtioPciTest : public ::testing::Test {
 protected:
  explicit VirtioPciTest(std::unique_ptr<VirtioDevice> device = std::make_unique<FakeDevice>()) {
    fake = dynamic_cast<FakeDevice*>(device.get());
    fn = std::make_shared<VirtioPci>(&apic, dma, std::move(device));
    bus.add(kSlot, 0, fn);
    fn->write_config(pci::kBar0, 4, uint32_t(kBarBase));
    fn->write_config(pci::kBar0 + 4, 4, 0);
    fn->write_config(pci::kCommand, 2, pci::kCommandMemory | pci::kCommandBusMaster);
  }

  uint32_t cfg(unsigned offset, unsigned size) { return fn->read_config(offset, size); }
  uint64_t rd(uint64_t offset, unsigned size) { return mmio.read(kBarBase + offset, size); }
  void wr(uint64_t offset, unsigned size, uint64_t v) { mmio.write(kBarBase + offset, size, v); }
  uint8_t status() { return uint8_t(rd(kStatus, 1)); }
  void set_status(uint8_t s) { wr(kStatus, 1, s); }

  void negotiate(uint64_t features) {
    set_status(0);
    set_status(kAck);
    set_status(kAck | kDrv);
    wr(kGfSelect, 4, 0);
    wr(kGf, 4, uint32_t(features));
    wr(kGfSelect, 4, 1);
    wr(kGf, 4, uint32_t(features >> 32));
    set_status(kAck | kDrv | kFeatOk);
  }
  // Queue q's rings at kDesc/kAvail/kUsed + q * 0x4000.
  void setup_queue(uint16_t q) {
    wr(kQSelect, 2, q);
    wr(kQDesc, 4, kDesc + q * 0x4000);
    wr(kQDriver, 4, kAvail + q * 0x4000);
    wr(kQDevice, 4, kUsed + q * 0x4000);
    wr(kQEnable, 2, 1);
  }
  void bring_up(uint64_t features = virtio::kFVersion1) {
    negotiate(features);
    setup_queue(0);
    setup_queue(1);
    set_status(kAck | kDrv | kFeatOk | kDrvOk);
  }
  // One readable buffer made available on queue q, and the notify write.
  void offer(uint16_t q, bool notify = true) {
    uint64_t base = q * 0x4000, size = q == 0 ? 16 : 8;
    uint16_t idx;
    std::memcpy(&idx, dma.ram.data() + kAvail + base + 2, 2);
    uint16_t head = uint16_t(idx % size);
    uint64_t desc = kDesc + base + 16 * head, addr = 0x10000;
    uint32_t len = 16;
    std::memcpy(dma.ram.data() + desc, &addr, 8);
    std::memcpy(dma.ram.data() + desc + 8, &len, 4);
    std::memset(dma.ram.data() + desc + 12, 0, 4);
    std::memcpy(dma.ram.data() + kAvail + base + 4 + 2 * head, &head, 2);
    ++idx;
    std::memcpy(dma.ram.data() + kAvail + base + 2, &idx, 2);
    if (notify) wr(kNotifyOffset + kNotifyMultiplier * q, 2, q);
  }
  // MSI-X on, entry `n` aimed at vector `v` of APIC 0 and unmasked.
  void enable_msix(unsigned n, uint8_t v) {
    wr(kMsixTableOffset + 16 * n, 4, 0xFEE00000);
    wr(kMsixTableOffset + 16 * n + 8, 4, v);
    wr(kMsixTableOffset + 16 * n + 12, 4, 0);
    unsigned cap = fn->msix().offset();
    fn->write_config(cap + 2, 2, 0x8000);
  }

  FakeDma dma{0x100000};
  FakeApicBus apic;
  Bus pio{BusKind::kPio};
  Bus mmio{BusKind::kMmio};
  LevelLog ioapic;
  PciBus bus{pio, mmio, PciBus::ram_below(dma.ram.size()), &ioapic, nullptr};
  std::shared_ptr<VirtioPci> fn;
  FakeDevice* fake = nullptr;
};

TEST_F(VirtioPciTest, IdentityAndBar) {
  EXPECT_EQ(cfg(pci::kVendorId, 2), 0x1AF4u);
  EXPECT_EQ(cfg(pci::kDeviceId, 2), 0x1041u);  // 0x1040 + device ID 1
  EXPECT_EQ(cfg(pci::kRevision, 1), 1u);
  EXPECT_EQ(cfg(pci::kClassCode, 3), 0x020000u);
  EXPECT_EQ(cfg(pci::kSubsystemVendorId, 2), 0x1AF4u);
  EXPECT_GE(cfg(pci::kSubsystemId, 2), 0x40u);
  EXPECT_EQ(cfg(pci::kInterruptPin, 1), 1u);
  EXPECT_EQ(fn->bar_mapping(0), kBarBase);
  fn->write_config(pci::kBar0, 4, ~0u);  // sizing: 32 KiB, 64-bit, not prefetchable
  fn->write_config(pci::kBar0 + 4, 4, ~0u);
  EXPECT_EQ(cfg(pci::kBar0, 4), 0xFFFF8004u);
  EXPECT_EQ(cfg(pci::kBar0 + 4, 4), 0xFFFFFFFFu);
}

// The walk Linux's virtio_pci_find_capability does.
TEST_F(VirtioPciTest, CapabilityLayout) {
  struct Cap {
    unsigned type, bar, offset, length, cap_len;
    bool operator==(const Cap&) const = default;
  };
  std::vector<Cap> caps;
  unsigned notify_at = 0, msix_at = 0;
  for (unsigned at = cfg(pci::kCapabilitiesPointer, 1); at != 0; at = cfg(at + 1, 1)) {
    if (cfg(at, 1) == pci::kCapMsix) msix_at = at;
    if (cfg(at, 1) != pci::kCapVendor) continue;
    caps.push_back(
        {cfg(at + 3, 1), cfg(at + 4, 1), cfg(at + 8, 4), cfg(at + 12, 4), cfg(at + 2, 1)});
    if (caps.back().type == kCapNotify) notify_at = at;
  }
  ASSERT_EQ(caps.size(), 5u);
  EXPECT_EQ(caps[0], (Cap{kCapCommon, 0, 0x0000, 0x3C, 16}));
  EXPECT_EQ(caps[1], (Cap{kCapNotify, 0, 0x3000, 8, 20}));  // 2 queues * multiplier 4
  EXPECT_EQ(caps[2], (Cap{kCapIsr, 0, 0x1000, 1, 16}));
  EXPECT_EQ(caps[3], (Cap{kCapDevice, 0, 0x2000, 8, 16}));
  EXPECT_EQ(caps[4].type, kCapPciCfg);
  EXPECT_EQ(caps[4].cap_len, 20u);
  EXPECT_EQ(cfg(notify_at + 16, 4), kNotifyMultiplier);
  for (const Cap& c : caps) EXPECT_LE(c.offset + c.length, kBarSize);
  // MSI-X: configuration + 2 queue vectors, table and PBA in BAR 0.
  ASSERT_NE(msix_at, 0u);
  EXPECT_EQ(cfg(msix_at + 2, 2) & 0x7FF, 2u);
  EXPECT_EQ(cfg(msix_at + 4, 4), kMsixTableOffset | kBar);
  EXPECT_EQ(cfg(msix_at + 8, 4), kMsixPbaOffset | kBar);
  // Linux reads num_queues through the mapped common structure.
  EXPECT_EQ(rd(kNumQueues, 2), 2u);
}

TEST_F(VirtioPciTest, FeatureWordsBySelect) {
  EXPECT_EQ(rd(kDf, 4), 1u | 1u << 28 | 1u << 29);  // bit 0, indirect, event index
  wr(kDfSelect, 4, 1);
  EXPECT_EQ(rd(kDfSelect, 4), 1u);
  EXPECT_EQ(rd(kDf, 4), 1u | 1u << 18);  // VERSION_1 (32), bit 50
  wr(kDfSelect, 4, 2);
  EXPECT_EQ(rd(kDf, 4), 0u);
}

TEST_F(VirtioPciTest, FeaturesAccepted) {
  uint64_t features = virtio::kFVersion1 | virtio::kFRingEventIdx | 1ull << 50;
  negotiate(features);
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk);
  EXPECT_EQ(fn->driver_features(), features);
  wr(kGfSelect, 4, 1);
  EXPECT_EQ(rd(kGf, 4), uint32_t(features >> 32));
  wr(kGf, 4, 0);  // after FEATURES_OK: ignored
  EXPECT_EQ(fn->driver_features(), features);
}

TEST_F(VirtioPciTest, FeaturesOkRefused) {
  negotiate(1);  // no VERSION_1: a legacy driver
  EXPECT_EQ(status(), kAck | kDrv);
  negotiate(virtio::kFVersion1 | 1ull << 3);  // a bit not offered
  EXPECT_EQ(status(), kAck | kDrv);
  wr(kGfSelect, 4, 0);
  wr(kGf, 4, 1);
  set_status(kAck | kDrv | kFeatOk);  // a valid set on the second try
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk);
}

TEST_F(VirtioPciTest, StatusBitsOnlyAccumulate) {
  negotiate(virtio::kFVersion1);
  set_status(kAck);  // clears DRIVER and FEATURES_OK: not allowed
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk);
  set_status(kAck | kDrv | kFeatOk | virtio::kNeedsReset);  // the device's bit
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk);
}

TEST_F(VirtioPciTest, QueueRegisters) {
  EXPECT_EQ(rd(kQSize, 2), 16u);
  wr(kQSelect, 2, 1);
  EXPECT_EQ(rd(kQSize, 2), 8u);
  EXPECT_EQ(rd(kQNotifyOff, 2), 1u);
  EXPECT_EQ(rd(kQVector, 2), kNoVector);
  wr(kQSize, 2, 4);
  EXPECT_EQ(rd(kQSize, 2), 4u);
  wr(kQSize, 2, 3);   // not a power of two
  wr(kQSize, 2, 16);  // over the maximum
  EXPECT_EQ(rd(kQSize, 2), 4u);
  wr(kQDesc, 4, 0x5000);
  wr(kQDesc + 4, 4, 0);
  wr(kQDriver, 8, 0x6000);
  wr(kQDevice, 4, 0x7000);
  EXPECT_EQ(rd(kQDesc, 8), 0x5000u);
  EXPECT_EQ(rd(kQDriver, 4), 0x6000u);
  EXPECT_EQ(rd(kQDriver + 4, 4), 0u);
  wr(kQEnable, 2, 1);
  EXPECT_EQ(rd(kQEnable, 2), 1u);
  EXPECT_TRUE(fn->virtqueue(1).enabled());
  EXPECT_EQ(fn->virtqueue(1).size(), 4u);
  wr(kQSize, 2, 8);  // frozen while enabled
  wr(kQDesc, 4, 0x9000);
  EXPECT_EQ(rd(kQSize, 2), 4u);
  EXPECT_EQ(rd(kQDesc, 4), 0x5000u);
  wr(kQSelect, 2, 5);  // no such queue
  EXPECT_EQ(rd(kQSize, 2), 0u);
  EXPECT_EQ(rd(kQEnable, 2), 0u);
  EXPECT_EQ(rd(kQVector, 2), kNoVector);
}

TEST_F(VirtioPciTest, AccessesOfTheWrongWidthAreDropped) {
  EXPECT_EQ(rd(kDf, 1), 0u);
  EXPECT_EQ(rd(kQSize, 4), 0u);
  wr(kQSelect, 4, 1);
  EXPECT_EQ(rd(kQSelect, 2), 0u);
  EXPECT_EQ(rd(kNumQueues, 2), 2u);
  wr(kNumQueues, 2, 9);  // read-only
  EXPECT_EQ(rd(kNumQueues, 2), 2u);
}

TEST_F(VirtioPciTest, ResetRestoresEverything) {
  bring_up(virtio::kFVersion1 | virtio::kFRingIndirectDesc);
  wr(kConfigVector, 2, 0);
  wr(kQVector, 2, 2);  // queue 1's
  fake->context->device_error("test");
  ASSERT_TRUE(status() & virtio::kNeedsReset);
  ASSERT_EQ(rd(kIsrOffset, 1), kIsrConfig);
  fake->context->config_changed();  // ISR pending again
  set_status(0);
  EXPECT_EQ(fake->resets, 2u);  // negotiate() reset once too
  EXPECT_EQ(status(), 0u);
  EXPECT_EQ(fn->driver_features(), 0u);
  EXPECT_EQ(rd(kConfigVector, 2), kNoVector);
  EXPECT_EQ(rd(kQSelect, 2), 0u);
  EXPECT_EQ(fn->isr_status(), 0u);
  EXPECT_FALSE(ioapic.levels[kGsi]);
  for (uint16_t q = 0; q < 2; ++q) {
    wr(kQSelect, 2, q);
    EXPECT_EQ(rd(kQEnable, 2), 0u);
    EXPECT_EQ(rd(kQSize, 2), q == 0 ? 16u : 8u);
    EXPECT_EQ(rd(kQVector, 2), kNoVector);
    EXPECT_EQ(rd(kQDesc, 8), 0u);
  }
}

TEST_F(VirtioPciTest, ResetCompletesWhenTheDeviceIsQuiet) {
  bring_up();
  fake->idle = false;  // requests at the host
  set_status(0);
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk | kDrvOk);
  set_status(kAck);  // too early: ignored
  fake->idle = true;
  EXPECT_EQ(status(), 0u);
  set_status(kAck);
  EXPECT_EQ(status(), kAck);
}

TEST_F(VirtioPciTest, NotificationsReachTheDeviceOnlyWhenLive) {
  negotiate(virtio::kFVersion1);
  setup_queue(0);
  offer(0);  // before DRIVER_OK: not served
  EXPECT_TRUE(fake->notified.empty());
  set_status(kAck | kDrv | kFeatOk | kDrvOk);
  EXPECT_EQ(fake->notified, (std::vector<unsigned>{0}));  // kicked at DRIVER_OK
  offer(1);                                               // queue 1 not enabled
  wr(kNotifyOffset + 2, 2, 0);                            // between queues
  wr(kNotifyOffset + 4 * 9, 2, 9);                        // no such queue
  offer(0);
  EXPECT_EQ(fake->notified, (std::vector<unsigned>{0, 0}));
  fn->write_config(pci::kCommand, 2, pci::kCommandMemory);  // bus mastering off
  offer(0);
  EXPECT_EQ(fake->notified.size(), 2u);
}

TEST_F(VirtioPciTest, IntxThroughTheIsr) {
  bring_up();
  offer(0);
  EXPECT_EQ(fn->isr_status(), kIsrQueue);
  EXPECT_TRUE(ioapic.levels[kGsi]);
  EXPECT_TRUE(cfg(pci::kStatus, 2) & pci::kStatusInterrupt);
  EXPECT_EQ(rd(kIsrOffset, 1), kIsrQueue);  // read to clear
  EXPECT_FALSE(ioapic.levels[kGsi]);
  EXPECT_FALSE(cfg(pci::kStatus, 2) & pci::kStatusInterrupt);
  EXPECT_EQ(rd(kIsrOffset, 1), 0u);
  EXPECT_TRUE(apic.sent.empty());
}

TEST_F(VirtioPciTest, MsixVectorsPerQueueAndForConfig) {
  bring_up();
  enable_msix(0, 0x40);
  enable_msix(2, 0x42);
  wr(kConfigVector, 2, 0);
  wr(kQSelect, 2, 1);
  wr(kQVector, 2, 2);
  EXPECT_EQ(rd(kQVector, 2), 2u);
  wr(kQSelect, 2, 0);
  wr(kQVector, 2, 3);  // outside the table of 3
  EXPECT_EQ(rd(kQVector, 2), kNoVector);

  offer(1);
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x42);
  offer(0);  // NO_VECTOR: no interrupt at all
  EXPECT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(fn->isr_status(), 0u);
  EXPECT_FALSE(ioapic.levels[kGsi]);
  fake->context->config_changed();
  ASSERT_EQ(apic.sent.size(), 2u);
  EXPECT_EQ(apic.sent[1].vector, 0x40);
  EXPECT_EQ(fn->isr_status(), kIsrConfig);  // set either way (4.1.4.5.1)
}

TEST_F(VirtioPciTest, DeviceErrorSetsNeedsResetAndInterrupts) {
  bring_up();
  fake->context->device_error("bad chain");
  EXPECT_EQ(status(), kAck | kDrv | kFeatOk | kDrvOk | virtio::kNeedsReset);
  EXPECT_EQ(fn->isr_status(), kIsrConfig);
  EXPECT_TRUE(ioapic.levels[kGsi]);
  offer(0);                              // the device is stopped
  EXPECT_EQ(fake->notified.size(), 2u);  // the two DRIVER_OK kicks only
}

TEST_F(VirtioPciTest, MalformedRingAtEnableNeedsResetQuietly) {
  negotiate(virtio::kFVersion1);
  wr(kQSelect, 2, 0);
  wr(kQDesc, 4, 0);
  wr(kQDesc + 4, 4, 1);  // 4 GiB: not RAM
  wr(kQEnable, 2, 1);
  EXPECT_EQ(rd(kQEnable, 2), 0u);
  EXPECT_TRUE(status() & virtio::kNeedsReset);
  EXPECT_EQ(fn->isr_status(), 0u);  // no notification before DRIVER_OK (2.1.2)
}

TEST_F(VirtioPciTest, BrokenChainNeedsReset) {
  bring_up();
  uint16_t head = 200, idx = 1;  // beyond the queue of 16
  std::memcpy(dma.ram.data() + kAvail + 4, &head, 2);
  std::memcpy(dma.ram.data() + kAvail + 2, &idx, 2);
  wr(kNotifyOffset, 2, 0);
  EXPECT_TRUE(status() & virtio::kNeedsReset);
  EXPECT_TRUE(fn->virtqueue(0).broken());
  EXPECT_EQ(fn->isr_status(), kIsrConfig);
}

TEST_F(VirtioPciTest, ConfigurationSpaceAndGeneration) {
  bring_up();
  EXPECT_EQ(rd(kDeviceOffset, 4), 0x04030201u);
  EXPECT_EQ(rd(kDeviceOffset + 6, 2), 0x0807u);
  EXPECT_EQ(rd(kDeviceOffset + 6, 4), 0x0807u);  // past the end reads 0
  wr(kDeviceOffset + 2, 2, 0xBEEF);
  EXPECT_EQ(fake->config_writes, (std::vector<std::pair<unsigned, size_t>>{{2, 2}}));

  uint64_t before = rd(kGeneration, 1);
  fake->context->config_changed();
  EXPECT_EQ(rd(kIsrOffset, 1), kIsrConfig);
  EXPECT_EQ(rd(kGeneration, 1), before);  // moves once the new value is read
  rd(kDeviceOffset, 4);
  EXPECT_EQ(rd(kGeneration, 1), uint8_t(before + 1));
  rd(kDeviceOffset, 4);
  EXPECT_EQ(rd(kGeneration, 1), uint8_t(before + 1));
}

TEST_F(VirtioPciTest, PciConfigurationAccessWindow) {
  unsigned cap = fn->virtio_capabilities().back();
  ASSERT_EQ(cfg(cap + 3, 1), kCapPciCfg);
  auto window = [&](unsigned bar, unsigned offset, unsigned length) {
    fn->write_config(cap + 4, 1, bar);
    fn->write_config(cap + 8, 4, offset);
    fn->write_config(cap + 12, 4, length);
  };
  window(0, kDeviceOffset, 4);
  EXPECT_EQ(cfg(cap + 16, 4), 0x04030201u);
  window(0, kCommonOffset + kNumQueues, 2);
  EXPECT_EQ(cfg(cap + 16, 2), 2u);
  window(0, kCommonOffset + kQSelect, 2);
  fn->write_config(cap + 16, 2, 1);
  EXPECT_EQ(rd(kQSize, 2), 8u);     // queue 1 selected through the window
  window(0, kDeviceOffset + 1, 2);  // misaligned
  EXPECT_EQ(cfg(cap + 16, 4), 0u);
  window(2, kDeviceOffset, 4);  // no such BAR
  EXPECT_EQ(cfg(cap + 16, 4), 0u);
}

// --- The entropy device, end to end -------------------------------------------

class VirtioRngTest : public VirtioPciTest {
 protected:
  VirtioRngTest()
      : VirtioPciTest(std::make_unique<VirtioRng>([this](std::span<uint8_t> out) {
          for (uint8_t& b : out) b = ++counter;
        })) {}
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    uint64_t at = kDesc + 16ull * i;
    std::memcpy(dma.ram.data() + at, &addr, 8);
    std::memcpy(dma.ram.data() + at + 8, &len, 4);
    std::memcpy(dma.ram.data() + at + 12, &flags, 2);
    std::memcpy(dma.ram.data() + at + 14, &next, 2);
  }
  void make_available(uint16_t slot, uint16_t head) {
    std::memcpy(dma.ram.data() + kAvail + 4 + 2 * slot, &head, 2);
    uint16_t idx = slot + 1;
    std::memcpy(dma.ram.data() + kAvail + 2, &idx, 2);
  }
  uint32_t used_len(uint16_t slot) {
    uint32_t len;
    std::memcpy(&len, dma.ram.data() + kUsed + 8 + 8 * slot, 4);
    return len;
  }

  uint8_t counter = 0;
};

TEST_F(VirtioRngTest, FillsWritableBuffers) {
  EXPECT_EQ(cfg(pci::kDeviceId, 2), 0x1044u);
  for (unsigned at : fn->virtio_capabilities()) EXPECT_NE(cfg(at + 3, 1), kCapDevice);
  EXPECT_EQ(rd(kNumQueues, 2), 1u);
  negotiate(virtio::kFVersion1);
  setup_queue(0);
  set_status(kAck | kDrv | kFeatOk | kDrvOk);
  enable_msix(1, 0x51);
  wr(kQVector, 2, 1);

  desc(0, 0x10000, 4, virtq::kDescWrite | virtq::kDescNext, 1);
  desc(1, 0x10100, 2, virtq::kDescWrite);
  make_available(0, 0);
  wr(kNotifyOffset, 2, 0);
  EXPECT_EQ(dma.ram[0x10000], 1);
  EXPECT_EQ(dma.ram[0x10003], 4);
  EXPECT_EQ(dma.ram[0x10100], 5);
  EXPECT_EQ(dma.ram[0x10101], 6);
  EXPECT_EQ(dma.ram[0x10102], 0);
  EXPECT_EQ(used_len(0), 6u);
  ASSERT_EQ(apic.sent.size(), 1u);
  EXPECT_EQ(apic.sent[0].vector, 0x51);
  bool reported = false;
  for (auto& w : dma.writes) reported |= w == std::make_pair(uint64_t(0x10000), uint64_t(4));
  EXPECT_TRUE(reported);

  // A readable buffer is left alone; a huge one gets kMaxPerRequest bytes.
  desc(2, 0x20000, 8, virtq::kDescNext, 3);
  desc(3, 0x30000, 2 * VirtioRng::kMaxPerRequest, virtq::kDescWrite);
  make_available(1, 2);
  wr(kNotifyOffset, 2, 0);
  EXPECT_EQ(used_len(1), VirtioRng::kMaxPerRequest);
  EXPECT_EQ(dma.ram[0x20000], 0);
  EXPECT_NE(dma.ram[0x30000 + VirtioRng::kMaxPerRequest - 1], 0);
  EXPECT_EQ(dma.ram[0x30000 + VirtioRng::kMaxPerRequest], 0);
}

TEST(VirtioRngHost, GetrandomFillsTheBuffer) {
  std::vector<uint8_t> a(64), b(64);
  VirtioRng::host_random(a);
  VirtioRng::host_random(b);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tv::dev
