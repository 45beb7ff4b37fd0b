// The callout entry point (DESIGN.md "BT: translation", callouts): the
// assembly thunk has saved the guest state into CpuState; the handler runs
// with cpu.eip set to the next instruction, and a GuestFault it throws is
// delivered at the instruction itself. No C++ exception may leave here:
// translated code cannot be unwound.
#include "bt/exec/runtime.h"

extern "C" int tv_bt_callout_entry(tv::bt::CpuState* cpu, const tv::bt::CalloutSite* site) {
  using namespace tv::bt;
  // SAFETY: cpu.vcpu is set by the BtRuntime that owns this CpuState, and
  // translated code runs only inside that runtime's run().
  BtRuntime& rt = *static_cast<BtRuntime*>(cpu->vcpu);
  if (cpu->mode_stale) rt.sync_mode();
  ++rt.stats().callouts[site->kind];
  cpu->eip = site->next_eip;
  CalloutResult r;
  try {
    r = site->fn(rt, *cpu, *site);
  } catch (const GuestFault& f) {
    if (!f.committed) cpu->eip = site->eip;  // else the new task's EIP (a task switch)
    rt.deliver(exception_event(f));
    r = CalloutResult::kExit;
  } catch (const std::exception& e) {
    rt.set_fatal(e.what());
    r = CalloutResult::kExit;
  }
  // (interrupt_deliverable() also refreshes cpu.irq_pending for the code
  // that runs next; nothing touches a device between here and there.)
  bool must_exit = rt.interrupt_deliverable() || rt.take_code_written() || rt.exit_requested() ||
                   rt.stop_requested();
  if (r == CalloutResult::kContinue && must_exit) {
    cpu->eip = site->next_eip;
    r = CalloutResult::kExit;
  }
  if (r == CalloutResult::kExit && !must_exit) {
    // A control transfer (SYSENTER, IRET, INT n, far jumps, ...) with
    // nothing for the dispatcher to do: go on to the next block directly.
    // (`site` may be gone after this: a translation may flush the cache.)
    if (const uint8_t* next = rt.continue_inline()) {
      cpu->continue_at = reinterpret_cast<uint64_t>(next);
      return 2;
    }
  }
  if (r == CalloutResult::kExit) cpu->exit_reason = uint32_t(ExitReason::kCallout);
  return int(r);
}
