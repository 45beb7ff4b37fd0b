// The guest vCPU state under bt. Generated code knows the offsets of the
// fields up to `fpu` (static_asserts below keep the assembly in step).
//
// While translated code runs, GPRs live in host registers (EAX..EDI in the
// same host registers, ESP in R12D), arithmetic flags and DF in the host
// RFLAGS, and x87/SSE state in the host FP registers. They are written back
// here on every exit to C++ (block exit, callout, fault), so C++ code sees a
// complete, precise state at a guest instruction boundary.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/x86.h"
#include "bt/x86/msrs.h"

namespace tv::bt {

// The architecture's names (EFLAGS, CR bits, vectors) are bt's names.
using namespace tv::x86;

enum Gpr : unsigned { kEax, kEcx, kEdx, kEbx, kEsp, kEbp, kEsi, kEdi };
enum SegReg : unsigned { kEs, kCs, kSs, kDs, kFs, kGs, kNumSegRegs };

// The bits that live in the host RFLAGS while translated code runs.
constexpr uint32_t kHostFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;
// Bit 1 is always set; IF stays set in the host.
constexpr uint64_t kHostRflagsBase = 0x202;

// A segment register with its hidden descriptor cache (SDM Vol. 3A 3.4.3).
struct Segment {
  uint16_t selector = 0;
  uint16_t attr = 0;  // descriptor bits 40-47 (type, S, DPL, P) and 52-55 (AVL, L, D/B, G) << 8
  uint32_t base = 0;
  uint32_t limit = 0;  // byte-granular effective limit
};

struct TableReg {
  uint32_t base = 0;
  uint16_t limit = 0;
};

// Why translated code returned to the dispatcher.
enum class ExitReason : uint32_t {
  kBranch = 0,   // a block exit stub: cpu.eip is the target; cpu.exit_slot may be chained
  kIndirect,     // an indirect branch missed the jump cache: cpu.eip is the target
  kCallout,      // a callout asked to stop (mode change, interrupt window, halt, exception)
  kExitRequest,  // the exit gate was closed (kick): cpu.eip is the block start
  kFault,        // a host fault became a guest event; the fault handler set it up
};

struct ExitSlot;

struct alignas(64) CpuState {
  // ---- Fields generated code and the assembly dispatcher use. ----
  uint32_t gpr[8] = {};                   // 0x00
  uint32_t eip = 0;                       // 0x20
  uint32_t pad0 = 0;                      // 0x24
  uint64_t host_flags = kHostRflagsBase;  // 0x28: host RFLAGS image (arith bits + DF)
  uint64_t host_rsp = 0;                  // 0x30: dispatcher stack pointer
  ExitSlot* exit_slot = nullptr;          // 0x38: the exit stub taken (chaining candidate)
  uint32_t exit_reason = 0;               // 0x40
  uint32_t host_mxcsr = 0;                // 0x44
  uint16_t host_fcw = 0;                  // 0x48
  uint8_t vif = 0;                        // 0x4a: the guest's virtual EFLAGS.IF
  uint8_t x87_dirty = 0;                  // 0x4b: x87/MMX registers may differ from fpu[]
  uint8_t sse_only_saved = 0;             // 0x4c: fpu[] x87 part current, registers in ABI state
  uint8_t irq_pending = 0;                // 0x4d: an IRQ is pending (checked after STI's shadow)
  uint8_t sse_live = 0;                   // 0x4e: XMM0-7, MXCSR hold the guest's (else fpu[] does)
  uint8_t mode_stale = 0;                 // 0x4f: inline SYSENTER/SYSEXIT changed CPL/CS/SS
  uint64_t callout_thunk = 0;             // 0x50
  uint64_t exit_thunk = 0;                // 0x58
  uint64_t gs_base = 0;                   // 0x60: current shadow window
  uint64_t continue_at = 0;               // 0x68: a callout's next block (result 2)
  uint64_t load_sse_thunk = 0;            // 0x70: loads fpu[]'s SSE half, sets sse_live
  uint64_t pad2 = 0;                      // 0x78
  alignas(64) uint8_t fpu[512] = {};      // 0x80: fxsave64 image of the guest FP state

