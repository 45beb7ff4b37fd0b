// Host signals raised by translated code become guest events (DESIGN.md
// "BT: faults"): the handler rebuilds the guest state at the faulting guest
// instruction from the signal frame, records what happened in the runtime's
// PendingFault, and resumes at tv_bt_exit_saved, which leaves translated
// code for the dispatcher. A fault anywhere else is a VMM bug and crashes.
#pragma once

namespace tv::bt {

class BtRuntime;

// Installs the SIGSEGV/SIGFPE/SIGILL/SIGBUS handlers for `runtime` (one bt
// vCPU per process); nullptr restores the defaults.
void install_fault_handler(BtRuntime* runtime);

}  // namespace tv::bt
