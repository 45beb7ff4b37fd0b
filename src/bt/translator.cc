// Block formation and per-instruction translation. A block ends at a
// control transfer, at an instruction that changes the translation mode or
// needs the dispatcher (interrupt window), at a guest page boundary, or
// after kMaxInsns instructions. Every block starts with the exit-gate check.
#include "bt/translator.h"

#include <fmt/format.h>

#include <chrono>
#include <algorithm>
#include <cstring>

#include "bt/callouts.h"
#include "bt/emit.h"
#include "bt/fpu_rules.h"
#include "bt/runtime.h"
#include "bt/vcpu_area.h"
#include "vmm/log.h"

namespace tv::bt {

namespace {

constexpr unsigned kMaxInsns = 64;

struct Insn {
  uint32_t eip;
  ZydisDecodedInstruction d;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  uint32_t next() const { return eip + d.length; }
};

// What the instruction did to the block.
enum class Flow { kContinue, kEnd };

class BlockBuilder {
 public:
  BlockBuilder(BtRuntime& rt, LinearMemory& mem, CodeCache& cache, const TranslateRequest& req)
      : rt_(rt), mem_(mem), cache_(cache), req_(req),
        w_(req.code.first ? req.code.first : cache.code_cursor(), req.code.first ? req.code.second : cache.code_limit()),
        e_{w_} {
    ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    block_ = std::make_unique<Block>();
    block_->eip = req.eip;
    block_->mode = req.mode;
    block_->host = w_.cur();
    seg_ = (req.mode & Mode::kFlat) ? SegMode::kFlat : SegMode::kRuntime;
  }

  std::unique_ptr<Block> build(uint8_t** code_end) {
    block_->phys = mem_.translate(req_.cs_base + req_.eip, Access::kRead).value;
    block_->pages[0] = block_->phys & ~0xFFFull;
    e_.gate_check();
    if (req_.profile) e_.count(&block_->exec_count);
    uint32_t eip = req_.eip;
    bool sti_pending = false;
    for (unsigned n = 0;; ++n) {
      Insn insn;
      ZyanStatus st;
      if (!decode_or_end(n, eip, insn, st)) break;
      if (!ZYAN_SUCCESS(st)) {
        // More than 15 bytes is #GP(0) (SDM Vol. 2A 2.3.11); anything else #UD.
        emit_raise(eip, st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG ? raise_gp_callout() : raise_ud_callout());
        break;
      }
      block_->insn_map.push_back({uint32_t(w_.size()), eip});
      ++block_->insn_count;
      uint8_t* insn_start = w_.cur();
      unsigned exits = block_->num_exits;
      w_.reset_encode_failed();
      // The instruction in STI's shadow leaves through the dispatcher, which
      // then delivers what became deliverable (Linux: "sti; ret"), if the
      // PIC has a request; its exits check that first.
      unchainable_ = req_.single_instruction;
      sti_shadow_ = sti_pending;
      Flow flow = translate(insn);
      if (w_.encode_failed()) {
        // Something in the rewrite had no encoding: drop it and raise #UD
        // there, rather than run a partial translation.
        log::get("bt")->warn("unimplemented: cannot translate instruction at {:#x} (opcode {:#x}); raising #UD",
                             eip, insn.d.opcode);
        w_.rewind(insn_start);
        block_->num_exits = exits;
        block_->insn_map.pop_back();
        emit_raise(eip, raise_ud_callout());
        break;
      }
      eip = insn.next();
      if (flow == Flow::kEnd) break;
      if (unchainable_) {
        e_.sync_exit(eip);
        break;
      }
      if (sti_shadow_) e_.sync_exit_if_irq_pending(eip);
      sti_pending = is_sti(insn);
      if (sti_pending) continue;
      bool page_end = (((req_.cs_base + eip) ^ (req_.cs_base + req_.eip)) & ~0xFFFu) != 0;
      if (page_end || n + 1 >= kMaxInsns) {
        direct_exit(eip);
        break;
      }
    }
    block_->guest_len = eip - req_.eip;
    emit_stubs();
    if (!w_.ok()) return nullptr;
    block_->host_len = uint32_t(w_.size());
    *code_end = w_.cur();
    return std::move(block_);
  }

