// The bt backend entry points. The translator is not here yet: until it is,
// asking for bt says so in one line.
#include "vmm/error.h"
#include "vmm/machine.h"

namespace tv {
namespace {
constexpr const char* kNotYet = "the bt backend is not available yet (translator not built); use --backend kvm";
}

std::unique_ptr<Backend> make_bt_backend(Machine&) { throw Error(kNotYet); }

std::string probe_bt(const std::string&) { return kNotYet; }

}  // namespace tv
