// The jump cache: the two tables (kernel-mode and CPL 3 blocks) that
// translated code probes inline for indirect branches, in the vCPU area at
// the layout of bt/emit/vcpu_layout.h. An empty entry points at the miss
// stub, so a probe needs no valid bit. Clearing must be cheap enough for
// every CR3 write, so the filled slots are listed (by whether their block
// is global, which a CR3 write with CR4.PGE keeps), and a bitmap of EIP
// pages lets an INVLPG of a page without entries skip its 4096 probes.
#pragma once

#include <cstdint>
#include <vector>

#include "bt/cache/block.h"
#include "bt/emit/vcpu_layout.h"

namespace tv::bt {

class JumpCache {
 public:
  JumpCache(JumpCacheEntry* kernel_table, JumpCacheEntry* user_table)
      : table_{kernel_table, user_table} {}

  // The shared stub that a probe missing the cache jumps to (set once by
  // the backend, before the first clear).
  void set_miss_stub(uint8_t* stub) { miss_stub_ = stub; }
  uint8_t* miss_stub() const { return miss_stub_; }

  // The table a block's entry goes in: 1 for CPL 3 blocks, 0 otherwise.
  static unsigned table_of(const Block& b) { return ((b.mode >> 3) & 3) == 3 ? 1 : 0; }

  void put(const Block* b);
  // The host code the inline probe would find for `eip` in the table of
  // CPL 3 (`user`) or the others; nullptr on a miss.
  const uint8_t* find(uint32_t eip, bool user) const {
    const JumpCacheEntry& e = table_[user][jump_cache_index(eip)];
    if (e.neg_eip != uint32_t(0u - eip) || e.host == reinterpret_cast<uint64_t>(miss_stub_))
      return nullptr;
    return reinterpret_cast<const uint8_t*>(e.host);
  }
  // Empties `b`'s entry if it still holds `b`.
  void drop(const Block* b);
  // Empties both tables (the first clear writes every entry).
  void clear();
  // Empties the entries of non-global blocks.
  void clear_nonglobal();
  // Empties the entries for the EIPs [eip_page, eip_page + 4096).
  void drop_page(uint32_t eip_page);

  // Calls `f(host)` for each entry of a non-global block, table by table.
  template <typename F>
  void for_each_nonglobal(F f) const {
    for (unsigned t = 0; t < 2; ++t)
      for (uint32_t i : used_[t][0]) f(reinterpret_cast<const uint8_t*>(table_[t][i].host));
  }

 private:
  JumpCacheEntry empty() const { return {0, 0, reinterpret_cast<uint64_t>(miss_stub_)}; }
  void pages_reset() {
    for (uint32_t p : pages_set_) pages_[p >> 6] = 0;
    pages_set_.clear();
  }

  JumpCacheEntry* table_[2];
  uint8_t* miss_stub_ = nullptr;
  std::vector<uint32_t> used_[2][2];  // [table][block is global]: filled slots
  // EIP pages (eip >> 12) that may have entries, one bit each, and the
  // pages whose bit was set (to reset only those).
  std::vector<uint64_t> pages_ = std::vector<uint64_t>(1u << 14);
  std::vector<uint32_t> pages_set_;
  bool cleared_ = false;
};

}  // namespace tv::bt