 private:
  static bool is_sti(const Insn& i) { return i.d.mnemonic == ZYDIS_MNEMONIC_STI; }

  // Copies `len` code bytes at linear `lin` (within one page) into `out`;
  // bytes outside RAM read as 0xFF (open bus). Returns the frame.
  uint64_t fetch(uint32_t lin, uint8_t* out, uint32_t len) {
    uint64_t phys = mem_.translate(lin, Access::kRead).value;
    const uint8_t* p = mem_.ram().host(GuestPhys{phys}, len);
    if (p) std::memcpy(out, p, len);
    else std::memset(out, 0xFF, len);
    return phys & ~0xFFFull;
  }

  // Decodes instruction `n` of the block at `eip`. If a later instruction
  // cannot be fetched (#PF, outside RAM), the block ends before it with a
  // direct exit, so that the fault is raised when that instruction starts
  // a block, with its own EIP; CR2 is left as it was. Returns false then.
  bool decode_or_end(unsigned n, uint32_t eip, Insn& insn, ZyanStatus& st) {
    if (n == 0) {
      st = decode(eip, insn);
      return true;
    }
    uint32_t cr2 = mem_.cpu().cr2;
    try {
      st = decode(eip, insn);
      return true;
    } catch (const GuestFault&) {
      mem_.cpu().cr2 = cr2;
    } catch (const FetchError&) {
    }
    direct_exit(eip);
    return false;
  }

  // Decodes one instruction. The next page is only touched (and may only
  // raise #PF) if the instruction really extends into it.
  ZyanStatus decode(uint32_t eip, Insn& insn) {
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
    uint32_t lin = req_.cs_base + eip;
    uint32_t n = std::min<uint32_t>(sizeof buf, 0x1000 - (lin & 0xFFF));
    uint64_t frame = fetch(lin, buf, n);
    if (frame >= mem_.ram().size()) throw FetchError{eip};
    if (frame != block_->pages[0]) block_->pages[1] = frame;  // after STI at a page end
    insn.eip = eip;
    ZyanStatus st = ZydisDecoderDecodeFull(&decoder_, buf, n, &insn.d, insn.ops);
    if (st == ZYDIS_STATUS_NO_MORE_DATA && n < sizeof buf) {
      uint64_t next = fetch(lin + n, buf + n, uint32_t(sizeof buf) - n);
      st = ZydisDecoderDecodeFull(&decoder_, buf, sizeof buf, &insn.d, insn.ops);
      if (ZYAN_SUCCESS(st) && next != block_->pages[0]) block_->pages[1] = next;
    }
    if (ZYAN_SUCCESS(st)) std::memcpy(insn.bytes, buf, insn.d.length);
    return st;
  }

  Flow translate(const Insn& i);
  bool translate_string(const Insn& i);
  Flow translate_branch(const Insn& i);
  Flow translate_stack(const Insn& i);
  bool translate_push_pop_all(const Insn& i);
  bool translate_sysenter(const Insn& i);
  bool translate_ident(const Insn& i);
  void emit_segment_check(const Insn& i, unsigned seg, unsigned size, bool write);
  bool ident_high_byte_fallback(ZydisEncoderRequest req);

  // Exits.
  // A slot jumped to straight from a branch (a taken JCC) stays unchained
  // in STI's shadow; direct_exit() checks for a request first and chains.
  ExitSlot* new_slot(uint32_t target, bool checked = false) {
    ExitSlot& s = block_->exits[block_->num_exits++];
    s.target_eip = target;
    s.block = block_.get();
    s.chainable = !unchainable_ && (checked || !sti_shadow_);
    return &s;
  }
  void direct_exit(uint32_t target) {
    if (sti_shadow_) e_.sync_exit_if_irq_pending(target);
    ExitSlot* s = new_slot(target, true);
    s->jmp_field = w_.jmp(w_.cur());  // patched to the stub in emit_stubs()
  }
  void emit_stubs() {
    for (unsigned k = 0; k < block_->num_exits; ++k) {
      ExitSlot& s = block_->exits[k];
      s.stub = w_.cur();
      e_.store_eip(s.target_eip);
      e_.mov_r14_imm64(reinterpret_cast<uint64_t>(&s));
      e_.store_r14_exit_slot();
      e_.jmp_exit_thunk();
      if (w_.ok()) CodeWriter::patch_rel32(s.jmp_field, s.stub);
    }
  }
  void indirect_exit() {
    if (sti_shadow_) e_.jmp_if_irq_pending(cache_.miss_stub());
    if (unchainable_) w_.jmp(cache_.miss_stub());  // straight to the dispatcher, target in R13D
    else e_.indirect_lookup(jump_cache_offset((req_.mode >> Mode::kCplShift) & 3), cache_.miss_stub());
  }

