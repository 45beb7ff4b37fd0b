// The bt part of --profile and --profile-json (schema: docs/PROFILE.md),
// formatted from the counters and the cache the exec layer hands in.
#pragma once

#include <string>

#include "base/json.h"
#include "bt/cache/code_cache.h"
#include "bt/stats/stats.h"
#include "bt/x86/linear_memory.h"
#include "shadow_mmu/shadow_mmu.h"

namespace tv::bt {

struct ProfileSources {
  const Stats& stats;
  const CodeCache& cache;
  const mmu::MmuStats& mmu;
  LinearMemory& memory;  // for the guest disassembly of the hottest blocks
};

void report_profile(std::string& out, const ProfileSources& sources);
void report_profile_json(JsonWriter& out, const ProfileSources& sources);

}  // namespace tv::bt
