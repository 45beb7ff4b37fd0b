// virtio-rng requests (spec 5.4.6). A driver that puts device-readable
// buffers in the queue (5.4.6.1 forbids it) gets them back untouched, and
// its writable ones filled; a chain with nothing writable comes back with
// length 0.
#include "devices/virtio/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#include <algorithm>

#include "base/error.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtqueue.h"

namespace tv::dev {

// getrandom(2) without flags blocks only until the host pool is first
// initialised, long before a VMM runs; requests under 256 bytes are never
// cut short, larger ones may be (signals), hence the loop.
void VirtioRng::host_random(std::span<uint8_t> out) {
  while (!out.empty()) {
    ssize_t n = getrandom(out.data(), out.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(errno_message("getrandom"));
    }
    out = out.subspan(size_t(n));
  }
}

void VirtioRng::read_config(unsigned, std::span<uint8_t> out) const {
  std::fill(out.begin(), out.end(), 0);
}

void VirtioRng::queue_notified(unsigned) {
  Virtqueue& q = context_->queue(0);
  bool used = false;
  while (std::optional<Chain> chain = q.pop()) {
    if (chain->readable > 0) guest_errors_.report("device-readable buffer in the entropy queue");
    uint32_t filled = 0;
    for (const Segment& s : chain->segments) {
      if (!s.writable || filled == kMaxPerRequest) continue;
      uint32_t n = std::min(s.len, kMaxPerRequest - filled);
      source_(std::span<uint8_t>(s.host, n));
      context_->dma().written(s.addr, n);
      filled += n;
    }
    q.push(chain->head, filled);
    used = true;
  }
  if (used) context_->notify_used(0);
}

std::shared_ptr<PciDevice> make_virtio_rng(ApicBus* apic, DmaSpace& dma) {
  return std::make_shared<VirtioPci>(apic, dma, std::make_unique<VirtioRng>());
}

}  // namespace tv::dev
