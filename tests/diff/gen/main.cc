// diffgen: writes differential-test case files and explains their cases.
//
//   diffgen generate --seed S --count N --out FILE
//   diffgen show FILE INDEX...    initial state and Capstone disassembly
//
// The file format is case_format.h; the runners in ../runner read it.
#include <capstone/capstone.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "generator.h"

namespace {

using tv::difftest::generate_case;

constexpr const char* kRegNames[DIFF_NREGS] = {"eax", "ecx", "edx", "ebx",
                                               "esp", "ebp", "esi", "edi"};

void write_cases(uint64_t seed, uint32_t count, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot create " + path);
  diff_header header{};
  std::copy_n(DIFF_MAGIC, sizeof header.magic, header.magic);
  header.count = count;
  header.record_size = sizeof(diff_case);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  for (uint32_t i = 0; i < count; ++i) {
    const diff_case c = generate_case(seed, i);
    out.write(reinterpret_cast<const char*>(&c), sizeof c);
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::vector<diff_case> read_cases(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  diff_header header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) ||
      std::string(header.magic, sizeof header.magic) != DIFF_MAGIC ||
      header.record_size != sizeof(diff_case)) {
    throw std::runtime_error(path + " is not a diffgen case file");
  }
  std::vector<diff_case> cases(header.count);
  if (!in.read(reinterpret_cast<char*>(cases.data()),
               static_cast<std::streamsize>(cases.size() * sizeof(diff_case)))) {
    throw std::runtime_error(path + " is truncated");
  }
  return cases;
}

void print_disassembly(const diff_case& c) {
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_32, &handle) != CS_ERR_OK) {
    throw std::runtime_error("capstone: cs_open failed");
  }
  cs_insn* insns = nullptr;
  const size_t n = cs_disasm(handle, c.code, c.code_len, 0, 0, &insns);
  size_t end = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string hex;
    for (size_t k = 0; k < insns[i].size; ++k) {
      char byte[4];
      std::snprintf(byte, sizeof byte, "%02x ", insns[i].bytes[k]);
      hex += byte;
    }
    std::printf("  %3" PRIu64 ": %-36s %s %s\n", insns[i].address, hex.c_str(), insns[i].mnemonic,
                insns[i].op_str);
    end = insns[i].address + insns[i].size;
  }
  if (end != c.code_len) std::printf("  %3zu: (capstone stopped; bytes left undecoded)\n", end);
  cs_free(insns, n);
  cs_close(&handle);
}

void show_case(const std::vector<diff_case>& cases, uint32_t index) {
  if (index >= cases.size()) throw std::runtime_error("no case " + std::to_string(index));
  const diff_case& c = cases[index];
  std::printf("case %u: %u instructions, %u bytes, %s = data+0x%x\n", index, c.insn_count,
              c.code_len, kRegNames[c.base_reg], DIFF_BASE_OFFSET);
  std::printf("  in: ");
  for (int r = 0; r < DIFF_NREGS; ++r) {
    if (r != DIFF_ESP && r != c.base_reg) std::printf("%s=%08x ", kRegNames[r], c.regs[r]);
  }
  std::printf("eflags=%08x, compared flags %03x\n  bytes:", c.eflags, c.flags_mask);
  for (int i = 0; i < c.code_len; ++i) std::printf(" %02x", c.code[i]);
  std::printf("\n");
  print_disassembly(c);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"diffgen: cases for the translator's differential test"};
  app.require_subcommand(1);
  uint64_t seed = 1;
  uint32_t count = 1000;
  std::string out, file;
  std::vector<uint32_t> indices;
  auto* gen = app.add_subcommand("generate", "write a case file");
  gen->add_option("--seed", seed, "seed; the same seed gives the same cases")->required();
  gen->add_option("--count", count, "number of cases")->required()->check(CLI::Range(1u, 1000000u));
  gen->add_option("--out", out, "case file to write")->required();
  auto* show = app.add_subcommand("show", "print cases with their disassembly");
  show->add_option("file", file, "case file")->required();
  show->add_option("index", indices, "case numbers")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (gen->parsed()) write_cases(seed, count, out);
    if (show->parsed()) {
      const std::vector<diff_case> cases = read_cases(file);
      for (uint32_t index : indices) show_case(cases, index);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
