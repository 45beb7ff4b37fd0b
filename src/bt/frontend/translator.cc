// Block formation and per-instruction translation. A block ends at a
// control transfer, at an instruction that changes the translation mode or
// needs the dispatcher (interrupt window), at a guest page boundary, or
// after kMaxInsns instructions. Every block starts with the exit-gate check.
#include "bt/frontend/translator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "bt/frontend/block_builder.h"
#include "bt/helpers/handlers.h"

namespace tv::bt {

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
  if ((req_.mode & Mode::kTscFaults) && i.d.mnemonic == ZYDIS_MNEMONIC_RDTSC) {
    callout(i, raise_gp_callout());
    e_.sync_exit(i.eip);
    return Flow::kEnd;
  }
  if (req_.device_eips && (req_.mode & Mode::kFlat) && !(req_.mode & Mode::kSegChecks) &&
      req_.device_eips->count(req_.cs_base + i.eip) && is_device_move(i.d, i.ops)) {
    callout(i, device_move_callout());
    return Flow::kContinue;
  }
  if (translate_string(i)) return Flow::kContinue;
  if (i.d.mnemonic == ZYDIS_MNEMONIC_ENDBR32 || i.d.mnemonic == ZYDIS_MNEMONIC_ENDBR64)
    return Flow::kContinue;  // a NOP without CET
  if (translate_push_pop_all(i)) return Flow::kContinue;
  if (translate_sysenter(i)) return Flow::kEnd;
  if (translate_segment_load(i)) return Flow::kContinue;
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
    default: break;
  }
  if (i.d.meta.category == ZYDIS_CATEGORY_COND_BR ||
      i.d.meta.category == ZYDIS_CATEGORY_UNCOND_BR || i.d.meta.category == ZYDIS_CATEGORY_CALL ||
      i.d.meta.category == ZYDIS_CATEGORY_RET)
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
  bool maskmov =
      i.d.mnemonic == ZYDIS_MNEMONIC_MASKMOVQ || i.d.mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU;
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
  e_.on_window_pointers(i.bytes, i.d.length, uses_esi, uses_edi);
  return true;
}

namespace {

uint32_t branch_target(const Insn& i) {
  uint64_t target = 0;
  ZydisCalcAbsoluteAddress(&i.d, &i.ops[0], i.eip, &target);
  uint32_t t = uint32_t(target);
  return i.d.operand_width == 16 ? (t & 0xFFFF) : t;
}

}  // namespace

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
      if (direct)
        direct_exit(branch_target(i));
      else
        indirect_exit();
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
      // (no 0x67 for CX: RCX; only the low 16 bits were asked for)
      CodeWriter::Label to_taken = w_.loop_class(cx ? 0 : 0x67, opc);
      CodeWriter::Label to_fallthrough = w_.jmp8();
      w_.bind(to_taken);
      ExitSlot* taken = new_slot(branch_target(i));
      taken->jmp_field = w_.jmp(w_.cur());
      w_.bind(to_fallthrough);
      direct_exit(i.next());
      return Flow::kEnd;
    }
    default: break;
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

namespace {

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
  // clang-format off
  switch (i.d.opcode) {
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F: case 0x27:
    case 0x2F: case 0x37: case 0x3F: case 0x60: case 0x61: case 0x62: case 0x63: case 0x82:
    case 0x9A: case 0xC4: case 0xC5: case 0xCE: case 0xD4: case 0xD5: case 0xD6: case 0xEA:
      return false;
    default:
      return i.d.opcode < 0x40 || i.d.opcode > 0x4F;
  }
  // clang-format on
}

}  // namespace

bool BlockBuilder::translate_ident(const Insn& i) {
  if (copies_as_is(i)) {
    w_.raw(i.bytes, i.d.length);
    return true;
  }
  ZydisEncoderRequest req;
  if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(
          &i.d, i.ops, i.d.operand_count_visible, &req)))
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
      unsigned seg_index = seg_of(d.mem.segment);
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
    static const uint8_t kFull[] = {0x44, 0x4C, 0x54,
                                    0x5C};  // ModRM reg field for eax..ebx, [rsp+disp8]
    unsigned idx = unsigned(o.reg.value - ZYDIS_REGISTER_AH);
    uint8_t modrm = kFull[idx];
    w_.bytes({0x89, modrm, 0x24, 0xF8});             // mov [rsp-8], e?x
    w_.bytes({0x44, 0x0F, 0xB6, 0x74, 0x24, 0xF9});  // movzx r14d, byte [rsp-7]
    o.reg.value = ZYDIS_REGISTER_R14B;
    if (!e_.encode_mem(req)) return false;
    w_.bytes({0x44, 0x88, 0x74, 0x24, 0xF9});  // mov [rsp-7], r14b
    w_.bytes({0x8B, modrm, 0x24, 0xF8});       // mov e?x, [rsp-8]
    return true;
  }
  return false;
}

std::unique_ptr<Block> Translator::translate(const TranslateRequest& request, uint8_t** code_end) {
  auto start = std::chrono::steady_clock::now();
  BlockBuilder builder(memory_, cache_, request);
  auto block = builder.build(code_end);
  if (!block) return nullptr;
  stats_.blocks_translated++;
  stats_.guest_insns_translated += block->insn_count;
  stats_.guest_bytes_translated += block->guest_len;
  stats_.host_bytes += block->host_len;
  stats_.translate_ns += uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  return block;
}

}  // namespace tv::bt