  // Callouts.
  void callout(const Insn& i, const CalloutInfo& info) {
    auto site = std::make_unique<CalloutSite>();
    site->fn = info.fn;
    site->runtime = &rt_;
    site->eip = i.eip;
    site->next_eip = i.next();
    site->name = info.name;
    site->count = &rt_.stats().callouts[info.name];  // map nodes do not move
    site->insn = i.d;
    std::memcpy(site->ops, i.ops, sizeof i.ops);
    e_.mov_r14_imm64(reinterpret_cast<uint64_t>(site.get()));
    e_.call_callout_thunk();
    x87_marked_ = false;  // a full-save callout clears cpu.x87_dirty
    sse_live_ = false;    // and any callout leaves the SSE registers in the image
    block_->callouts.push_back(std::move(site));
  }
  void emit_raise(uint32_t eip, const CalloutInfo& info) {
    Insn fake{};
    fake.eip = eip;
    block_->insn_map.push_back({uint32_t(w_.size()), eip});
    callout(fake, info);
    e_.sync_exit(eip);
  }

  BtRuntime& rt_;
  LinearMemory& mem_;
  CodeCache& cache_;
  const TranslateRequest& req_;
  CodeWriter w_;
  Emit e_;
  SegMode seg_;
  bool unchainable_ = false;  // exits of the current instruction go to the dispatcher
  bool sti_shadow_ = false;   // the current instruction is in STI's shadow
  bool x87_marked_ = false;   // this block already set cpu.x87_dirty
  bool sse_live_ = false;     // this block already made the guest's SSE registers live
  ZydisDecoder decoder_;
  std::unique_ptr<Block> block_;
};

Flow BlockBuilder::translate(const Insn& i) {
  if (!x87_marked_ && touches_x87(i.d, i.ops)) {
    e_.mark_x87_dirty();
    x87_marked_ = true;
  }
  if (!sse_live_ && touches_sse(i.d, i.ops)) {
    e_.ensure_sse_live();
    sse_live_ = true;
  }
  if (uint8_t vector = fpu_trap(i.d, req_.mode)) {
    callout(i, vector == kNM ? raise_nm_callout() : raise_ud_callout());
    e_.sync_exit(i.eip);
    return Flow::kEnd;
  }
  if (translate_string(i)) return Flow::kContinue;
  if (i.d.mnemonic == ZYDIS_MNEMONIC_ENDBR32 || i.d.mnemonic == ZYDIS_MNEMONIC_ENDBR64)
    return Flow::kContinue;  // a NOP without CET
  if (translate_push_pop_all(i)) return Flow::kContinue;
  if (translate_sysenter(i)) return Flow::kEnd;
  if (const CalloutInfo* info = find_callout(i.d, i.ops)) {
    callout(i, *info);
    if (!info->ends_block) return Flow::kContinue;
    e_.sync_exit(i.next());  // not reached when the handler exits, as it does
    return Flow::kEnd;
  }
  switch (i.d.mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
      if (req_.mode >> Mode::kCplShift & 3) {
        callout(i, cli_sti_callout());
      } else {
        e_.set_vif(i.d.mnemonic == ZYDIS_MNEMONIC_STI ? 1 : 0);
      }
      return Flow::kContinue;
    default:
      break;
  }
  if (i.d.meta.category == ZYDIS_CATEGORY_COND_BR || i.d.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
      i.d.meta.category == ZYDIS_CATEGORY_CALL || i.d.meta.category == ZYDIS_CATEGORY_RET)
    return translate_branch(i);
  if (i.d.meta.category == ZYDIS_CATEGORY_PUSH || i.d.meta.category == ZYDIS_CATEGORY_POP ||
      i.d.mnemonic == ZYDIS_MNEMONIC_LEAVE || i.d.mnemonic == ZYDIS_MNEMONIC_ENTER ||
      i.d.mnemonic == ZYDIS_MNEMONIC_PUSHFD || i.d.mnemonic == ZYDIS_MNEMONIC_POPFD)
    return translate_stack(i);
  if (!translate_ident(i)) w_.mark_encode_failed();  // build() rewinds and raises #UD
  return Flow::kContinue;
}

// MOVS/STOS/LODS/CMPS/SCAS with flat segments run natively on 64-bit host
// pointers: RSI/RDI = window base + ESI/EDI (the window is 4 GiB-aligned, so
// `mov esi, esi` afterwards gives the guest registers back, and a fault in
// the middle leaves them precise in the low halves; RCX counts as usual).
// The guest bytes are copied as they are: 64-bit mode ignores the CS/DS/
// ES/SS prefixes flat mode allows, and 32-bit code has no REX bytes.
bool BlockBuilder::translate_string(const Insn& i) {
  bool maskmov = i.d.mnemonic == ZYDIS_MNEMONIC_MASKMOVQ || i.d.mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU;
  if ((i.d.meta.category != ZYDIS_CATEGORY_STRINGOP && !maskmov) || seg_ != SegMode::kFlat ||
      i.d.address_width != 32)
    return false;
  bool uses_esi = false, uses_edi = false;
  for (unsigned k = 0; k < i.d.operand_count; ++k) {
    const auto& op = i.ops[k];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS) return false;
    uses_esi |= op.mem.base == ZYDIS_REGISTER_ESI;
    uses_edi |= op.mem.base == ZYDIS_REGISTER_EDI;
  }
  if (i.d.attributes & ZYDIS_ATTRIB_HAS_LOCK) return false;
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  mem_.copy_in(req_.cs_base + i.eip, bytes, i.d.length);
  e_.on_window_pointers(bytes, i.d.length, uses_esi, uses_edi);
  return true;
}

uint32_t branch_target(const Insn& i) {
  uint64_t target = 0;
  ZydisCalcAbsoluteAddress(&i.d, &i.ops[0], i.eip, &target);
  uint32_t t = uint32_t(target);
  return i.d.operand_width == 16 ? (t & 0xFFFF) : t;
}

Flow BlockBuilder::translate_branch(const Insn& i) {
  const ZydisDecodedOperand& op = i.ops[0];
  bool direct = op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative;
  switch (i.d.mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
      if (direct) {
        direct_exit(branch_target(i));
      } else {
        if (!e_.load_r13(op, seg_, i.d.operand_width / 8)) return Flow::kEnd;
        indirect_exit();
      }
      return Flow::kEnd;
    case ZYDIS_MNEMONIC_CALL: {
      unsigned size = i.d.operand_width / 8;
      if (!direct) e_.load_r13(op, seg_, size);
      e_.store_stack_imm(-int32_t(size), i.next(), size);
      e_.adjust_esp(-int32_t(size));
      if (direct) direct_exit(branch_target(i));
      else indirect_exit();
      return Flow::kEnd;
    }
    case ZYDIS_MNEMONIC_RET: {
      unsigned size = i.d.operand_width / 8;
      int32_t extra = i.d.operand_count_visible > 0 ? int32_t(op.imm.value.u & 0xFFFF) : 0;
      e_.load_stack(size == 4 ? ZYDIS_REGISTER_R13D : ZYDIS_REGISTER_R13W, 0, size);
      if (size == 2) w_.bytes({0x45, 0x0F, 0xB7, 0xED});  // movzx r13d, r13w
      e_.adjust_esp(int32_t(size) + extra);
      indirect_exit();
      return Flow::kEnd;
    }
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE: {
      // Re-executed as is with addr32 (ECX), skipping over two exit jumps.
      uint8_t opc = uint8_t(i.d.opcode);
      bool cx = i.d.address_width == 16;
      if (cx) w_.bytes({uint8_t(opc), 0x02});  // no 0x67: RCX; only the low 16 bits were asked for
      else w_.bytes({0x67, uint8_t(opc), 0x02});
      w_.bytes({0xEB, 0x05});
      ExitSlot* taken = new_slot(branch_target(i));
      taken->jmp_field = w_.jmp(w_.cur());
      direct_exit(i.next());
      return Flow::kEnd;
    }
    default:
      break;
  }
  if (i.d.meta.category == ZYDIS_CATEGORY_COND_BR && direct) {
    ExitSlot* taken = new_slot(branch_target(i));
    taken->jmp_field = w_.jcc(i.d.opcode & 0x0F, w_.cur());
    // Keep translating the fall-through path in this block while a slot
    // is left for the block's final exit (the loop ends it at a page end).
    if (!unchainable_ && block_->num_exits + 2 <= Block::kMaxExits) return Flow::kContinue;
    direct_exit(i.next());
    return Flow::kEnd;
  }
  // Far forms are callouts (find_callout); anything else is unexpected.
  emit_raise(i.eip, raise_ud_callout());
  return Flow::kEnd;
}

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
  auto off = [](size_t o) { return uint32_t(o); };
  auto seg = [&](unsigned r, size_t field) { return off(offsetof(CpuState, seg) + r * sizeof(Segment) + field); };
  auto op32 = [&](std::initializer_list<uint8_t> b, uint32_t o) { w_.bytes(b), w_.u32(o); };
  auto store_flat = [&](unsigned r, uint16_t attr) {  // selector from R13W
    op32({0x66, 0x45, 0x89, 0xAF}, seg(r, offsetof(Segment, selector)));  // mov [sel], r13w
    op32({0x66, 0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, attr)));      // mov word [attr], imm16
    w_.bytes({uint8_t(attr), uint8_t(attr >> 8)});
    op32({0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, base)));  // mov dword [base], 0
    w_.u32(0);
    op32({0x41, 0xC7, 0x87}, seg(r, offsetof(Segment, limit)));  // mov dword [limit], -1
    w_.u32(0xFFFFFFFFu);
  };
  w_.bytes({0x9C});                                                     // pushfq: the guest's flags
  op32({0x45, 0x0F, 0xB7, 0xAF}, off(offsetof(CpuState, sysenter_cs)));  // movzx r13d, word [sysenter_cs]
  w_.bytes({0x41, 0x81, 0xE5, 0xFC, 0xFF, 0x00, 0x00});                // and r13d, 0xFFFC
  uint8_t* null_cs = w_.jcc(0x4, w_.cur());                             // jz: #GP in the callout
  if (enter) {
    store_flat(kCs, 0xC9B);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xC93);
    op32({0x41, 0xC6, 0x87}, off(offsetof(CpuState, cpl))), w_.bytes({0});
    op32({0x41, 0xC6, 0x87}, off(offsetof(CpuState, vif))), w_.bytes({0});
    op32({0x41, 0x81, 0xA7}, off(offsetof(CpuState, eflags_rest)));  // and: VM and RF go
    w_.u32(~(kFlagVm | kFlagRf));
    op32({0x45, 0x8B, 0xA7}, off(offsetof(CpuState, sysenter_esp)));  // mov r12d, [sysenter_esp]
  } else {
    w_.bytes({0x41, 0x83, 0xC5, 0x10, 0x41, 0x83, 0xCD, 0x03});  // add r13d, 16; or r13d, 3
    store_flat(kCs, 0xCFB);
    w_.bytes({0x41, 0x83, 0xC5, 0x08});  // add r13d, 8
    store_flat(kSs, 0xCF3);
    op32({0x41, 0xC6, 0x87}, off(offsetof(CpuState, cpl))), w_.bytes({3});
    w_.bytes({0x41, 0x89, 0xCC});  // mov r12d, ecx
  }
  op32({0x4D, 0x8B, 0xAF}, off(offsetof(CpuState, view_base) + (enter ? 0 : 8)));  // mov r13, [view base]
  w_.bytes({0xF3, 0x49, 0x0F, 0xAE, 0xDD});                                        // wrgsbase r13
  op32({0x4D, 0x89, 0xAF}, off(offsetof(CpuState, gs_base)));                      // mov [gs_base], r13
  op32({0x41, 0xC6, 0x87}, off(offsetof(CpuState, mode_stale))), w_.bytes({1});
  w_.bytes({0x9D});  // popfq
  if (enter) op32({0x45, 0x8B, 0xAF}, off(offsetof(CpuState, sysenter_eip)));  // mov r13d, [sysenter_eip]
  else w_.bytes({0x41, 0x89, 0xD5});                                            // mov r13d, edx
  if (sti_shadow_) e_.jmp_if_irq_pending(cache_.miss_stub());
  e_.indirect_lookup(jump_cache_offset(enter ? 0 : 3), cache_.miss_stub());
  if (w_.ok()) CodeWriter::patch_rel32(null_cs, w_.cur());
  w_.bytes({0x9D});  // popfq
  callout(i, *find_callout(i.d, i.ops));
  e_.sync_exit(i.next());  // not reached: the handler raises #GP
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

