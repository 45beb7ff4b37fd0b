// The transvisor command line: `run` boots a guest, `probe` tells whether a
// backend can run a kind of guest on this host (the guest tests use it to
// skip with a reason). Host errors print one line and exit 2; the guest's
// debug-exit status is odd ((value << 1) | 1), so the two never collide.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "bt/exec/bt_backend.h"
#include "kvm/kvm_backend.h"
#include "vmm/config.h"
#include "vmm/machine.h"

namespace {

constexpr int kHostError = 2;

// Control characters in a message (they come from quoted user input, such
// as --mem $'256M\n') are escaped, so that the error stays one line.
std::string printable(const std::string& message) {
  std::string out;
  for (unsigned char c : message) {
    if (c >= 0x20 && c != 0x7F) {
      out += char(c);
      continue;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "transvisor: error: %s\n", printable(message).c_str());
  return kHostError;
}

tv::BackendKind parse_backend(const std::string& name) {
  if (name == "bt") return tv::BackendKind::kBt;
  if (name == "kvm") return tv::BackendKind::kKvm;
  throw tv::Error(fmt::format("unknown backend '{}' (expected bt or kvm)", name));
}

uint64_t parse_size_option(const std::string& flag, const std::string& text) {
  auto size = tv::parse_size(text);
  if (!size) throw tv::Error(fmt::format("{}: '{}' is not a size like 64M or 1G", flag, text));
  return *size;
}

int run_guest(const tv::Config& config) {
  tv::Machine machine(
      config, config.backend == tv::BackendKind::kKvm ? tv::make_kvm_backend : tv::make_bt_backend);
  tv::MachineExit exit = machine.run();
  if (!exit.reason.empty()) std::fprintf(stderr, "transvisor: %s\n", exit.reason.c_str());
  if (config.profile) std::fputs(machine.profile_report().c_str(), stderr);
  if (!config.profile_json.empty()) {
    std::ofstream out(config.profile_json);
    out << machine.profile_json();
    if (!out) throw tv::Error(tv::errno_message("cannot write " + config.profile_json));
  }
  return exit.status;
}

// Features a guest test may need; see guests/README.md.
constexpr const char* kFeatures[] = {"paging", "exceptions", "segment-limits", "cpuid"};

int probe(const std::string& backend, const std::vector<std::string>& features) {
  for (const auto& f : features)
    if (std::find(std::begin(kFeatures), std::end(kFeatures), f) == std::end(kFeatures))
      throw tv::Error(fmt::format(
          "unknown feature '{}' (expected paging, exceptions, segment-limits or cpuid)", f));
  bool kvm = parse_backend(backend) == tv::BackendKind::kKvm;
  std::vector<std::string> checks = features.empty() ? std::vector<std::string>{""} : features;
  for (const auto& f : checks) {
    std::string reason = kvm ? tv::probe_kvm(f) : tv::probe_bt(f);
    if (!reason.empty()) {
      std::printf("%s: %s\n", backend.c_str(), reason.c_str());
      return 1;
    }
  }
  std::printf(
      "%s: can run guests needing: %s\n", backend.c_str(),
      features.empty() ? "nothing special" : fmt::format("{}", fmt::join(features, ", ")).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"transvisor: a hosted VMM for 32-bit x86 guests (binary translation or KVM)"};
  app.set_version_flag("--version", std::string("transvisor ") + TRANSVISOR_VERSION);
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off");

  tv::Config config;
  std::string mem = "256M", tc_size = "64M", backend = "bt";
  std::vector<std::string> disks;
  auto* run = app.add_subcommand("run", "boot a guest kernel");
  run->add_option("--kernel", config.kernel, "multiboot ELF kernel or Linux bzImage")->required();
  run->add_option(
      "--initrd", config.initrds,
      "initial ramdisk or multiboot module: \"FILE [ARGS][,FILE2 [ARGS2]]\" (repeatable)");
  run->add_option("--append", config.append, "kernel command line");
  run->add_option(
      "--disk", disks,
      "raw disk image: \"FILE[,if=virtio|ide][,readonly][,cache=writeback|none|unsafe]\""
      " (repeatable)");
  run->add_option("--mem", mem, "guest RAM, e.g. 64M or 1G (default 256M)");
  run->add_option("--backend", backend, "bt (binary translation, default) or kvm");
  run->add_option("--tc-size", tc_size, "translation cache size (bt, default 64M)");
  run->add_flag("--profile", config.profile, "print a profile report at exit");
  run->add_option("--profile-json", config.profile_json, "write the profile as JSON to FILE");
  run->add_flag("--perf-map", config.perf_map,
                "bt: name translated blocks for host perf (/tmp/perf-PID.map)");
  run->add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off");

  std::string probe_backend = "kvm";
  std::vector<std::string> features;
  auto* probe_cmd = app.add_subcommand("probe", "can a backend run a kind of guest here?");
  probe_cmd->add_option("--backend", probe_backend, "bt or kvm");
  probe_cmd->add_option(
      "--feature", features,
      "guest feature to test (repeatable): paging, exceptions, segment-limits, cpuid");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see transvisor --help)");
  }

  try {
    if (!tv::log::set_level(log_level))
      throw tv::Error(fmt::format("unknown log level '{}'", log_level));
    if (probe_cmd->parsed()) return probe(probe_backend, features);
    config.backend = parse_backend(backend);
    config.mem_bytes = parse_size_option("--mem", mem);
    config.tc_size_bytes = parse_size_option("--tc-size", tc_size);
    for (const auto& d : disks) config.disks.push_back(tv::parse_disk(d));
    tv::validate(config);
    return run_guest(config);
  } catch (const tv::Error& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what());
  } catch (...) {
    return fail("internal error: unexpected exception");
  }
}
