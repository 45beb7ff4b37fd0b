// Protected-mode segmentation for the BT helpers: descriptor decoding,
// segment-register loads with their privilege checks, SS:ESP stack access,
// far control transfers (far_control.cc) and the system-table instructions.
//
// The guest is IA-32 without PAE, protected mode only: real mode and
// virtual-8086 mode are not implemented and raise the #GP a guest would see
// if the feature were absent (Linux uses neither). Hardware task switches
// live in task_switch.h.
// Every function works at a guest instruction boundary and either completes
// or throws GuestFault with the CPU registers unchanged (SDM Vol. 3A 6.6).
#pragma once

#include <cstdint>
#include <optional>

#include "bt/x86/cpu_state.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

// Segment::attr bits: descriptor byte 5 in bits 0-7, the flags nibble of
// byte 6 in bits 8-11 (SDM Vol. 3A 3.4.5, Figure 3-8).
constexpr uint16_t kAttrAccessed = 0x001, kAttrTypeMask = 0x00F, kAttrS = 0x010,
                   kAttrDplMask = 0x060, kAttrP = 0x080, kAttrAvl = 0x100, kAttrL = 0x200,
                   kAttrDb = 0x400, kAttrG = 0x800;
constexpr unsigned kAttrDplShift = 5;

// System descriptor types (SDM Vol. 3A Table 3-2).
enum SystemType : uint8_t {
  kTss16Available = 0x1,
  kLdtType = 0x2,
  kTss16Busy = 0x3,
  kCallGate16 = 0x4,
  kTaskGate = 0x5,
  kIntGate16 = 0x6,
  kTrapGate16 = 0x7,
  kTss32Available = 0x9,
  kTss32Busy = 0xB,
  kCallGate32 = 0xC,
  kIntGate32 = 0xE,
  kTrapGate32 = 0xF,
};

constexpr uint8_t rpl(uint16_t selector) { return selector & 3; }
constexpr bool is_null(uint16_t selector) { return (selector & 0xFFFC) == 0; }
// The error code a selector-related fault reports (SDM Vol. 3A 6.13).
constexpr uint32_t selector_error(uint16_t selector) { return selector & 0xFFFC; }

// One 8-byte GDT/LDT/IDT entry (SDM Vol. 3A 3.4.5, 5.8.3, 6.11) and where
// it lives, so the accessed and busy bits can be written back.
struct Descriptor {
  uint32_t lo = 0, hi = 0;
  uint32_t addr = 0;  // guest linear address of the entry

  uint8_t type() const { return (hi >> 8) & 0xF; }
  bool system() const { return !(hi & (1u << 12)); }
  uint8_t dpl() const { return (hi >> 13) & 3; }
  bool present() const { return hi & (1u << 15); }
  bool code() const { return !system() && (type() & 8); }
  bool data() const { return !system() && !(type() & 8); }
  bool conforming() const { return code() && (type() & 4); }
  bool readable() const { return data() || (code() && (type() & 2)); }
  bool writable() const { return data() && (type() & 2); }
  bool call_gate() const { return system() && (type() == kCallGate16 || type() == kCallGate32); }

  uint32_t base() const { return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000); }
  // Byte-granular limit: 4 KiB units when G=1 (SDM Vol. 3A 3.4.5).
  uint32_t limit() const {
    uint32_t raw = (lo & 0xFFFF) | (hi & 0xF0000);
    return (hi & (1u << 23)) ? (raw << 12) | 0xFFF : raw;
  }
  uint16_t attr() const { return ((hi >> 8) & 0xFF) | ((hi >> 12) & 0xF00); }

  // Gate fields (SDM Vol. 3A Figure 5-8, Figure 6-2).
  uint16_t gate_selector() const { return lo >> 16; }
  uint32_t gate_offset() const { return (lo & 0xFFFF) | (hi & 0xFFFF0000); }
  uint8_t gate_params() const { return hi & 0x1F; }
  bool gate32() const { return type() & 8; }
};

inline uint8_t segment_dpl(const Segment& s) { return (s.attr & kAttrDplMask) >> kAttrDplShift; }
inline bool segment_usable(const Segment& s) { return s.attr & kAttrP; }
inline bool segment_big(const Segment& s) { return s.attr & kAttrDb; }

// The hidden-cache image of a descriptor, and of a null selector (unusable).
Segment make_segment(uint16_t selector, const Descriptor& d);
Segment null_segment(uint16_t selector);

// The GDT or LDT entry `selector` names; nullopt if it lies beyond the
// table limit (or TI=1 with no usable LDT).
std::optional<Descriptor> find_descriptor(const CpuState& cpu, LinearMemory& mem,
                                          uint16_t selector);
// As find_descriptor, but throws `vector`(selector | ext) when it is missing.
Descriptor read_descriptor(const CpuState& cpu, LinearMemory& mem, uint16_t selector,
                           uint8_t vector = kGP, uint32_t ext = 0);
// Sets the accessed bit in memory, as a segment load does (SDM Vol. 3A 3.4.5.1).
void mark_accessed(LinearMemory& mem, Descriptor& d);

// True if [offset, offset+size) lies within the segment, honouring
// expand-down data segments (SDM Vol. 3A 5.3).
bool segment_fits(const Segment& s, uint32_t offset, uint32_t size);

