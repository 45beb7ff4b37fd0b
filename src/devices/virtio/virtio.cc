// The rate-limited guest error log of virtio.h.
#include "devices/virtio/virtio.h"

#include "base/log.h"

namespace tv::dev {

void GuestErrorLog::report(std::string_view what) {
  ++reported_;
  auto now = std::chrono::steady_clock::now();
  auto log = log::get(logger_);
  if (now - window_start_ >= kWindow) {
    if (suppressed_ > 0) log->warn("{} further guest errors were not logged", suppressed_);
    window_start_ = now;
    in_window_ = 0;
    suppressed_ = 0;
  }
  if (in_window_ < kBurst) {
    ++in_window_;
    log->warn("guest error: {}", what);
  } else {
    ++suppressed_;
  }
}

}  // namespace tv::dev
