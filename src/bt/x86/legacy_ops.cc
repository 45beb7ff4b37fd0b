// Helpers for the instructions that do not exist in 64-bit mode (see
// legacy_ops.h). The BCD adjusts follow the SDM Vol. 2 pseudo-code; their
// undefined flags were taken from an Intel CPU running the real instructions
// in compatibility mode over all inputs (AL x AF x CF; AX x imm8 for AAD).
#include "bt/x86/legacy_ops.h"

#include "bt/x86/segments.h"
#include "bt/x86/string_ops.h"

namespace tv::bt {

namespace {

unsigned bytes(OperandSize size) { return size == OperandSize::k32 ? 4 : 2; }

uint8_t al(const CpuState& cpu) { return uint8_t(cpu.gpr[kEax]); }
uint8_t ah(const CpuState& cpu) { return uint8_t(cpu.gpr[kEax] >> 8); }
void set_ax(CpuState& cpu, uint16_t v) { cpu.gpr[kEax] = (cpu.gpr[kEax] & 0xFFFF0000) | v; }
void set_al(CpuState& cpu, uint8_t v) { cpu.gpr[kEax] = (cpu.gpr[kEax] & 0xFFFFFF00) | v; }

// Writes a register at the operand size: a 16-bit write keeps bits 31-16.
void set_reg(CpuState& cpu, Gpr r, uint32_t v, OperandSize size) {
  cpu.gpr[r] = size == OperandSize::k32 ? v : (cpu.gpr[r] & 0xFFFF0000) | (v & 0xFFFF);
}

uint32_t arith_flags(const CpuState& cpu) { return uint32_t(cpu.host_flags); }
void set_arith_flags(CpuState& cpu, uint32_t f) {
  cpu.host_flags = (cpu.host_flags & ~uint64_t(kArithFlags)) | (f & kArithFlags);
}

// SF, ZF and PF of an 8-bit result (PF: even number of set bits).
uint32_t szp(uint8_t v) {
  return (v == 0 ? kFlagZf : 0) | (v & 0x80 ? kFlagSf : 0) | (__builtin_parity(v) ? 0 : kFlagPf);
}

// The host RFLAGS after ADD a, b (8-bit). Steps over the red zone before
// pushing, as the compiler may keep data below RSP.
uint64_t host_add8_flags(uint8_t a, uint8_t b) {
  uint64_t f;
  asm("addb %b2, %b1\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\tlea 128(%%rsp), %%rsp"
      : "=r"(f), "+q"(a)
      : "q"(b)
      : "cc");
  return f;
}

}  // namespace

// SDM Vol. 2B "PUSHA/PUSHAD". Stack (segments.h) works on a copy of ESP,
// so all stores happen before ESP moves.
void pusha(CpuState& cpu, LinearMemory& mem, OperandSize size) {
  Stack stack = Stack::current(cpu);
  for (unsigned r = kEax; r <= kEdi; ++r) stack.push(mem, cpu.gpr[r], bytes(size));
  cpu.gpr[kEsp] = stack.esp;
}

// SDM Vol. 2B "POPA/POPAD". All loads happen before any register changes.
void popa(CpuState& cpu, LinearMemory& mem, OperandSize size) {
  Stack stack = Stack::current(cpu);
  uint32_t v[8];
  for (unsigned i = 0; i < 8; ++i) v[kEdi - i] = stack.pop(mem, bytes(size));  // EDI first
  for (unsigned r = kEax; r <= kEdi; ++r)
    if (r != kEsp) set_reg(cpu, Gpr(r), v[r], size);
  cpu.gpr[kEsp] = stack.esp;
}

void enter(CpuState& cpu, LinearMemory& mem, uint16_t alloc, uint8_t level) {
  level &= 0x1F;
  const uint32_t esp = cpu.gpr[kEsp], ebp = cpu.gpr[kEbp];
  try {
    push32(cpu, mem, ebp);
    const uint32_t frame = cpu.gpr[kEsp];
    uint32_t link = ebp;
    for (unsigned i = 1; i < level; ++i) {
      link -= 4;
      push32(cpu, mem, mem.read<uint32_t>(cpu.seg[kSs].base + link));
    }
    if (level > 0) push32(cpu, mem, frame);
    cpu.gpr[kEbp] = frame;
    cpu.gpr[kEsp] -= alloc;
  } catch (...) {
    cpu.gpr[kEsp] = esp;
    cpu.gpr[kEbp] = ebp;
    throw;
  }
}

// SDM Vol. 2A "DAA". The carry out of AL + 6 needs AL >= 0xFA, which also
// takes the second branch, so it never changes CF.
void daa(CpuState& cpu) {
  const uint32_t in = arith_flags(cpu);
  const uint8_t old = al(cpu);
  uint8_t v = old;
  uint32_t out = 0;
  if ((v & 0xF) > 9 || (in & kFlagAf)) {
    v += 6;
    out |= kFlagAf;
  }
  if (old > 0x99 || (in & kFlagCf)) {
    v += 0x60;
    out |= kFlagCf;
  }
  set_al(cpu, v);
  set_arith_flags(cpu, out | szp(v));
}

// SDM Vol. 2A "DAS". Unlike DAA, a borrow out of AL - 6 sets CF by itself.
void das(CpuState& cpu) {
  const uint32_t in = arith_flags(cpu);
  const uint8_t old = al(cpu);
  uint8_t v = old;
  uint32_t out = 0;
  if ((v & 0xF) > 9 || (in & kFlagAf)) {
    out |= kFlagAf | ((v < 6 || (in & kFlagCf)) ? kFlagCf : 0);
    v -= 6;
  }
  if (old > 0x99 || (in & kFlagCf)) {
    v -= 0x60;
    out |= kFlagCf;
  }
  set_al(cpu, v);
  set_arith_flags(cpu, out | szp(v));
}

// SDM Vol. 2A "AAA": AX += 0x106, so a carry out of AL reaches AH too.
void aaa(CpuState& cpu) {
  uint16_t ax = uint16_t(cpu.gpr[kEax]);
  uint32_t out = 0;
  if ((ax & 0xF) > 9 || (arith_flags(cpu) & kFlagAf)) {
    ax += 0x106;
    out = kFlagAf | kFlagCf;
  }
  ax &= 0xFF0F;
  set_ax(cpu, ax);
  set_arith_flags(cpu, out | szp(uint8_t(ax)));
}

// SDM Vol. 2A "AAS": AX -= 6 (borrowing from AH), then AH -= 1.
void aas(CpuState& cpu) {
  uint16_t ax = uint16_t(cpu.gpr[kEax]);
  uint32_t out = 0;
  if ((ax & 0xF) > 9 || (arith_flags(cpu) & kFlagAf)) {
    ax -= 0x106;
    out = kFlagAf | kFlagCf;
  }
  ax &= 0xFF0F;
  set_ax(cpu, ax);
  set_arith_flags(cpu, out | szp(uint8_t(ax)));
}

// SDM Vol. 2A "AAM".
void aam(CpuState& cpu, uint8_t imm) {
  if (imm == 0) throw fault(kDE);
  const uint8_t v = al(cpu);
  const uint8_t lo = v % imm;
  set_ax(cpu, uint16_t((v / imm) << 8 | lo));
  set_arith_flags(cpu, szp(lo));
}

// SDM Vol. 2A "AAD". Intel computes it as an 8-bit ADD of AL and the low
// byte of AH * imm8, flags included, so the host ADD gives every flag.
void aad(CpuState& cpu, uint8_t imm) {
  const uint8_t a = al(cpu), b = uint8_t(ah(cpu) * imm);
  set_arith_flags(cpu, uint32_t(host_add8_flags(a, b)));
  set_ax(cpu, uint8_t(a + b));
}

void salc(CpuState& cpu) { set_al(cpu, (arith_flags(cpu) & kFlagCf) ? 0xFF : 0); }

// SDM Vol. 2A "BOUND": both bounds are signed, at offset and offset + size.
void bound(CpuState& cpu, LinearMemory& mem, OperandSize size, Gpr reg, SegReg seg,
           uint32_t offset) {
  const unsigned z = bytes(size);
  const uint32_t lin = segment_linear(cpu, seg, offset, 2 * z, Access::kRead);
  int32_t index, lower, upper;
  if (size == OperandSize::k32) {
    index = int32_t(cpu.gpr[reg]);
    lower = mem.read<int32_t>(lin);
    upper = mem.read<int32_t>(lin + 4);
  } else {
    index = int16_t(cpu.gpr[reg]);
    lower = mem.read<int16_t>(lin);
    upper = mem.read<int16_t>(lin + 2);
  }
  if (index < lower || index > upper) throw fault(kBR);
}

// SDM Vol. 2A "LDS/LES/LFS/LGS/LSS": the segment load may fault, so the
// register is written only after it.
void load_far_pointer(CpuState& cpu, LinearMemory& mem, OperandSize size, Gpr reg, SegReg target,
                      SegReg seg, uint32_t offset, const LoadSegment& load_segment) {
  const unsigned z = bytes(size);
  const uint32_t lin = segment_linear(cpu, seg, offset, z + 2, Access::kRead);
  const uint32_t value =
      size == OperandSize::k32 ? mem.read<uint32_t>(lin) : mem.read<uint16_t>(lin);
  load_segment(target, mem.read<uint16_t>(lin + z));
  set_reg(cpu, reg, value, size);
}

// SDM Vol. 2B "PUSH": a 32-bit push of a segment register may either write
// the zero-extended selector or only its low word (recent Intel cores);
// we write the zero-extended selector.
void push_segment(CpuState& cpu, LinearMemory& mem, OperandSize size, SegReg s) {
  Stack stack = Stack::current(cpu);
  stack.push(mem, cpu.seg[s].selector, bytes(size));
  cpu.gpr[kEsp] = stack.esp;
}

// SDM Vol. 2B "POP": the selector is the low word of the slot; ESP moves
// (by the old SS.B) only after the segment load succeeded. POP SS inhibits
// interrupts until after the next instruction, like MOV SS.
void pop_segment(CpuState& cpu, LinearMemory& mem, OperandSize size, SegReg s,
                 const LoadSegment& load_segment) {
  if (s == kCs) throw fault(kUD);  // 0x0F is the two-byte escape since the 80286
  Stack stack = Stack::current(cpu);
  const uint16_t selector = uint16_t(stack.pop(mem, bytes(size)));
  load_segment(s, selector);
  cpu.gpr[kEsp] = stack.esp;
  if (s == kSs) cpu.sti_shadow = 1;
}

}  // namespace tv::bt
