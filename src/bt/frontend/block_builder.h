// The block builder: decodes guest instructions from a translation
// request and emits their translation (translator.cc: the block loop,
// branches, string instructions and the identity rewrite;
// translate_system.cc: stack, SYSENTER/SYSEXIT and other inline forms of
// instructions that would otherwise be callouts). Internal to the bt
// backend; the interface is Translator (translator.h).
#pragma once

#include <Zydis/Zydis.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "base/log.h"
#include "bt/cache/code_cache.h"
#include "bt/emit/emit.h"
#include "bt/emit/vcpu_layout.h"
#include "bt/frontend/callout_table.h"
#include "bt/frontend/fpu_rules.h"
#include "bt/frontend/translator.h"
#include "bt/x86/linear_memory.h"

namespace tv::bt {

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
  BlockBuilder(LinearMemory& mem, CodeCache& cache, const TranslateRequest& req)
      : mem_(mem),
        cache_(cache),
        req_(req),
        w_(req.code.first ? req.code.first : cache.code_cursor(),
           req.code.first ? req.code.second : cache.code_limit()),
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
        emit_raise(
            eip, st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG ? raise_gp_callout() : raise_ud_callout());
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
        log::get("bt")->warn(
            "unimplemented: cannot translate instruction at {:#x} (opcode {:#x}); raising #UD", eip,
            insn.d.opcode);
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
    if (p)
      std::memcpy(out, p, len);
    else
      std::memset(out, 0xFF, len);
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
  bool translate_segment_load(const Insn& i);
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
    if (unchainable_)
      w_.jmp(cache_.miss_stub());  // straight to the dispatcher, target in R13D
    else
      e_.indirect_lookup(jump_cache_offset((req_.mode >> Mode::kCplShift) & 3), cache_.miss_stub());
  }

  // Callouts.
  void callout(const Insn& i, const CalloutInfo& info) {
    auto site = std::make_unique<CalloutSite>();
    site->fn = info.fn;
    site->eip = i.eip;
    site->next_eip = i.next();
    site->kind = info.kind;
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

}  // namespace tv::bt
