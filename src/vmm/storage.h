// The machine's storage and entropy devices on PCI bus 0: the disk images
// of --disk behind virtio-blk functions (slots 3 and up, in command-line
// order) or the PIIX3 IDE function (slot 1 function 1, behind the ISA
// bridge, with the legacy ports and IRQs 14/15; present with or without
// disks, as on QEMU's i440FX machine), and a virtio-rng function after the
// disks. Also the guest RAM view the devices DMA through and the queue
// that brings disk completions from the I/O threads to the vCPU thread.
//
// Lifetime: disks go first (their destructors finish every request and
// fdatasync), then the controllers their completions touch, then the
// queue. Everything here runs on the vCPU thread except the queue's wake.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/guest_memory.h"
#include "devices/bus.h"
#include "devices/dma.h"
#include "vmm/completion_queue.h"
#include "vmm/config.h"

namespace tv {

class Backend;
class DiskImage;
class Platform;

namespace dev {
class PciDevice;
}

class Storage {
 public:
  // Opens every disk (tv::Error for a bad one) and adds the functions to
  // the platform's PCI bus. `wake` is the queue's (completion_queue.h);
  // `backend` is asked for once DMA writes land (it is made later).
  Storage(const Config& config, GuestMemory& ram, dev::Bus& pio, Platform& platform,
          CompletionQueue::Wake wake, std::function<Backend*()> backend);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Runs the completions the I/O threads posted (the service loop).
  void drain() { completions_.drain(); }
  // Waits for every request in flight and runs its completion: at the end
  // of a run, so that what the guest was told is written is written.
  void finish();

 private:
  class Dma final : public dev::DmaSpace {
   public:
    Dma(GuestMemory& ram, std::function<Backend*()> backend)
        : ram_(ram), backend_(std::move(backend)) {}
    uint8_t* host(uint64_t addr, uint64_t len) override;
    void written(uint64_t addr, uint64_t len) override;

   private:
    GuestMemory& ram_;
    std::function<Backend*()> backend_;
  };

  CompletionQueue completions_;
  Dma dma_;
  std::vector<std::shared_ptr<dev::PciDevice>> functions_;
  std::vector<std::shared_ptr<DiskImage>> disks_;  // destroyed first
};

}  // namespace tv
