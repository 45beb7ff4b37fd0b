// Inline translations of the stack forms (PUSH/POP, PUSHAD/POPAD, PUSH
// sreg, LEAVE/ENTER, PUSHFD/POPFD): the implicit stack through R12D, store
// first and ESP last, so a fault leaves no partial state (DESIGN.md "BT:
// translation").
#include <vector>

#include "bt/frontend/block_builder.h"

namespace tv::bt {
// PUSHAD, POPAD and PUSH sreg, inline (interrupt entry stubs are full of
// them). ESP moves last, so a faulting access restarts the instruction
// with nothing changed but the bytes below ESP; POPAD reads its last and
// first slots before it writes a register, so the rest cannot fault.
bool BlockBuilder::translate_push_pop_all(const Insn& i) {
  static constexpr ZydisRegister kPushOrder[8] = {
      ZYDIS_REGISTER_EAX,  ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
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
        if (k != 4 && k != 0)
          e_.load_stack(kPushOrder[k], 4 * (7 - k), 4);  // the ESP slot is skipped
      w_.bytes({0x44, 0x89, 0xE8});                      // mov eax, r13d
      e_.adjust_esp(32);
      return true;
    case ZYDIS_MNEMONIC_PUSH: {
      if (i.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
          ZydisRegisterGetClass(i.ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT)
        return false;
      unsigned seg = seg_of(i.ops[0].reg.value);
      unsigned size = i.d.operand_width / 8;
      w_.bytes({0x45, 0x0F, 0xB7, 0xAF});  // movzx r13d, word [r15 + selector]
      w_.u32(
          uint32_t(offsetof(CpuState, seg) + seg * sizeof(Segment) + offsetof(Segment, selector)));
      e_.store_stack_r13(-int32_t(size), size);
      e_.adjust_esp(-int32_t(size));
      return true;
    }
    default: return false;
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
      if (seg_ == SegMode::kRuntime || op.mem.segment == ZYDIS_REGISTER_FS ||
          op.mem.segment == ZYDIS_REGISTER_GS)
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
      w_.bytes({0x9C});                    // pushfq
      w_.bytes({0x4C, 0x8B, 0x2C, 0x24});  // mov r13, [rsp]
      w_.bytes({0x41, 0x81, 0xE5});        // and r13d, kHostFlags
      w_.u32(kHostFlags);
      w_.bytes({0x45, 0x0F, 0xB6, 0x77, kOffVif});  // movzx r14d, byte [r15 + vif]
      w_.bytes({0x41, 0xC1, 0xE6, 0x09});           // shl r14d, 9
      w_.bytes({0x45, 0x09, 0xF5});                 // or r13d, r14d
      w_.bytes({0x45, 0x0B, 0xAF});                 // or r13d, [r15 + eflags_rest]
      w_.u32(uint32_t(offsetof(CpuState, eflags_rest)));
      w_.bytes({0x9D});           // popfq: the guest's flags again, before
      e_.store_stack_r13(-4, 4);  // the store that may fault
      e_.adjust_esp(-4);
      return Flow::kContinue;
    case ZYDIS_MNEMONIC_POPFD: {
      // At CPL 3 a callout applies the IOPL rules for IF. At CPL 0 every
      // bit is taken (RF cleared, VM/VIF/VIP kept): inline, then leave if
      // the PIC has a request, since IF may just have been set.
      if ((req_.mode >> Mode::kCplShift) & 3) break;
      constexpr uint32_t kRest = kFlagTf | kFlagIopl | kFlagNt | kFlagAc | kFlagId;
      const uint32_t rest = uint32_t(offsetof(CpuState, eflags_rest));
      e_.load_stack(ZYDIS_REGISTER_R13D, 0, 4);  // the load that may fault
      e_.adjust_esp(4);
      w_.bytes({0x45, 0x89, 0xEE});                              // mov r14d, r13d
      w_.bytes({0x41, 0xC1, 0xEE, 0x09});                        // shr r14d, 9
      w_.bytes({0x41, 0x83, 0xE6, 0x01});                        // and r14d, 1
      w_.bytes({0x45, 0x88, 0x77, kOffVif});                     // mov [r15 + vif], r14b
      w_.bytes({0x45, 0x8B, 0xB7}), w_.u32(rest);                // mov r14d, [r15 + eflags_rest]
      w_.bytes({0x41, 0x81, 0xE6}), w_.u32(~(kRest | kFlagRf));  // and r14d, ~(rest | RF)
      w_.bytes({0x45, 0x89, 0xE8});                              // mov r8d, r13d
      w_.bytes({0x41, 0x81, 0xE0}), w_.u32(kRest);               // and r8d, rest
      w_.bytes({0x45, 0x09, 0xC6});                              // or r14d, r8d
      w_.bytes({0x41, 0x83, 0xCE, 0x02});                        // or r14d, 2
      w_.bytes({0x45, 0x89, 0xB7}), w_.u32(rest);                // mov [r15 + eflags_rest], r14d
      w_.bytes({0x41, 0x81, 0xE5}), w_.u32(kHostFlags);          // and r13d, host flags
      w_.bytes({0x41, 0x81, 0xCD}), w_.u32(0x202);               // or r13d, 0x202
      w_.bytes({0x41, 0x55, 0x9D});                              // push r13; popfq
      e_.sync_exit_if_irq_pending(i.next());
      return Flow::kContinue;
    }
    default: break;
  }
  // POPF, 16-bit PUSHF, ENTER with nesting levels, POP m with a segment
  // base: none changes the translation mode, and the callout itself leaves
  // when POPF made an interrupt deliverable, so the block goes on.
  callout(i, stack_callout(i.d));
  return Flow::kContinue;
}

}  // namespace tv::bt
