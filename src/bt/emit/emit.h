// Host-code patterns shared by the translator's rewrites: the fixed byte
// sequences that talk to CpuState through R15, and the conversion of guest
// operands into 64-bit encoder operands that address the shadow window.
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

#include "bt/emit/code_writer.h"
#include "bt/x86/cpu_state.h"
#include "bt/x86/registers.h"

namespace tv::bt {

// CpuState offsets as disp8 values for the fixed sequences ([r15 + disp8]).
template <size_t Offset>
constexpr uint8_t disp8() {
  static_assert(Offset < 0x80, "a CpuState field that generated code reaches with a disp8");
  return uint8_t(Offset);
}
#define TV_OFF(field) disp8<offsetof(CpuState, field)>()
constexpr uint8_t kOffEip = TV_OFF(eip), kOffExitSlot = TV_OFF(exit_slot),
                  kOffExitReason = TV_OFF(exit_reason), kOffVif = TV_OFF(vif),
                  kOffX87Dirty = TV_OFF(x87_dirty), kOffIrqPending = TV_OFF(irq_pending),
                  kOffSseLive = TV_OFF(sse_live), kOffModeStale = TV_OFF(mode_stale),
                  kOffLoadSseThunk = TV_OFF(load_sse_thunk),
                  kOffCalloutThunk = TV_OFF(callout_thunk), kOffExitThunk = TV_OFF(exit_thunk),
                  kOffGsBase = TV_OFF(gs_base);
#undef TV_OFF

// CpuState offsets as disp32 values ([r15 + disp32]).
inline uint32_t state_off(size_t offset) { return uint32_t(offset); }
// The CpuState offset of a field of segment register `r`.
inline uint32_t seg_field_off(unsigned r, size_t field) {
  return state_off(offsetof(CpuState, seg) + r * sizeof(Segment) + field);
}
// An instruction whose last field is a disp32 from R15 (the CpuState).
inline void op32(CodeWriter& w, std::initializer_list<uint8_t> bytes, uint32_t offset) {
  w.bytes(bytes);
  w.u32(offset);
}

// How guest memory operands reach the window.
enum class SegMode {
  kFlat,     // gs: + addr32, nothing else
  kRuntime,  // lea r13d, [ea]; add the segment base from CpuState; gs:[r13d]
};

struct Emit {
  CodeWriter& w;

  // mov r13b, [r15 - 1]: faults at a closed exit gate.
  void gate_check() { w.bytes({0x45, 0x8A, 0x6F, 0xFF}); }
  void store_eip(uint32_t eip) {
    w.bytes({0x41, 0xC7, 0x47, kOffEip});
    w.u32(eip);
  }
  void store_exit_reason(uint32_t r) {
    w.bytes({0x41, 0xC7, 0x47, kOffExitReason});
    w.u32(r);
  }
  void jmp_exit_thunk() { w.bytes({0x41, 0xFF, 0x67, kOffExitThunk}); }
  void call_callout_thunk() { w.bytes({0x41, 0xFF, 0x57, kOffCalloutThunk}); }
  void mov_r14_imm64(uint64_t v) {
    w.bytes({0x49, 0xBE});
    w.u64(v);
  }
  void store_r14_exit_slot() { w.bytes({0x4D, 0x89, 0x77, kOffExitSlot}); }
  void set_vif(uint8_t v) { w.bytes({0x41, 0xC6, 0x47, kOffVif, v}); }
  void mark_x87_dirty() { w.bytes({0x41, 0xC6, 0x47, kOffX87Dirty, 1}); }
  // RCX is borrowed for JRCXZ (the only flag-free conditional jump) and
  // kept in R8 meanwhile.
  void save_rcx() { w.bytes({0x49, 0x89, 0xC8}); }     // mov r8, rcx
  void restore_rcx() { w.bytes({0x4C, 0x89, 0xC1}); }  // mov rcx, r8
  // movzx ecx, byte [r15 + off]
  void load_state_byte_ecx(uint8_t off) { w.bytes({0x41, 0x0F, 0xB6, 0x4F, off}); }
  // Before SSE instructions: loads the guest's XMM0-7/MXCSR unless they are
  // live (callouts leave them in the image). Flag-free; RCX kept in R8.
  void ensure_sse_live() {
    save_rcx();
    load_state_byte_ecx(kOffSseLive);
    CodeWriter::Label load = w.jrcxz();
    restore_rcx();
    CodeWriter::Label done = w.jmp8();
    w.bind(load);
    restore_rcx();
    w.bytes({0x41, 0xFF, 0x57, kOffLoadSseThunk});  // call [r15 + load_sse_thunk]
    w.bind(done);
  }
  // lea r12d, [r12 + disp]: ESP adjustment without touching flags.
  void adjust_esp(int32_t disp);
  // A sync exit: leave translated code with cpu.eip = eip, no chaining.
  void sync_exit(uint32_t eip) {
    store_eip(eip);
    jmp_exit_thunk();
  }
  // A sync exit to `eip` taken only if cpu.irq_pending is set (the end of
  // an STI shadow); flag-free, RCX kept in R8 meanwhile.
  void sync_exit_if_irq_pending(uint32_t eip) {
    save_rcx();
    load_state_byte_ecx(kOffIrqPending);
    CodeWriter::Label none = w.jrcxz();
    restore_rcx();
    sync_exit(eip);
    w.bind(none);
    restore_rcx();
  }
  // jmp `dest` if cpu.irq_pending is set (flag-free, like the above).
  void jmp_if_irq_pending(const uint8_t* dest) {
    save_rcx();
    load_state_byte_ecx(kOffIrqPending);
    CodeWriter::Label none = w.jrcxz();
    restore_rcx();
    w.jmp(dest);
    w.bind(none);
    restore_rcx();
  }
  // Flag-free jump-cache probe for the target in R13D (see translator.cc).
  void indirect_lookup(int32_t jump_cache_offset, const uint8_t* miss_stub);
  // Increments the 64-bit counter at `counter` (R13/R14, no flags).
  void count(uint64_t* counter);

