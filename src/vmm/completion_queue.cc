#include "vmm/completion_queue.h"

namespace tv {

void CompletionQueue::post(Work work) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(work));
    pending_.store(true, std::memory_order_release);
  }
  if (was_empty && wake_) wake_();
}

size_t CompletionQueue::drain() {
  if (!pending()) return 0;
  std::vector<Work> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(queue_);
    pending_.store(false, std::memory_order_release);
  }
  for (auto& work : batch) work();
  return batch.size();
}

}  // namespace tv
