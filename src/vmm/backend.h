// The CPU backend interface (cloud-hypervisor's Vcpu, reduced to what a
// uniprocessor needs). Backends route port I/O and MMIO to the machine's
// buses and take interrupts from its PIC themselves, so the run loop only
// sees lifecycle events and is the same for bt and kvm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "vmm/boot_state.h"

namespace tv {

enum class VcpuExit {
  kHalted,       // HLT executed; the run loop sleeps until the next interrupt event
  kExitRequest,  // kick(), a timer, or a device asked the run loop to look
  kShutdown,     // triple fault: the machine resets
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual void set_boot_state(const BootState& state) = 0;
  // Runs the vCPU until one of the VcpuExit events. Throws tv::Error for a
  // host failure or an unrecoverable backend condition.
  virtual VcpuExit run() = 0;
  // Async-signal-safe: makes a running or about-to-run run() return soon.
  virtual void kick() = 0;
  // True if the guest's virtual IF is set (HLT with IF=0 halts for good).
  virtual bool interrupts_enabled() const = 0;
  // A device wrote guest RAM [phys, phys+len) by DMA, between run() calls:
  // whatever the backend derived from those bytes (translated code) goes.
  virtual void memory_written(uint64_t phys, uint64_t len) = 0;
  // Appends backend-specific profile text, and the same data as JSON
  // members of the "backend" object (docs/PROFILE.md).
  virtual void report_profile(std::string& out) const = 0;
  virtual void report_profile_json(JsonWriter& out) const = 0;
};

}  // namespace tv
