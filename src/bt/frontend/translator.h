// The translator: decodes guest code (Zydis, 32-bit legacy mode) one block
// at a time and emits x86-64 host code into the translation cache. Most
// instructions are re-encoded ("IDENT") with their memory operands moved
// into the shadow window (gs: + addr32) and ESP mapped to R12D; stack and
// control-flow instructions are rewritten inline; privileged and sensitive
// ones become callouts (DESIGN.md "BT: translation").
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <utility>

#include "bt/cache/code_cache.h"
#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

// The translation mode: everything besides the code bytes that changes how
// a block is translated. Part of the block key.
struct Mode {
  static constexpr uint32_t kCs32 = 1u << 0;  // CS.D: 32-bit default operand/address size
  static constexpr uint32_t kFlat = 1u << 1;  // CS/DS/ES/SS bases are zero
  static constexpr uint32_t kPaging = 1u << 2;
  static constexpr uint32_t kCplShift = 3;  // 2 bits
  // FPU/SSE availability (SDM Vol. 3A 2.5, Table 2-2): with any of these
  // set, x87/MMX/SSE instructions translate into the fault they raise.
  static constexpr uint32_t kCr0Mp = 1u << 5, kCr0Em = 1u << 6, kCr0Ts = 1u << 7;
  static constexpr uint32_t kNoOsfxsr = 1u << 8, kOsxmmexcpt = 1u << 9;
  // A usable data segment has a limit below 4 GiB, is expand-down or is
  // read-only: memory accesses check the offset range (SDM Vol. 3A 5.3).
  static constexpr uint32_t kSegChecks = 1u << 10;
  // CR4.TSD at CPL > 0: RDTSC raises #GP(0) (SDM Vol. 2B RDTSC).
  static constexpr uint32_t kTscFaults = 1u << 11;
  static uint32_t of(const CpuState& cpu);
};

// Fills cpu.seg_lo/seg_hi/seg_writable from the segment registers.
void derive_segment_checks(CpuState& cpu);

struct TranslateRequest {
  uint32_t eip;
  uint32_t mode;
  uint32_t cs_base = 0;             // code is fetched at cs_base + eip
  bool single_instruction = false;  // one-instruction block (code-page write, MOV SS shadow)
  bool profile = false;             // count executions in the block prologue
  // Linear addresses of instructions that touched device memory: plain
  // MOVs among them become callouts to the MMIO bus (flat modes only).
  const std::unordered_set<uint32_t>* device_eips = nullptr;
  // Where to emit; default: the cache cursor.
  std::pair<uint8_t*, uint8_t*> code{nullptr, nullptr};
};

// Thrown when the guest's code cannot be fetched (outside RAM).
struct FetchError {
  uint32_t eip;
};

class Translator {
 public:
  Translator(LinearMemory& memory, CodeCache& cache, Stats& stats)
      : memory_(memory), cache_(cache), stats_(stats) {}

  // Translates a block into the cache; returns nullptr if the cache is full.
  std::unique_ptr<Block> translate(const TranslateRequest& request, uint8_t** code_end);

 private:
  LinearMemory& memory_;
  CodeCache& cache_;
  Stats& stats_;
};

}  // namespace tv::bt
