// Always-on counters of the bt backend (DESIGN.md "Profiling"): cheap
// increments on the dispatcher's slow paths, never in translated code.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace tv::bt {

struct Stats {
  uint64_t blocks_translated = 0, guest_insns_translated = 0, guest_bytes_translated = 0;
  uint64_t host_bytes = 0, translate_ns = 0;
  uint64_t block_lookups = 0, block_hits = 0, block_misses = 0;
  uint64_t jump_cache_misses = 0;  // indirect branches that left translated code
  uint64_t chains = 0, unchains = 0, flushes = 0;
  uint64_t single_steps = 0;  // one-instruction blocks after a code-page write
  uint64_t interrupts = 0, exceptions = 0;
  std::map<std::string, uint64_t> exits;          // by reason
  std::map<std::string, uint64_t> callouts;       // by instruction
  std::map<std::string, uint64_t> invalidations;  // blocks, by cause
  std::map<std::string, uint64_t> faults;         // host faults, by kind
};

}  // namespace tv::bt