// The multiboot / Linux 32-bit boot protocol entry state: PE set, flat
// 4 GiB ring-0 CS=0x08 and data 0x10, EFLAGS=0x2, no GDT/IDT loaded yet.
// `code`/`data` are the selectors, `gdtr` the table a loader left (its
// descriptors are the flat ones loaded here).
void reset_flat_protected_mode(CpuState& cpu, uint16_t code = 0x08, uint16_t data = 0x10,
                               TableReg gdtr = {});

// MOV/POP to DS, ES, FS, GS or SS (SDM Vol. 2 MOV "protected mode"). CS
// cannot be loaded this way (#UD). Loading SS does not set the one-
// instruction interrupt shadow; MOV SS/POP SS callers set cpu.sti_shadow.
void load_segment(CpuState& cpu, LinearMemory& mem, SegReg reg, uint16_t selector);

// Loads CS from a checked code descriptor with RPL = new CPL and switches CPL.
void load_cs(CpuState& cpu, LinearMemory& mem, uint16_t selector, Descriptor& d, uint8_t cpl);

// After a return to an outer level: DS/ES/FS/GS holding data or
// non-conforming code more privileged than the new CPL become null
// (SDM Vol. 2 RET/IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
void null_outer_data_segments(CpuState& cpu);

// A stack being written or unwound: SS's cache and ESP, copied out of the
// CPU and committed back only when the whole operation has succeeded, so a
// fault halfway leaves SS:ESP unchanged. SS.B selects ESP or SP.
struct Stack {
  Segment ss;
  uint32_t esp = 0;
  uint32_t fault_error = 0;  // #SS error code when a push or pop leaves the segment

  static Stack current(const CpuState& cpu);
  void push(LinearMemory& mem, uint32_t value, unsigned size);
  uint32_t pop(LinearMemory& mem, unsigned size);
  // Reads the slot `byte_offset` above the top without popping.
  uint32_t peek(LinearMemory& mem, uint32_t byte_offset, unsigned size) const;
  void release(uint32_t bytes);  // RET imm16
  void commit(CpuState& cpu) const;

 private:
  uint32_t moved(uint32_t delta) const;
  uint32_t checked_address(uint32_t sp, unsigned size) const;
};

// The stack for privilege level `dpl` from the current TSS (SS0:ESP0, ...),
// checked as a stack-switching CALL or interrupt does (SDM Vol. 3A 6.12.1,
// Vol. 2 CALL): bad TSS limit or SS -> #TS, SS not present -> #SS.
Stack inner_stack(const CpuState& cpu, LinearMemory& mem, uint8_t dpl, uint32_t ext);

void push32(CpuState& cpu, LinearMemory& mem, uint32_t value);
void push16(CpuState& cpu, LinearMemory& mem, uint16_t value);
uint32_t pop32(CpuState& cpu, LinearMemory& mem);
uint16_t pop16(CpuState& cpu, LinearMemory& mem);

// Far control transfers (far_control.cc). `offset` is already truncated to
// the operand size by the caller; `return_eip` is the next instruction.
// JMP and IRET that switch tasks save cpu.eip, which callers set to the
// next instruction, in the old TSS; their faults after the switch's commit
// point are GuestFault::committed (task_switch.h).
void far_jump(CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t offset);
void far_call(CpuState& cpu, LinearMemory& mem, uint16_t selector, uint32_t offset, bool op32,
              uint32_t return_eip);
void far_return(CpuState& cpu, LinearMemory& mem, uint16_t pop_bytes, bool op32);
void iret(CpuState& cpu, LinearMemory& mem, bool op32);

// System-table instructions. `addr` is the linear address of the 6-byte
// pseudo-descriptor (limit16, base32); with a 16-bit operand LGDT/LIDT use
// 24 bits of base (SDM Vol. 2 LGDT/LIDT).
void lgdt(CpuState& cpu, LinearMemory& mem, uint32_t addr, bool op32 = true);
void lidt(CpuState& cpu, LinearMemory& mem, uint32_t addr, bool op32 = true);
void sgdt(const CpuState& cpu, LinearMemory& mem, uint32_t addr);
void sidt(const CpuState& cpu, LinearMemory& mem, uint32_t addr);
void lldt(CpuState& cpu, LinearMemory& mem, uint16_t selector);
void ltr(CpuState& cpu, LinearMemory& mem, uint16_t selector);
inline uint16_t sldt(const CpuState& cpu) { return cpu.ldtr.selector; }
inline uint16_t str(const CpuState& cpu) { return cpu.tr.selector; }

// LAR/LSL/VERR/VERW: `ok` is the ZF the instruction sets; `value` is the
// access rights (descriptor bits 8-23 masked with 0x00F0FF00) or the
// byte-granular limit. They never fault on a bad selector.
struct AccessCheck {
  bool ok;
  uint32_t value;
};
AccessCheck lar(const CpuState& cpu, LinearMemory& mem, uint16_t selector);
AccessCheck lsl(const CpuState& cpu, LinearMemory& mem, uint16_t selector);
AccessCheck verr(const CpuState& cpu, LinearMemory& mem, uint16_t selector);
AccessCheck verw(const CpuState& cpu, LinearMemory& mem, uint16_t selector);

// Logs "unimplemented: <what>" once per call site text, then throws `f`:
// the fault a CPU without the feature would raise.
[[noreturn]] void unimplemented(const char* what, GuestFault f);

}  // namespace tv::bt
