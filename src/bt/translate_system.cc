// Inline translations of instructions a VMM would otherwise hand to C++:
// the stack forms (PUSH/POP, PUSHAD/POPAD, PUSH sreg, LEAVE/ENTER,
// PUSHFD/POPFD) and SYSENTER/SYSEXIT (DESIGN.md "BT: translation").
#include "bt/block_builder.h"

#include <vector>

namespace tv::bt {
namespace {

uint32_t off(size_t offset) { return uint32_t(offset); }
// The CpuState offset of a field of segment register `r`.
uint32_t seg(unsigned r, size_t field) { return off(offsetof(CpuState, seg) + r * sizeof(Segment) + field); }
// An instruction whose last field is a disp32 from R15 (the CpuState).
void op32(CodeWriter& w, std::initializer_list<uint8_t> bytes, uint32_t offset) {
  w.bytes(bytes);
  w.u32(offset);
}

}  // namespace

// SYSENTER from CPL 3 and SYSEXIT from CPL 0, inline (a system call is
// one of each), where the mode on both sides differs only in CPL: 32-bit
// flat code, no segment checks. The fixed flat CS/SS of SDM Vol. 2B
// SYSENTER/SYSEXIT, CPL, IF (SYSENTER), ESP, and the GS base of the other
// view are stored; cpu.mode_stale has C++ derive the mode again before it
// next relies on it. The target goes through the jump cache of the new
// CPL. A null SYSENTER_CS (#GP) takes the callout.
bool BlockBuilder::translate_sysenter(const Insn& i) {
  const bool enter = i.d.mnemonic == ZYDIS_MNEMONIC_SYSENTER;
  if (!enter && i.d.mnemonic != ZYDIS_MNEMONIC_SYSEXIT) return false;
  const unsigned cpl = (req_.mode >> Mode::kCplShift) & 3;
  const uint32_t need = Mode::kCs32 | Mode::kFlat;
  if (unchainable_ || (req_.mode & need) != need || (req_.mode & Mode::kSegChecks) || cpl != (enter ? 3 : 0) ||
      i.d.operand_width != 32)
    return false;
  auto store_flat = [&](unsigned r, uint16_t attr) {  // selector from R13W
    op32(w_, {0x66, 0x45, 0x89, 0xAF}, seg(r, offsetof(Segment, selector)));  // mov [sel], r13w
    op32(w_, {0x66, 0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, attr)));      // mov word [attr], imm16
    w_.bytes({uint8_t(attr), uint8_t(attr >> 8)});
    op32(w_, {0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, base)));  // mov dword [base], 0
    w_.u32(0);
    op32(w_, {0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, limit)));  // mov dword [limit], -1
    w_.u32(0xFFFFFFFFu);
  };
  w_.bytes({0x9C});                                                     // pushfq: the guest's flags
  op32(w_, {0x45, 0x0F, 0xB7, 0xAF}, off(offsetof(CpuState, sysenter_cs)));  // movzx r13d, word [sysenter_cs]
  w_.bytes({0x41, 0x81, 0xE5, 0xFC, 0xFF, 0x00, 0x00});                // and r13d, 0xFFFC
  uint8_t* null_cs = w_.jcc(0x4, w_.cur());                             // jz: #GP in the callout
  if (enter) {
    store_flat(kCs, 0xC9B);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xC93);
    op32(w_, {0x41, 0xC6, 0x87}, off(offsetof(CpuState, cpl))), w_.bytes({0});
    op32(w_, {0x41, 0xC6, 0x87}, off(offsetof(CpuState, vif))), w_.bytes({0});
    op32(w_, {0x41, 0x81, 0xA7}, off(offsetof(CpuState, eflags_rest)));  // and: VM and RF go
    w_.u32(~(kFlagVm | kFlagRf));
    op32(w_, {0x45, 0x8B, 0xA7}, off(offsetof(CpuState, sysenter_esp)));  // mov r12d, [sysenter_esp]
  } else {
    w_.bytes({0x41, 0x83, 0xC5, 0x10, 0x41, 0x83, 0xCD, 0x03});  // add r13d, 16; or r13d, 3
    store_flat(kCs, 0xCFB);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xCF3);
    op32(w_, {0x41, 0xC6, 0x87}, off(offsetof(CpuState, cpl))), w_.bytes({3});
    w_.bytes({0x41, 0x89, 0xCC});  // mov r12d, ecx
  }
  op32(w_, {0x4D, 0x8B, 0xAF}, off(offsetof(CpuState, view_base) + (enter ? 0 : 8)));  // mov r13, [view base]
  w_.bytes({0xF3, 0x49, 0x0F, 0xAE, 0xDD});                                        // wrgsbase r13
  op32(w_, {0x4D, 0x89, 0xAF}, off(offsetof(CpuState, gs_base)));                      // mov [gs_base], r13
  op32(w_, {0x41, 0xC6, 0x87}, off(offsetof(CpuState, mode_stale))), w_.bytes({1});
  w_.bytes({0x9D});  // popfq
  if (enter) op32(w_, {0x45, 0x8B, 0xAF}, off(offsetof(CpuState, sysenter_eip)));  // mov r13d, [sysenter_eip]
  else w_.bytes({0x41, 0x89, 0xD5});                                            // mov r13d, edx
  if (sti_shadow_) e_.jmp_if_irq_pending(cache_.miss_stub());
  e_.indirect_lookup(jump_cache_offset(enter ? 0 : 3), cache_.miss_stub());
  if (w_.ok()) CodeWriter::patch_rel32(null_cs, w_.cur());
  w_.bytes({0x9D});  // popfq
  callout(i, *find_callout(i.d, i.ops));
  e_.sync_exit(i.next());  // not reached: the handler raises #GP
  return true;
}