// An instruction of registers and immediates only, none of them ESP, means
// the same in 64-bit mode (the guest's registers are the host's): its bytes
// are copied, no re-encoding. Not so: the one-byte INC/DEC (REX there),
// opcodes 64-bit mode lacks or reads otherwise (ARPL/MOVSXD, 0x82, SALC,
// push/pop of segments, BCD, PUSHA, BOUND, LES/LDS (VEX), far branches,
// INTO), and F3 0F BC/BD, which the host would run as TZCNT/LZCNT.
bool copies_as_is(const Insn& i) {
  for (unsigned k = 0; k < i.d.operand_count; ++k) {
    const ZydisDecodedOperand& op = i.ops[k];
    if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) continue;
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
    if (op.reg.value == ZYDIS_REGISTER_ESP || op.reg.value == ZYDIS_REGISTER_SP) return false;
  }
  if (i.d.mnemonic == ZYDIS_MNEMONIC_TZCNT || i.d.mnemonic == ZYDIS_MNEMONIC_LZCNT) return false;
  if (i.d.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return true;
  switch (i.d.opcode) {
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F: case 0x27:
    case 0x2F: case 0x37: case 0x3F: case 0x60: case 0x61: case 0x62: case 0x63: case 0x82:
    case 0x9A: case 0xC4: case 0xC5: case 0xCE: case 0xD4: case 0xD5: case 0xD6: case 0xEA:
      return false;
    default:
      return i.d.opcode < 0x40 || i.d.opcode > 0x4F;
  }
}

