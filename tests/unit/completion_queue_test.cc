#include "vmm/completion_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tv {
namespace {

TEST(DiskCompletionQueue, RunsInOrderAndWakesOncePerBatch) {
  int wakes = 0;
  CompletionQueue q([&] { ++wakes; });
  std::vector<int> ran;
  EXPECT_EQ(q.drain(), 0u);
  q.post([&] { ran.push_back(1); });
  q.post([&] { ran.push_back(2); });
  EXPECT_EQ(wakes, 1);  // the second post found the queue non-empty
  EXPECT_TRUE(q.pending());
  EXPECT_EQ(q.drain(), 2u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_FALSE(q.pending());
  q.post([&] { ran.push_back(3); });
  EXPECT_EQ(wakes, 2);
}

TEST(DiskCompletionQueue, WorkPostedWhileDrainingWaitsForTheNextDrain) {
  CompletionQueue q;
  int second = 0;
  q.post([&] { q.post([&] { ++second; }); });
  EXPECT_EQ(q.drain(), 1u);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(q.drain(), 1u);
  EXPECT_EQ(second, 1);
}

TEST(DiskCompletionQueue, ManyPostingThreads) {
  std::atomic<int> wakes{0};
  CompletionQueue q([&] { ++wakes; });
  int ran = 0;  // only the draining thread touches it
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) q.post([&] { ++ran; });
    });
  while (ran < 4000) q.drain();
  for (auto& t : threads) t.join();
  q.drain();
  EXPECT_EQ(ran, 4000);
  EXPECT_GE(wakes.load(), 1);
}

}  // namespace
}  // namespace tv
