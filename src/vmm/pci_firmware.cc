#include "vmm/pci_firmware.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "devices/pc_platform.h"
#include "devices/pci/pci_bus.h"
#include "devices/pci/pci_device.h"

namespace tv {
namespace {

namespace pci = dev::pci;
namespace pc = dev::pc;

struct Bar {
  unsigned slot, function, index;
  bool io, is64;
  uint64_t size;
};

// Sizes BAR `index` (PCI Local Bus 3.0, 6.2.5.1): write all-ones, read the
// mask back, restore. Zero: not implemented.
Bar size_bar(dev::PciBus& bus, unsigned slot, unsigned function, unsigned index) {
  const unsigned off = pci::kBar0 + 4 * index;
  const uint32_t old = bus.config_read(slot, function, off, 4);
  bus.config_write(slot, function, off, 4, 0xFFFFFFFF);
  const uint32_t mask = bus.config_read(slot, function, off, 4);
  bus.config_write(slot, function, off, 4, old);
  Bar bar{slot, function, index, (old & 1) != 0, false, 0};
  if (mask == 0) return bar;
  if (bar.io) {
    bar.size = uint32_t(~(mask & ~3u) + 1) & 0xFFFF;
    return bar;
  }
  bar.is64 = ((old >> 1) & 3) == 2;
  uint64_t full = mask & ~0xFu;
  if (bar.is64) {
    bus.config_write(slot, function, off + 4, 4, 0xFFFFFFFF);
    full |= uint64_t(bus.config_read(slot, function, off + 4, 4)) << 32;
    bus.config_write(slot, function, off + 4, 4, 0);
  } else {
    full |= 0xFFFFFFFF00000000ull;
  }
  bar.size = ~full + 1;
  return bar;
}

std::vector<Bar> bars_of(dev::PciBus& bus, const dev::PciBus::Function& f) {
  std::vector<Bar> out;
  for (unsigned i = 0; i < pci::kBars; ++i) {
    Bar bar = size_bar(bus, f.slot, f.function, i);
    if (bar.size) out.push_back(bar);
    if (bar.is64) ++i;  // the upper half is the next slot
  }
  return out;
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

void place(dev::PciBus& bus, const Bar& bar, uint64_t at) {
  const unsigned off = pci::kBar0 + 4 * bar.index;
  bus.config_write(bar.slot, bar.function, off, 4, uint32_t(at));
  if (bar.is64) bus.config_write(bar.slot, bar.function, off + 4, 4, uint32_t(at >> 32));
}

}  // namespace

void assign_pci_resources(dev::PciBus& bus) {
  std::vector<Bar> bars;
  for (const auto& f : bus.functions()) {
    std::vector<Bar> b = bars_of(bus, f);
    bars.insert(bars.end(), b.begin(), b.end());
  }
  // Largest first: every placement stays naturally aligned with no gaps.
  std::stable_sort(bars.begin(), bars.end(),
                   [](const Bar& a, const Bar& b) { return a.size > b.size; });
  uint64_t mem = pc::kPciMemoryBase, io = pc::kPciIoBase;
  for (const Bar& bar : bars) {
    uint64_t& next = bar.io ? io : mem;
    const uint64_t at = align_up(next, std::max<uint64_t>(bar.size, bar.io ? 4 : 16));
    const uint64_t end = bar.io ? pc::kPciIoEnd : pc::kPciMemoryEnd;
    if (at + bar.size > end || at + bar.size < at)
      throw Error("PCI devices need more address space than the host bridge window has");
    place(bus, bar, at);
    next = at + bar.size;
  }
  for (const auto& f : bus.functions()) {
    if (f.slot == pc::kHostBridgeSlot) continue;
    const uint32_t cmd = bus.config_read(f.slot, f.function, pci::kCommand, 2);
    bus.config_write(f.slot, f.function, pci::kCommand, 2,
                     cmd | pci::kCommandIo | pci::kCommandMemory | pci::kCommandBusMaster);
  }
}

}  // namespace tv