// MOV sreg / POP sreg into DS, ES, FS or GS at CPL 0 in a flat mode,
// inline when the selector is null or names a GDT entry whose eight bytes
// equal a descriptor that loaded as a flat writable data segment before
// (cpu.flat_data, filled by the callout): the same checks pass and give
// the same segment, and the mode stays. RPL must not exceed the DPL.
// Anything else, and every fault but the descriptor read's, is the
// callout's. The guest flags are saved around the checks and live while
// the descriptor is read (a #PF there reports them).
bool BlockBuilder::translate_segment_load(const Insn& i) {
  const bool pop = i.d.mnemonic == ZYDIS_MNEMONIC_POP;
  if ((!pop && i.d.mnemonic != ZYDIS_MNEMONIC_MOV) || i.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
      ZydisRegisterGetClass(i.ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT)
    return false;
  const unsigned s = segment_index(i.ops[0].reg.value);
  const uint32_t need = Mode::kCs32 | Mode::kFlat;
  if ((s != kDs && s != kEs && s != kFs && s != kGs) || !kJumpCacheMixes || unchainable_ ||
      ((req_.mode >> Mode::kCplShift) & 3) != 0 || (req_.mode & need) != need || (req_.mode & Mode::kSegChecks))
    return false;
  const unsigned size = pop ? i.d.operand_width / 8 : 2;
  auto store = [&](bool flat) {  // selector from R13W; attribute from R14W if flat
    op32(w_, {0x66, 0x45, 0x89, 0xAF}, seg(s, offsetof(Segment, selector)));  // mov [selector], r13w
    if (flat) {
      op32(w_, {0x66, 0x45, 0x89, 0xB7}, seg(s, offsetof(Segment, attr)));  // mov [attr], r14w
    } else {
      op32(w_, {0x66, 0x41, 0xC7, 0x87}, seg(s, offsetof(Segment, attr))), w_.bytes({0, 0});
    }
    op32(w_, {0x41, 0xC7, 0x87}, seg(s, offsetof(Segment, base))), w_.u32(0);
    op32(w_, {0x41, 0xC7, 0x87}, seg(s, offsetof(Segment, limit))), w_.u32(flat ? 0xFFFFFFFFu : 0);
    // The segment-check data, as derive_segment_checks() would give it.
    op32(w_, {0x41, 0xC7, 0x87}, off(offsetof(CpuState, seg_lo) + 4 * s)), w_.u32(flat ? 0 : 1);
    op32(w_, {0x41, 0xC7, 0x87}, off(offsetof(CpuState, seg_hi) + 4 * s)), w_.u32(flat ? 0xFFFFFFFFu : 0);
    op32(w_, {0x41, 0xC6, 0x87}, off(offsetof(CpuState, seg_writable) + s)), w_.bytes({uint8_t(flat)});
    w_.bytes({0x9D});  // popfq
    if (pop) e_.adjust_esp(int32_t(size));
  };
  std::vector<uint8_t*> to_slow;
  if (pop) e_.load_stack(size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D, 0, size);
  else e_.load_r13(i.ops[1], seg_, 2);
  w_.bytes({0x45, 0x0F, 0xB7, 0xED});                    // movzx r13d, r13w
  w_.bytes({0x9C});                                      // pushfq
  w_.bytes({0x41, 0xF7, 0xC5, 0xFC, 0xFF, 0x00, 0x00});  // test r13d, 0xFFFC
  uint8_t* to_null = w_.jcc(0x4, w_.cur());              // jz null
  w_.bytes({0x41, 0xF7, 0xC5, 0x04, 0x00, 0x00, 0x00});  // test r13d, 4 (the LDT)
  to_slow.push_back(w_.jcc(0x5, w_.cur()));              // jnz slow
  w_.bytes({0xC4, 0x43, 0x7B, 0xF0, 0xF5, 0x03});        // rorx r14d, r13d, 3
  w_.bytes({0x45, 0x0F, 0xB7, 0xF6});                    // movzx r14d, r14w: the index
  w_.bytes({0x46, 0x8D, 0x04, 0xF5, 0x07, 0x00, 0x00, 0x00});  // lea r8d, [r14*8 + 7]
  op32(w_, {0x66, 0x45, 0x3B, 0x87}, off(offsetof(CpuState, gdtr) + offsetof(TableReg, limit)));  // cmp r8w, limit
  to_slow.push_back(w_.jcc(0x7, w_.cur()));              // ja slow
  w_.bytes({0x9D});                                      // popfq: the read may fault
  op32(w_, {0x45, 0x8B, 0x87}, off(offsetof(CpuState, gdtr) + offsetof(TableReg, base)));  // mov r8d, gdt base
  w_.bytes({0x47, 0x8D, 0x04, 0xF0});                    // lea r8d, [r8 + r14*8]
  w_.bytes({0x65, 0x67, 0x4D, 0x8B, 0x00});              // mov r8, gs:[r8d]: the descriptor
  w_.bytes({0x9C});                                      // pushfq
  std::vector<uint8_t*> to_match;
  for (unsigned k = 0; k < 4; ++k) {
    op32(w_, {0x4D, 0x3B, 0x87}, off(offsetof(CpuState, flat_data) + 8 * k));  // cmp r8, [flat_data + k]
    to_match.push_back(w_.jcc(0x4, w_.cur()));                             // je match
  }
  to_slow.push_back(w_.jmp(w_.cur()));
  for (uint8_t* j : to_match)
    if (w_.ok()) CodeWriter::patch_rel32(j, w_.cur());
  w_.bytes({0x4D, 0x89, 0xC6, 0x49, 0xC1, 0xEE, 0x28});  // mov r14, r8; shr r14, 40
  w_.bytes({0x41, 0x81, 0xE6, 0xFF, 0x00, 0x00, 0x00});  // and r14d, 0xFF: type, S, DPL, P
  w_.bytes({0x49, 0xC1, 0xE8, 0x34, 0x41, 0x83, 0xE0, 0x0F});  // shr r8, 52; and r8d, 15: AVL, L, D/B, G
  w_.bytes({0x41, 0xC1, 0xE0, 0x08, 0x45, 0x09, 0xC6});  // shl r8d, 8; or r14d, r8d: the attribute
  w_.bytes({0x45, 0x89, 0xF0, 0x41, 0xC1, 0xE8, 0x05});  // mov r8d, r14d; shr r8d, 5
  w_.bytes({0x41, 0x83, 0xE0, 0x03});                    // and r8d, 3: DPL
  w_.bytes({0x41, 0x55, 0x41, 0x83, 0xE5, 0x03});        // push r13; and r13d, 3: RPL
  w_.bytes({0x45, 0x39, 0xC5, 0x41, 0x5D});              // cmp r13d, r8d; pop r13
  to_slow.push_back(w_.jcc(0x7, w_.cur()));              // ja slow: RPL > DPL
  store(true);
  uint8_t* done1 = w_.jmp(w_.cur());
  if (w_.ok()) CodeWriter::patch_rel32(to_null, w_.cur());
  store(false);
  uint8_t* done2 = w_.jmp(w_.cur());
  for (uint8_t* j : to_slow)
    if (w_.ok()) CodeWriter::patch_rel32(j, w_.cur());
  w_.bytes({0x9D});  // popfq
  callout(i, *find_callout(i.d, i.ops));
  if (w_.ok()) CodeWriter::patch_rel32(done1, w_.cur()), CodeWriter::patch_rel32(done2, w_.cur());
  return true;
}

// PUSHAD, POPAD and PUSH sreg, inline (interrupt entry stubs are full of
// them). ESP moves last, so a faulting access restarts the instruction
// with nothing changed but the bytes below ESP; POPAD reads its last and
// first slots before it writes a register, so the rest cannot fault.
bool BlockBuilder::translate_push_pop_all(const Insn& i) {
  static constexpr ZydisRegister kPushOrder[8] = {
      ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
      ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI};
  switch (i.d.mnemonic) {
    case ZYDIS_MNEMONIC_PUSHAD:
      if (i.d.operand_width != 32) return false;
      for (int k = 0; k < 8; ++k) e_.store_stack_reg(-4 * (k + 1), kPushOrder[k], 4);
      e_.adjust_esp(-32);
      return true;
    case ZYDIS_MNEMONIC_POPAD:
      if (i.d.operand_width != 32) return false;
      e_.load_stack(ZYDIS_REGISTER_R13D, 28, 4);  // EAX's slot
      for (int k = 7; k >= 0; --k)
        if (k != 4 && k != 0) e_.load_stack(kPushOrder[k], 4 * (7 - k), 4);  // the ESP slot is skipped
      w_.bytes({0x44, 0x89, 0xE8});  // mov eax, r13d
      e_.adjust_esp(32);
      return true;
    case ZYDIS_MNEMONIC_PUSH: {
      if (i.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
          ZydisRegisterGetClass(i.ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT)
        return false;
      unsigned seg = segment_index(i.ops[0].reg.value);
      unsigned size = i.d.operand_width / 8;
      w_.bytes({0x45, 0x0F, 0xB7, 0xAF});  // movzx r13d, word [r15 + selector]
      w_.u32(uint32_t(offsetof(CpuState, seg) + seg * sizeof(Segment) + offsetof(Segment, selector)));
      e_.store_stack_r13(-int32_t(size), size);
      e_.adjust_esp(-int32_t(size));
      return true;
    }
    default:
      return false;
  }
}

Flow BlockBuilder::translate_stack(const Insn& i) {
  const ZydisDecodedOperand& op = i.ops[0];
  unsigned size = i.d.operand_width / 8;
  switch (i.d.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        e_.store_stack_reg(-int32_t(size), host_reg(op.reg.value), size);
      } else if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        e_.store_stack_imm(-int32_t(size), uint32_t(op.imm.value.u), size);
      } else {
        e_.load_r13(op, seg_, size);
        e_.store_stack_r13(-int32_t(size), size);
      }
      e_.adjust_esp(-int32_t(size));
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_POP:
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        ZydisRegister r = host_reg(op.reg.value);
        if (r == ZYDIS_REGISTER_R12D || r == ZYDIS_REGISTER_R12W) {
          e_.load_stack(r, 0, size);  // pop esp: ESP = the popped value
        } else {
          e_.load_stack(r, 0, size);
          e_.adjust_esp(int32_t(size));
        }
        return Flow::kContinue;
      }
      // pop m: the address is computed with ESP already incremented (SDM
      // POP); store first (at disp + size when ESP is the base), then adjust
      // ESP, so a faulting store leaves no partial state. Segment bases
      // other than flat ones go to a callout.
      if (seg_ == SegMode::kRuntime || op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS)
        break;
      e_.load_stack(size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D, 0, size);
      {
        ZydisEncoderRequest req;
        std::memset(&req, 0, sizeof req);
        req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
        req.mnemonic = ZYDIS_MNEMONIC_MOV;
        req.operand_count = 2;
        window_mem(op, seg_, req.operands[0], size);
        if (op.mem.base == ZYDIS_REGISTER_ESP) req.operands[0].mem.displacement += size;
        req.operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
        req.operands[1].reg.value = size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D;
        req.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_GS;
        e_.encode_mem(req);
      }
      e_.adjust_esp(int32_t(size));
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_LEAVE:
      // ESP = EBP; EBP = pop. Load first so a fault leaves no partial state.
      w_.bytes({0x65, 0x67, 0x44, 0x8B, 0x6D, 0x00});  // mov r13d, gs:[ebp]
      w_.bytes({0x44, 0x8D, 0x65, 0x04});              // lea r12d, [rbp + 4]
      w_.bytes({0x44, 0x89, 0xED});                    // mov ebp, r13d
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_ENTER:
      if ((i.ops[1].imm.value.u & 0x1F) != 0) break;  // nesting levels: callout
      e_.store_stack_reg(-4, ZYDIS_REGISTER_EBP, 4);
      e_.adjust_esp(-4);
      w_.bytes({0x44, 0x89, 0xE5});  // mov ebp, r12d
      e_.adjust_esp(-int32_t(op.imm.value.u & 0xFFFF));
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_PUSHFD:
      w_.bytes({0x9C});                          // pushfq
      w_.bytes({0x4C, 0x8B, 0x2C, 0x24});        // mov r13, [rsp]
      w_.bytes({0x41, 0x81, 0xE5});              // and r13d, kHostFlags
      w_.u32(kHostFlags);
      w_.bytes({0x45, 0x0F, 0xB6, 0x77, kOffVif});  // movzx r14d, byte [r15 + vif]
      w_.bytes({0x41, 0xC1, 0xE6, 0x09});        // shl r14d, 9
      w_.bytes({0x45, 0x09, 0xF5});              // or r13d, r14d
      w_.bytes({0x45, 0x0B, 0xAF});              // or r13d, [r15 + eflags_rest]
      w_.u32(uint32_t(offsetof(CpuState, eflags_rest)));
      w_.bytes({0x9D});                          // popfq: the guest's flags again, before
      e_.store_stack_r13(-4, 4);                 // the store that may fault
      e_.adjust_esp(-4);
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_POPFD: {
      // At CPL 3 a callout applies the IOPL rules for IF. At CPL 0 every
      // bit is taken (RF cleared, VM/VIF/VIP kept): inline, then leave if
      // the PIC has a request, since IF may just have been set.
      if ((req_.mode >> Mode::kCplShift) & 3) break;
      constexpr uint32_t kRest = kFlagTf | kFlagIopl | kFlagNt | kFlagAc | kFlagId;
      const uint32_t rest = uint32_t(offsetof(CpuState, eflags_rest));
      e_.load_stack(ZYDIS_REGISTER_R13D, 0, 4);        // the load that may fault
      e_.adjust_esp(4);
      w_.bytes({0x45, 0x89, 0xEE});                    // mov r14d, r13d
      w_.bytes({0x41, 0xC1, 0xEE, 0x09});              // shr r14d, 9
      w_.bytes({0x41, 0x83, 0xE6, 0x01});              // and r14d, 1
      w_.bytes({0x45, 0x88, 0x77, kOffVif});           // mov [r15 + vif], r14b
      w_.bytes({0x45, 0x8B, 0xB7}), w_.u32(rest);      // mov r14d, [r15 + eflags_rest]
      w_.bytes({0x41, 0x81, 0xE6}), w_.u32(~(kRest | kFlagRf));  // and r14d, ~(rest | RF)
      w_.bytes({0x45, 0x89, 0xE8});                    // mov r8d, r13d
      w_.bytes({0x41, 0x81, 0xE0}), w_.u32(kRest);     // and r8d, rest
      w_.bytes({0x45, 0x09, 0xC6});                    // or r14d, r8d
      w_.bytes({0x41, 0x83, 0xCE, 0x02});              // or r14d, 2
      w_.bytes({0x45, 0x89, 0xB7}), w_.u32(rest);      // mov [r15 + eflags_rest], r14d
      w_.bytes({0x41, 0x81, 0xE5}), w_.u32(kHostFlags);  // and r13d, host flags
      w_.bytes({0x41, 0x81, 0xCD}), w_.u32(0x202);     // or r13d, 0x202
      w_.bytes({0x41, 0x55, 0x9D});                    // push r13; popfq
      e_.sync_exit_if_irq_pending(i.next());
      return Flow::kContinue;
    }
    default:
      break;
  }
  // POPF, 16-bit PUSHF, ENTER with nesting levels, POP m with a segment
  // base: none changes the translation mode, and the callout itself leaves
  // when POPF made an interrupt deliverable, so the block goes on.
  callout(i, stack_callout(i.d));
  return Flow::kContinue;
}

}  // namespace tv::bt
