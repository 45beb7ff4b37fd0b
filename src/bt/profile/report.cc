// The bt part of --profile and --profile-json (schema: docs/PROFILE.md):
// translation volume and speed, cache occupancy, lookup hit rates, chaining,
// exits by reason, callouts by instruction, invalidations by cause, and the
// hottest blocks with guest and host disassembly.
#include "bt/profile/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string_view>

#include "bt/profile/disasm.h"

namespace tv::bt {
namespace {

constexpr size_t kTopBlocks = 20;

double percent(uint64_t part, uint64_t total) {
  return total ? 100.0 * double(part) / double(total) : 0.0;
}

double us_per_insn(const Stats& s) {
  return s.guest_insns_translated
             ? double(s.translate_ns) / 1000.0 / double(s.guest_insns_translated)
             : 0.0;
}

// A counter table's non-zero entries (all of them with `all`), by name.
template <typename Enum, size_t N>
std::map<std::string_view, uint64_t> by_name(const CounterArray<Enum, N>& c,
                                             const char* const (&names)[N], bool all = false) {
  std::map<std::string_view, uint64_t> m;
  for (size_t i = 0; i < N; ++i)
    if (all || c.value[i]) m[names[i]] += c.value[i];
  return m;
}

void table(std::string& out, const char* title, const std::map<std::string_view, uint64_t>& m) {
  out += fmt::format("  {}:\n", title);
  for (const auto& [k, v] : m) out += fmt::format("    {:<32} {}\n", k, v);
}

void json_map(JsonWriter& j, const char* key, const std::map<std::string_view, uint64_t>& m) {
  j.begin_object(key);
  for (const auto& [k, v] : m) j.value(k, v);
  j.end_object();
}

std::vector<const Block*> hottest_blocks(const CodeCache& cache, size_t n) {
  std::vector<const Block*> v;
  for (const auto& [host, b] : cache.blocks())
    if (b->exec_count) v.push_back(b.get());
  std::sort(v.begin(), v.end(),
            [](const Block* a, const Block* b) { return a->exec_count > b->exec_count; });
  if (v.size() > n) v.resize(n);
  return v;
}

}  // namespace

void report_profile(std::string& out, const ProfileSources& p) {
  const Stats& s = p.stats;
  const CodeCache* cache_ = &p.cache;
  uint64_t table_lookups = s.block_lookups;
  out += "  translation:\n";
  out += fmt::format(
      "    {} blocks, {} guest instructions ({} bytes) -> {} host bytes; {:.2f} us per guest "
      "instruction\n",
      s.blocks_translated, s.guest_insns_translated, s.guest_bytes_translated, s.host_bytes,
      us_per_insn(s));
  out += fmt::format("    cache: {} KiB of {} KiB used, {} blocks live, {} flushes\n",
                     cache_->used_bytes() >> 10, cache_->capacity() >> 10, cache_->block_count(),
                     s.flushes);
  out += fmt::format("  lookups: block table {} ({} hits, {:.1f}%); jump-cache misses {}\n",
                     table_lookups, s.block_hits, percent(s.block_hits, table_lookups),
                     s.jump_cache_misses);
  out += fmt::format(
      "  chains patched {}, unpatched {}; interrupts {}, exceptions {}, single-steps {}\n",
      s.chains, s.unchains, s.interrupts, s.exceptions, s.single_steps);
  const mmu::MmuStats& m = p.mmu;
  out += fmt::format(
      "  shadow MMU: {} hidden faults, {} guest page faults, {} full flushes, {} CR3 switches "
      "({} to a cached address space, {} stale mappings dropped), {} INVLPGs, {} code-tracing "
      "protections, {} ENOMEM flushes, {} mapping-table-full flushes\n",
      m.hidden_faults, m.guest_page_faults, m.flushes, m.cr3_switches, m.spaces_reused,
      m.stale_dropped, m.invlpgs, m.protections, m.enomem_flushes, m.capacity_flushes);
  table(out, "exits to the dispatcher by reason", by_name(s.exits, kExitKindNames, true));
  table(out, "callouts by instruction", by_name(s.callouts, kCalloutKindNames));
  table(out, "invalidations by cause", by_name(s.invalidations, kInvalidationCauseNames));
  if (auto faults = by_name(s.faults, kFaultKindNames); !faults.empty())
    table(out, "host faults by kind", faults);
  auto top = hottest_blocks(*cache_, kTopBlocks);
  if (top.empty()) return;
  out += fmt::format("  top {} blocks by executions:\n", top.size());
  LinearMemory& mem = p.memory;
  for (const Block* b : top) {
    out += fmt::format("  block {:#010x}: {} executions, {} guest instructions, {} host bytes\n",
                       b->eip, b->exec_count, b->insn_count, b->host_len);
    out += "   guest:\n" + disassemble_guest(*b, mem);
    out += "   host:\n" + disassemble_host(*b);
  }
}

void report_profile_json(JsonWriter& j, const ProfileSources& p) {
  const Stats& s = p.stats;
  const CodeCache* cache_ = &p.cache;
  j.begin_object("translation");
  j.value("blocks", s.blocks_translated).value("guest_instructions", s.guest_insns_translated);
  j.value("guest_bytes", s.guest_bytes_translated).value("host_bytes", s.host_bytes);
  j.value("us_per_guest_instruction", us_per_insn(s));
  j.end_object();
  j.begin_object("cache");
  j.value("capacity_bytes", uint64_t(cache_->capacity()))
      .value("used_bytes", uint64_t(cache_->used_bytes()));
  j.value("live_blocks", uint64_t(cache_->block_count())).value("flushes", s.flushes);
  j.end_object();
  j.begin_object("lookups");
  j.value("block_table", s.block_lookups).value("block_table_hits", s.block_hits);
  j.value("block_table_misses", s.block_misses).value("jump_cache_misses", s.jump_cache_misses);
  j.end_object();
  j.value("chains", s.chains).value("unchains", s.unchains);
  j.value("interrupts", s.interrupts)
      .value("exceptions", s.exceptions)
      .value("single_steps", s.single_steps);
  const mmu::MmuStats& m = p.mmu;
  j.begin_object("shadow_mmu");
  j.value("hidden_faults", m.hidden_faults).value("guest_page_faults", m.guest_page_faults);
  j.value("full_flushes", m.flushes)
      .value("cr3_switches", m.cr3_switches)
      .value("invlpgs", m.invlpgs);
  j.value("code_tracing_protections", m.protections).value("enomem_flushes", m.enomem_flushes);
  j.value("capacity_flushes", m.capacity_flushes);
  j.value("spaces_reused", m.spaces_reused).value("stale_dropped", m.stale_dropped);
  j.end_object();
  json_map(j, "exits", by_name(s.exits, kExitKindNames, true));
  json_map(j, "callouts", by_name(s.callouts, kCalloutKindNames));
  json_map(j, "invalidations", by_name(s.invalidations, kInvalidationCauseNames));
  json_map(j, "host_faults", by_name(s.faults, kFaultKindNames));
  j.begin_array("top_blocks");
  LinearMemory& mem = p.memory;
  for (const Block* b : hottest_blocks(*cache_, kTopBlocks)) {
    j.begin_object();
    j.value("eip", uint64_t(b->eip)).value("executions", b->exec_count);
    j.value("guest_instructions", uint64_t(b->insn_count))
        .value("host_bytes", uint64_t(b->host_len));
    j.value("guest_disassembly", disassemble_guest(*b, mem));
    j.value("host_disassembly", disassemble_host(*b));
    j.end_object();
  }
  j.end_array();
}

}  // namespace tv::bt
