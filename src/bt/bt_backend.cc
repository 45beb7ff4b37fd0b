// The bt backend's factory and probe (the runtime itself is runtime.cc).
#include "bt/runtime.h"
#include "vmm/machine.h"

namespace tv {

std::unique_ptr<Backend> make_bt_backend(Machine& machine) { return std::make_unique<bt::BtRuntime>(machine); }

// bt runs unpaged guests with exceptions; paging arrives with the shadow MMU.
std::string probe_bt(const std::string& feature) {
  if (feature == "segment-limits") return "the bt backend does not check data segment limits yet";
  return "";
}

}  // namespace tv
