// Always-on counters of the bt backend (DESIGN.md "Profiling"): cheap
// increments on the dispatcher's slow paths, never in translated code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tv::bt {

using Counters = std::unordered_map<const char*, uint64_t>;

// Counters by name, merged and sorted for a report.
inline std::map<std::string_view, uint64_t> by_name(const Counters& c) {
  std::map<std::string_view, uint64_t> m;
  for (const auto& [k, v] : c) m[k] += v;
  return m;
}

struct Stats {
  uint64_t blocks_translated = 0, guest_insns_translated = 0, guest_bytes_translated = 0;
  uint64_t host_bytes = 0, translate_ns = 0;
  uint64_t block_lookups = 0, block_hits = 0, block_misses = 0;
  uint64_t jump_cache_misses = 0;  // indirect branches that left translated code
  uint64_t chains = 0, unchains = 0, flushes = 0;
  uint64_t single_steps = 0;  // one-instruction blocks after a code-page write
  uint64_t interrupts = 0, exceptions = 0;
  // Keyed by string literals (pointer identity: no string work per count).
  Counters exits;          // by reason
  Counters callouts;       // by instruction
  Counters invalidations;  // blocks, by cause
  Counters faults;         // host faults, by kind
};

}  // namespace tv::bt