  // ---- Fields only C++ touches. ----
  uint32_t eflags_rest = 0x2;  // EFLAGS bits not in host_flags or vif (IOPL, NT, AC, ID, ...)
  Segment seg[kNumSegRegs];
  // For translated limit checks (mode kSegChecks), derived from seg[] by
  // the runtime whenever the mode is recomputed: valid offsets are
  // [seg_lo, seg_hi]; seg_writable is 0 for read-only or unusable segments.
  uint32_t seg_lo[kNumSegRegs] = {}, seg_hi[kNumSegRegs] = {};
  uint8_t seg_writable[kNumSegRegs] = {};
  Segment ldtr, tr;
  TableReg gdtr, idtr;
  uint32_t cr0 = 0x00000011, cr2 = 0, cr3 = 0, cr4 = 0;
  uint32_t dr[8] = {0, 0, 0, 0, 0xFFFF0FF0, 0x400, 0xFFFF0FF0, 0x400};
  uint32_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  CpuMsrs msrs;
  // The active shadow space's supervisor and user window bases, for the
  // GS base that inline SYSENTER/SYSEXIT switch to.
  uint64_t view_base[2] = {};
  // Raw GDT descriptors (accessed bit set) that loaded as flat writable
  // data segments: inline MOV/POP sreg compares against them.
  uint64_t flat_data[4] = {};
  uint8_t flat_data_next = 0;
  uint8_t cpl = 0;
  uint8_t halted = 0;
  uint8_t sti_shadow = 0;   // interrupts blocked for one instruction after STI / MOV SS
  uint8_t nmi_blocked = 0;  // an NMI handler runs: NMIs wait for the next IRET (SDM Vol. 3A 6.7.1)
  // The exec layer's vCPU that owns this state (the callout entry finds
  // its context here, so translated code can be shared between vCPUs).
  void* vcpu = nullptr;
};

static_assert(offsetof(CpuState, gpr) == 0x00);
static_assert(offsetof(CpuState, eip) == 0x20);
static_assert(offsetof(CpuState, host_flags) == 0x28);
static_assert(offsetof(CpuState, host_rsp) == 0x30);
static_assert(offsetof(CpuState, exit_slot) == 0x38);
static_assert(offsetof(CpuState, exit_reason) == 0x40);
static_assert(offsetof(CpuState, host_mxcsr) == 0x44);
static_assert(offsetof(CpuState, host_fcw) == 0x48);
static_assert(offsetof(CpuState, vif) == 0x4a);
static_assert(offsetof(CpuState, x87_dirty) == 0x4b);
static_assert(offsetof(CpuState, sse_only_saved) == 0x4c);
static_assert(offsetof(CpuState, irq_pending) == 0x4d);
static_assert(offsetof(CpuState, sse_live) == 0x4e);
static_assert(offsetof(CpuState, mode_stale) == 0x4f);
static_assert(offsetof(CpuState, load_sse_thunk) == 0x70);
static_assert(offsetof(CpuState, callout_thunk) == 0x50);
static_assert(offsetof(CpuState, exit_thunk) == 0x58);
static_assert(offsetof(CpuState, gs_base) == 0x60);
static_assert(offsetof(CpuState, continue_at) == 0x68);
static_assert(offsetof(CpuState, fpu) == 0x80);

// The full guest EFLAGS, assembled from its three homes.
inline uint32_t guest_eflags(const CpuState& c) {
  return (uint32_t(c.host_flags) & kHostFlags) | (c.vif ? kFlagIf : 0) |
         (c.eflags_rest & ~(kHostFlags | kFlagIf)) | 0x2;
}

inline void set_guest_eflags(CpuState& c, uint32_t v) {
  c.host_flags = (v & kHostFlags) | kHostRflagsBase;
  c.vif = (v & kFlagIf) ? 1 : 0;
  c.eflags_rest = (v & ~(kHostFlags | kFlagIf)) | 0x2;
}

}  // namespace tv::bt
