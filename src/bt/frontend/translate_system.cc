// Inline translations of system instructions a VMM would otherwise hand
// to C++: SYSENTER/SYSEXIT and segment-register loads (DESIGN.md "BT:
// translation").
#include <vector>

#include "bt/frontend/block_builder.h"

namespace tv::bt {
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
  if (unchainable_ || (req_.mode & need) != need || (req_.mode & Mode::kSegChecks) ||
      cpl != (enter ? 3 : 0) || i.d.operand_width != 32)
    return false;
  auto store_flat = [&](unsigned r, uint16_t attr) {  // selector from R13W
    op32(w_, {0x66, 0x45, 0x89, 0xAF},
         seg_field_off(r, offsetof(Segment, selector)));  // mov [sel], r13w
    op32(w_, {0x66, 0x41, 0xC7, 0x87},
         seg_field_off(r, offsetof(Segment, attr)));  // mov word [attr], imm16
    w_.bytes({uint8_t(attr), uint8_t(attr >> 8)});
    op32(w_, {0x41, 0xC7, 0x87}, seg_field_off(r, offsetof(Segment, base)));  // mov dword [base], 0
    w_.u32(0);
    op32(w_, {0x41, 0xC7, 0x87},
         seg_field_off(r, offsetof(Segment, limit)));  // mov dword [limit], -1
    w_.u32(0xFFFFFFFFu);
  };
  w_.bytes({0x9C});  // pushfq: the guest's flags
  op32(w_, {0x45, 0x0F, 0xB7, 0xAF},
       state_off(offsetof(CpuState, sysenter_cs)));      // movzx r13d, word [sysenter_cs]
  w_.bytes({0x41, 0x81, 0xE5, 0xFC, 0xFF, 0x00, 0x00});  // and r13d, 0xFFFC
  uint8_t* null_cs = w_.jcc(0x4, w_.cur());              // jz: #GP in the callout
  if (enter) {
    store_flat(kCs, 0xC9B);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xC93);
    op32(w_, {0x41, 0xC6, 0x87}, state_off(offsetof(CpuState, cpl))), w_.bytes({0});
    op32(w_, {0x41, 0xC6, 0x87}, state_off(offsetof(CpuState, vif))), w_.bytes({0});
    op32(w_, {0x41, 0x81, 0xA7}, state_off(offsetof(CpuState, eflags_rest)));  // and: VM and RF go
    w_.u32(~(kFlagVm | kFlagRf));
    op32(w_, {0x45, 0x8B, 0xA7},
         state_off(offsetof(CpuState, sysenter_esp)));  // mov r12d, [sysenter_esp]
  } else {
    w_.bytes({0x41, 0x83, 0xC5, 0x10, 0x41, 0x83, 0xCD, 0x03});  // add r13d, 16; or r13d, 3
    store_flat(kCs, 0xCFB);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xCF3);
    op32(w_, {0x41, 0xC6, 0x87}, state_off(offsetof(CpuState, cpl))), w_.bytes({3});
    w_.bytes({0x41, 0x89, 0xCC});  // mov r12d, ecx
  }
  op32(w_, {0x4D, 0x8B, 0xAF},
       state_off(offsetof(CpuState, view_base) + (enter ? 0 : 8)));      // mov r13, [view base]
  w_.bytes({0xF3, 0x49, 0x0F, 0xAE, 0xDD});                              // wrgsbase r13
  op32(w_, {0x4D, 0x89, 0xAF}, state_off(offsetof(CpuState, gs_base)));  // mov [gs_base], r13
  op32(w_, {0x41, 0xC6, 0x87}, state_off(offsetof(CpuState, mode_stale))), w_.bytes({1});
  w_.bytes({0x9D});  // popfq
  if (enter)
    op32(w_, {0x45, 0x8B, 0xAF},
         state_off(offsetof(CpuState, sysenter_eip)));  // mov r13d, [sysenter_eip]
  else
    w_.bytes({0x41, 0x89, 0xD5});  // mov r13d, edx
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
  if ((!pop && i.d.mnemonic != ZYDIS_MNEMONIC_MOV) ||
      i.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
      ZydisRegisterGetClass(i.ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT)
    return false;
  const unsigned s = seg_of(i.ops[0].reg.value);
  const uint32_t need = Mode::kCs32 | Mode::kFlat;
  if ((s != kDs && s != kEs && s != kFs && s != kGs) || !kJumpCacheMixes || unchainable_ ||
      ((req_.mode >> Mode::kCplShift) & 3) != 0 || (req_.mode & need) != need ||
      (req_.mode & Mode::kSegChecks))
    return false;
  const unsigned size = pop ? i.d.operand_width / 8 : 2;
  auto store = [&](bool flat) {  // selector from R13W; attribute from R14W if flat
    op32(w_, {0x66, 0x45, 0x89, 0xAF},
         seg_field_off(s, offsetof(Segment, selector)));  // mov [selector], r13w
    if (flat) {
      op32(w_, {0x66, 0x45, 0x89, 0xB7},
           seg_field_off(s, offsetof(Segment, attr)));  // mov [attr], r14w
    } else {
      op32(w_, {0x66, 0x41, 0xC7, 0x87}, seg_field_off(s, offsetof(Segment, attr))),
          w_.bytes({0, 0});
    }
    op32(w_, {0x41, 0xC7, 0x87}, seg_field_off(s, offsetof(Segment, base))), w_.u32(0);
    op32(w_, {0x41, 0xC7, 0x87}, seg_field_off(s, offsetof(Segment, limit))),
        w_.u32(flat ? 0xFFFFFFFFu : 0);
    // The segment-check data, as derive_segment_checks() would give it.
    op32(w_, {0x41, 0xC7, 0x87}, state_off(offsetof(CpuState, seg_lo) + 4 * s)),
        w_.u32(flat ? 0 : 1);
    op32(w_, {0x41, 0xC7, 0x87}, state_off(offsetof(CpuState, seg_hi) + 4 * s)),
        w_.u32(flat ? 0xFFFFFFFFu : 0);
    op32(w_, {0x41, 0xC6, 0x87}, state_off(offsetof(CpuState, seg_writable) + s)),
        w_.bytes({uint8_t(flat)});
    w_.bytes({0x9D});  // popfq
    if (pop) e_.adjust_esp(int32_t(size));
  };
  std::vector<uint8_t*> to_slow;
  if (pop)
    e_.load_stack(size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D, 0, size);
  else
    e_.load_r13(i.ops[1], seg_, 2);
  w_.bytes({0x45, 0x0F, 0xB7, 0xED});                          // movzx r13d, r13w
  w_.bytes({0x9C});                                            // pushfq
  w_.bytes({0x41, 0xF7, 0xC5, 0xFC, 0xFF, 0x00, 0x00});        // test r13d, 0xFFFC
  uint8_t* to_null = w_.jcc(0x4, w_.cur());                    // jz null
  w_.bytes({0x41, 0xF7, 0xC5, 0x04, 0x00, 0x00, 0x00});        // test r13d, 4 (the LDT)
  to_slow.push_back(w_.jcc(0x5, w_.cur()));                    // jnz slow
  w_.bytes({0xC4, 0x43, 0x7B, 0xF0, 0xF5, 0x03});              // rorx r14d, r13d, 3
  w_.bytes({0x45, 0x0F, 0xB7, 0xF6});                          // movzx r14d, r14w: the index
  w_.bytes({0x46, 0x8D, 0x04, 0xF5, 0x07, 0x00, 0x00, 0x00});  // lea r8d, [r14*8 + 7]
  op32(w_, {0x66, 0x45, 0x3B, 0x87},
       state_off(offsetof(CpuState, gdtr) + offsetof(TableReg, limit)));  // cmp r8w, limit
  to_slow.push_back(w_.jcc(0x7, w_.cur()));                               // ja slow
  w_.bytes({0x9D});  // popfq: the read may fault
  op32(w_, {0x45, 0x8B, 0x87},
       state_off(offsetof(CpuState, gdtr) + offsetof(TableReg, base)));  // mov r8d, gdt base
  w_.bytes({0x47, 0x8D, 0x04, 0xF0});                                    // lea r8d, [r8 + r14*8]
  w_.bytes({0x65, 0x67, 0x4D, 0x8B, 0x00});  // mov r8, gs:[r8d]: the descriptor
  w_.bytes({0x9C});                          // pushfq
  std::vector<uint8_t*> to_match;
  for (unsigned k = 0; k < 4; ++k) {
    op32(w_, {0x4D, 0x3B, 0x87},
         state_off(offsetof(CpuState, flat_data) + 8 * k));  // cmp r8, [flat_data + k]
    to_match.push_back(w_.jcc(0x4, w_.cur()));               // je match
  }
  to_slow.push_back(w_.jmp(w_.cur()));
  for (uint8_t* j : to_match)
    if (w_.ok()) CodeWriter::patch_rel32(j, w_.cur());
  w_.bytes({0x4D, 0x89, 0xC6, 0x49, 0xC1, 0xEE, 0x28});  // mov r14, r8; shr r14, 40
  w_.bytes({0x41, 0x81, 0xE6, 0xFF, 0x00, 0x00, 0x00});  // and r14d, 0xFF: type, S, DPL, P
  w_.bytes(
      {0x49, 0xC1, 0xE8, 0x34, 0x41, 0x83, 0xE0, 0x0F});  // shr r8, 52; and r8d, 15: AVL, L, D/B, G
  w_.bytes({0x41, 0xC1, 0xE0, 0x08, 0x45, 0x09, 0xC6});   // shl r8d, 8; or r14d, r8d: the attribute
  w_.bytes({0x45, 0x89, 0xF0, 0x41, 0xC1, 0xE8, 0x05});   // mov r8d, r14d; shr r8d, 5
  w_.bytes({0x41, 0x83, 0xE0, 0x03});                     // and r8d, 3: DPL
  w_.bytes({0x41, 0x55, 0x41, 0x83, 0xE5, 0x03});         // push r13; and r13d, 3: RPL
  w_.bytes({0x45, 0x39, 0xC5, 0x41, 0x5D});               // cmp r13d, r8d; pop r13
  to_slow.push_back(w_.jcc(0x7, w_.cur()));               // ja slow: RPL > DPL
  store(true);
  uint8_t* done1 = w_.jmp(w_.cur());
  uint8_t* done2 = nullptr;
  if (s == kFs || s == kGs) {
    if (w_.ok()) CodeWriter::patch_rel32(to_null, w_.cur());
    store(false);
    done2 = w_.jmp(w_.cur());
  } else {
    to_slow.push_back(to_null);  // a null DS/ES changes the mode: its use must fault
  }
  for (uint8_t* j : to_slow)
    if (w_.ok()) CodeWriter::patch_rel32(j, w_.cur());
  w_.bytes({0x9D});  // popfq
  callout(i, *find_callout(i.d, i.ops));
  if (w_.ok()) {
    CodeWriter::patch_rel32(done1, w_.cur());
    if (done2) CodeWriter::patch_rel32(done2, w_.cur());
  }
  return true;
}

}  // namespace tv::bt