bool BlockBuilder::translate_ident(const Insn& i) {
  if (copies_as_is(i)) {
    w_.raw(i.bytes, i.d.length);
    return true;
  }
  ZydisEncoderRequest req;
  if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&i.d, i.ops, i.d.operand_count_visible,
                                                                     &req)))
    return false;
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  // Without BMI1/ABM in the CPUID profile, F3 0F BC/BD are REP BSF/BSR.
  if (req.mnemonic == ZYDIS_MNEMONIC_TZCNT || req.mnemonic == ZYDIS_MNEMONIC_LZCNT) {
    req.mnemonic = req.mnemonic == ZYDIS_MNEMONIC_TZCNT ? ZYDIS_MNEMONIC_BSF : ZYDIS_MNEMONIC_BSR;
    req.prefixes &= ~ZyanU64(ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
  }
  constexpr ZyanU64 kSegPrefixes = ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                                   ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
                                   ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS;
  req.prefixes &= ~kSegPrefixes;
  bool is_lea = i.d.mnemonic == ZYDIS_MNEMONIC_LEA;
  // A hidden memory operand would not get the window prefix: only XLAT's
  // is handled here (string-like instructions go through translate_string).
  for (unsigned k = i.d.operand_count_visible; k < i.d.operand_count; ++k)
    if (i.ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY && i.d.mnemonic != ZYDIS_MNEMONIC_XLAT &&
        i.ops[k].mem.type == ZYDIS_MEMOP_TYPE_MEM)
      return false;
  for (unsigned k = 0; k < req.operand_count; ++k) {
    ZydisEncoderOperand& o = req.operands[k];
    const ZydisDecodedOperand& d = i.ops[k];
    if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) {
      o.reg.value = host_reg(o.reg.value);
    } else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY && is_lea) {
      o.mem.base = host_reg(o.mem.base);
      o.mem.index = host_reg(o.mem.index);
    } else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      unsigned seg_index = segment_index(d.mem.segment);
      bool runtime = seg_ == SegMode::kRuntime || seg_index == kFs || seg_index == kGs;
      if (runtime) {
        if (!emit_offset(e_, d)) return false;
        if (req_.mode & Mode::kSegChecks)
          emit_segment_check(i, seg_index, d.size / 8, d.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE);
        emit_add_base(e_, seg_index);
      }
      uint16_t size = o.mem.size;
      window_mem(d, runtime ? SegMode::kRuntime : SegMode::kFlat, o, size);
      req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
    }
  }
  if (i.d.mnemonic == ZYDIS_MNEMONIC_XLAT) {
    // The memory operand is implicit (DS:[EBX+AL]) and not in the request.
    w_.bytes({0x65, 0x67, 0xD7});
    return seg_ == SegMode::kFlat;
  }
  if (e_.encode_mem(req)) return true;
  if (!ident_high_byte_fallback(req)) return false;
  w_.reset_encode_failed();
  return true;
}

