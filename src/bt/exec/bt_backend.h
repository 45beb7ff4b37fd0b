// The bt backend as the machine sees it: a factory and a probe.
#pragma once

#include <memory>
#include <string>

#include "vmm/backend.h"

namespace tv {

class Machine;

std::unique_ptr<Backend> make_bt_backend(Machine& machine);
// Empty: bt runs every kind of guest the tests ask for on any host it builds on.
std::string probe_bt(const std::string& feature);

}  // namespace tv
