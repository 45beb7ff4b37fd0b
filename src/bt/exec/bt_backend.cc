// The bt backend's factory and probe (the runtime itself is runtime.cc).
#include "bt/exec/bt_backend.h"

#include "bt/exec/runtime.h"

namespace tv {

std::unique_ptr<Backend> make_bt_backend(Machine& machine) {
  return std::make_unique<bt::BtRuntime>(machine);
}

// bt runs every kind of guest the tests ask for (paging, exceptions,
// segment limits, the CPUID profile) on any host it builds on.
std::string probe_bt(const std::string&) { return ""; }

}  // namespace tv
