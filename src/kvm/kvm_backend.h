// The kvm backend as the machine sees it: a factory and a probe.
#pragma once

#include <memory>
#include <string>

#include "vmm/backend.h"

namespace tv {

class Machine;

std::unique_ptr<Backend> make_kvm_backend(Machine& machine);
// Empty if this host's KVM can run guests needing `feature` ("" or
// "paging", "exceptions", "segment-limits", "cpuid"), else the one-line
// reason it cannot.
std::string probe_kvm(const std::string& feature);

}  // namespace tv
