#include "vmm/storage.h"

#include <array>

#include "base/error.h"
#include "devices/ide/piix_ide.h"
#include "devices/pc_platform.h"
#include "devices/pci/pci_bus.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_rng.h"
#include "vmm/backend.h"
#include "vmm/disk_image.h"
#include "vmm/platform.h"

namespace tv {
namespace {

constexpr unsigned kIdeFunction = 1;      // PIIX3 function 1, behind the ISA bridge
constexpr unsigned kFirstVirtioSlot = 3;  // after the bridges and QEMU's VGA slot

}  // namespace

uint8_t* Storage::Dma::host(uint64_t addr, uint64_t len) { return ram_.host(GuestPhys{addr}, len); }

void Storage::Dma::written(uint64_t addr, uint64_t len) {
  if (Backend* b = backend_()) b->memory_written(addr, len);
}

Storage::Storage(const Config& config, GuestMemory& ram, dev::Bus& pio, Platform& platform,
                 CompletionQueue::Wake wake, std::function<Backend*()> backend)
    : completions_(std::move(wake)), dma_(ram, std::move(backend)) {
  dev::PciBus& pci = platform.pci();
  dev::PiixIde::Disks ide{};
  unsigned ide_next = 0, slot = kFirstVirtioSlot;
  for (const DiskConfig& d : config.disks) {
    auto disk = std::make_shared<DiskImage>(d, completions_);
    disks_.push_back(disk);
    if (d.interface == DiskInterface::kIde) {
      ide[ide_next++] = disk;  // config.cc caps IDE disks at the four positions
      continue;
    }
    functions_.push_back(dev::make_virtio_blk(&platform.apic_bus(), dma_, disk));
    pci.add(slot++, 0, functions_.back());
  }
  auto piix = std::make_shared<dev::PiixIde>(dma_, &platform.isa_irq(), ide);
  for (const auto& range : piix->legacy_ports()) pio.insert(range.base, range.length, range.device);
  functions_.push_back(piix);
  pci.add(dev::pc::kIsaBridgeSlot, kIdeFunction, piix);
  functions_.push_back(dev::make_virtio_rng(&platform.apic_bus(), dma_));
  pci.add(slot, 0, functions_.back());
}

Storage::~Storage() {
  finish();
  disks_.clear();
}

void Storage::finish() {
  for (auto& d : disks_) d->drain_all();
}

}  // namespace tv