// Limit and type check of the offset in R13D (Emit::segment_check); the
// failure path raises #GP(0), or #SS(0) for SS, at this instruction.
void BlockBuilder::emit_segment_check(const Insn& i, unsigned seg, unsigned size, bool write) {
  uint8_t* done = e_.segment_check(seg, size, write);
  callout(i, seg == kSs ? raise_ss_callout() : raise_gp_callout());
  if (w_.ok()) CodeWriter::patch_rel32(done, w_.cur());
}

// AH/CH/DH/BH cannot be encoded with a REX prefix, which R12D (ESP) and
// R13D (a runtime-segment address) need. Such an instruction works on R14B
// instead, moved in and out through the red zone below the host RSP (the
// kernel leaves 128 bytes there untouched by signal frames). Only moves.
bool BlockBuilder::ident_high_byte_fallback(ZydisEncoderRequest req) {
  for (unsigned k = 0; k < req.operand_count; ++k) {
    ZydisEncoderOperand& o = req.operands[k];
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || !is_high_byte(o.reg.value)) continue;
    static const uint8_t kFull[] = {0x44, 0x4C, 0x54, 0x5C};  // ModRM reg field for eax..ebx, [rsp+disp8]
    unsigned idx = unsigned(o.reg.value - ZYDIS_REGISTER_AH);
    uint8_t modrm = kFull[idx];
    w_.bytes({0x89, modrm, 0x24, 0xF8});          // mov [rsp-8], e?x
    w_.bytes({0x44, 0x0F, 0xB6, 0x74, 0x24, 0xF9});  // movzx r14d, byte [rsp-7]
    o.reg.value = ZYDIS_REGISTER_R14B;
    if (!e_.encode_mem(req)) return false;
    w_.bytes({0x44, 0x88, 0x74, 0x24, 0xF9});     // mov [rsp-7], r14b
    w_.bytes({0x8B, modrm, 0x24, 0xF8});          // mov e?x, [rsp-8]
    return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Block> Translator::translate(const TranslateRequest& request, uint8_t** code_end) {
  auto start = std::chrono::steady_clock::now();
  BlockBuilder builder(runtime_, memory_, cache_, request);
  auto block = builder.build(code_end);
  if (!block) return nullptr;
  stats_.blocks_translated++;
  stats_.guest_insns_translated += block->insn_count;
  stats_.guest_bytes_translated += block->guest_len;
  stats_.host_bytes += block->host_len;
  stats_.translate_ns += uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count());
  return block;
}

}  // namespace tv::bt