  // mov r13d, <guest operand> / <guest memory operand, 32 bits>
  bool load_r13(const ZydisDecodedOperand& op, SegMode seg, unsigned size_bytes = 4);
  // mov <size> gs:[r12d + disp], r13 / imm
  bool store_stack_r13(int32_t disp, unsigned size_bytes);
  bool store_stack_imm(int32_t disp, uint32_t imm, unsigned size_bytes);
  bool store_stack_reg(int32_t disp, ZydisRegister reg, unsigned size_bytes);
  // mov <reg>, gs:[r12d + disp]
  bool load_stack(ZydisRegister reg, int32_t disp, unsigned size_bytes);

  // Runs the instruction `bytes` with RSI/RDI (those it uses) turned into
  // host pointers into the window and back into guest offsets afterwards.
  void on_window_pointers(const uint8_t* bytes, unsigned len, bool esi, bool edi) {
    w.bytes({0x4D, 0x8B, 0x6F, kOffGsBase});     // mov r13, [r15 + gs_base]
    if (esi) w.bytes({0x4A, 0x8D, 0x34, 0x2E});  // lea rsi, [rsi + r13]
    if (edi) w.bytes({0x4A, 0x8D, 0x3C, 0x2F});  // lea rdi, [rdi + r13]
    w.raw(bytes, len);
    if (esi) w.bytes({0x89, 0xF6});  // mov esi, esi
    if (edi) w.bytes({0x89, 0xFF});  // mov edi, edi
  }

  // Checks the offset in R13D against segment `seg` (SDM Vol. 3A 5.3-5.5):
  // the bytes [offset, offset + size) must lie in [seg_lo, seg_hi] without
  // wrapping, and writes need a writable segment. The guest flags are kept
  // with pushfq/popfq. Emits the failure path last and returns the rel32
  // field of the jump over it: the caller emits the fault after this call
  // and patches that jump to its end.
  uint8_t* segment_check(unsigned seg, unsigned size, bool write);

  // Encodes `req`, adding addr32 where Zydis chose a 64-bit absolute form.
  bool encode_mem(ZydisEncoderRequest& req);
};

// Guest register -> host register in translated code (ESP -> R12D).
ZydisRegister host_reg(ZydisRegister guest);
// True if `reg` is AH, CH, DH or BH (not encodable together with REX).
bool is_high_byte(ZydisRegister reg);

// Fills `out` from a decoded guest memory operand, addressing the window.
// With SegMode::kRuntime the caller must have emitted the address into R13D.
void window_mem(const ZydisDecodedOperand& op, SegMode seg, ZydisEncoderOperand& out,
                unsigned size_bytes);
// lea r13d, [ea of op] and add the segment base of `seg_reg` from CpuState.
bool emit_runtime_address(Emit& e, const ZydisDecodedOperand& op, unsigned seg_index);
// The two halves: the offset into R13D, then the segment base added.
bool emit_offset(Emit& e, const ZydisDecodedOperand& op);
void emit_add_base(Emit& e, unsigned seg_index);

}  // namespace tv::bt
