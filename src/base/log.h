// Named spdlog loggers, one per subsystem ("vmm", "bt", "mmu", "dev.uart", ...).
// All write to stderr so that guest serial output on stdout stays clean.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tv::log {

// Returns the logger for `subsystem`, creating it at the global level.
std::shared_ptr<spdlog::logger> get(const std::string& subsystem);

// Sets the level of every existing and future logger. Returns false if
// `level` is not one of trace, debug, info, warn, error, critical, off.
bool set_level(const std::string& level);

}  // namespace tv::log
