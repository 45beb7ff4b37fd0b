// Completions that host threads (disk I/O workers) hand to the vCPU thread.
// Device state is only touched on the vCPU thread (devices/block.h), so an
// I/O thread never runs a request's `done` itself: it posts it here, the
// queue wakes the vCPU through a callback the machine supplies (it sends the
// kick signal, as the stdin reader thread does, and wakes a HLT sleep), and
// the machine's service loop calls drain(), which runs them.
//
// The wake callback runs on the posting thread, outside the queue's lock,
// once per transition from empty to non-empty: a burst of completions costs
// one signal, and a drain() that takes the burst re-arms it.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace tv {

class CompletionQueue {
 public:
  using Work = std::function<void()>;
  using Wake = std::function<void()>;

  // `wake` must be safe to call from any thread, including the vCPU thread
  // itself (a request refused in submit() is posted from there). It may be
  // empty when the owner polls (tests).
  explicit CompletionQueue(Wake wake = {}) : wake_(std::move(wake)) {}
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Any thread. Queues `work` to run on the next drain().
  void post(Work work);

  // vCPU thread. Runs what was posted before the call, in order, and
  // returns how many ran; work posted while they run (a completion that
  // submits the next request) waits for the next drain. Cheap when empty:
  // one atomic load.
  size_t drain();

  bool pending() const { return pending_.load(std::memory_order_acquire); }

 private:
  Wake wake_;
  std::mutex mutex_;
  std::vector<Work> queue_;  // guarded by mutex_
  std::atomic<bool> pending_{false};
};

}  // namespace tv
