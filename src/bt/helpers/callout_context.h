// What a callout handler may use besides the guest state: guest memory
// through the physmap, the port bus, and the vCPU's reactions to state the
// handler changed. The exec layer's vCPU implements it; handlers see
// nothing else of the backend or the machine.
#pragma once

#include <cstdint>
#include <optional>

#include "bt/x86/exceptions.h"
#include "bt/x86/linear_memory.h"
#include "devices/bus.h"

namespace tv::bt {

class CalloutContext {
 public:
  virtual ~CalloutContext() = default;

  virtual LinearMemory& memory() = 0;
  // The port and MMIO buses; accesses re-arm timers through the bus's
  // after-access hook.
  virtual dev::Bus& pio() = 0;
  virtual dev::Bus& mmio() = 0;

  // State that the translation mode depends on (segments, CR0, ...)
  // changed: re-derive the mode before the next block.
  virtual void mode_changed() = 0;
  // A data segment register changed: true if the translation mode stays
  // what it was (the block may go on).
  virtual bool same_mode_after_segment_load() = 0;
  // CR0/CR3/CR4 changed: the shadow MMU follows the guest's paging state.
  virtual void paging_changed(bool cr3_written) = 0;
  // INVLPG: drop one linear page from every view and lookup structure.
  virtual void invalidate_linear(uint32_t linear) = 0;
  // Delivers an event through the guest IDT now; false on a triple fault.
  virtual bool deliver(const Event& event) = 0;
  // IRET finished (a #PF's instruction may be resumed).
  virtual void after_iret() = 0;
  // HLT: the vCPU sleeps until an interrupt.
  virtual void set_halted() = 0;
  // MSRs the platform owns (the local APIC's IA32_APIC_BASE and
  // IA32_TSC_DEADLINE): nullopt / false means #GP.
  virtual std::optional<uint64_t> platform_read_msr(uint32_t msr) = 0;
  virtual bool platform_write_msr(uint32_t msr, uint64_t value) = 0;
};

}  // namespace tv::bt
