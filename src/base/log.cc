#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "base/error.h"

namespace tv {

std::string errno_message(const std::string& what) { return what + ": " + std::strerror(errno); }

namespace log {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::warn;

}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& subsystem) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(subsystem)) return existing;
  auto logger = spdlog::stderr_color_mt(subsystem);
  logger->set_level(g_level);
  logger->set_pattern("[%n] %l: %v");
  return logger;
}

bool set_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(g_mutex);
  g_level = parsed;
  spdlog::set_level(parsed);
  return true;
}

}  // namespace log
}  // namespace tv
