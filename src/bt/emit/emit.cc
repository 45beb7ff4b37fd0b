#include "bt/emit/emit.h"

#include <cstddef>
#include <cstring>

#include "bt/emit/vcpu_layout.h"

namespace tv::bt {

ZydisRegister host_reg(ZydisRegister guest) {
  switch (guest) {
    case ZYDIS_REGISTER_ESP: return ZYDIS_REGISTER_R12D;
    case ZYDIS_REGISTER_SP: return ZYDIS_REGISTER_R12W;
    default: return guest;
  }
}

bool is_high_byte(ZydisRegister reg) {
  return reg == ZYDIS_REGISTER_AH || reg == ZYDIS_REGISTER_CH || reg == ZYDIS_REGISTER_DH ||
         reg == ZYDIS_REGISTER_BH;
}

void Emit::adjust_esp(int32_t disp) {
  if (disp >= -128 && disp <= 127) {
    w.bytes({0x45, 0x8D, 0x64, 0x24, uint8_t(int8_t(disp))});
  } else {
    w.bytes({0x45, 0x8D, 0xA4, 0x24});
    w.u32(uint32_t(disp));
  }
}

// The jump cache is indexed by jump_cache_index(target); an entry matches
// when neg_eip + target == 0. Everything here is flag-free (rorx, movzx,
// lea, mov, jrcxz) because the guest's flags are live in RFLAGS. RCX is
// borrowed for jrcxz and kept in R8 meanwhile.
void Emit::indirect_lookup(int32_t jump_cache_offset, const uint8_t* miss_stub) {
  if (kJumpCacheMixes) {
    w.bytes({0xC4, 0x43, 0x7B, 0xF0, 0xF5, 0x10});  // rorx r14d, r13d, 16
    w.bytes({0x47, 0x8D, 0x74, 0x35, 0x00});        // lea r14d, [r13 + r14]
    w.bytes({0x45, 0x0F, 0xB7, 0xF6});              // movzx r14d, r14w
  } else {
    w.bytes({0x45, 0x0F, 0xB7, 0xF5});  // movzx r14d, r13w
  }
  w.bytes({0x4F, 0x8D, 0x34, 0x36});  // lea r14, [r14 + r14]
  w.bytes({0x4F, 0x8D, 0xB4, 0xF7});  // lea r14, [r15 + r14*8 + disp32]
  w.u32(uint32_t(jump_cache_offset));
  save_rcx();
  w.bytes({0x41, 0x8B, 0x0E});        // mov ecx, [r14]: neg_eip
  w.bytes({0x42, 0x8D, 0x0C, 0x29});  // lea ecx, [rcx + r13]
  CodeWriter::Label hit = w.jrcxz();
  restore_rcx();
  w.jmp(miss_stub);  // target in r13d
  w.bind(hit);
  restore_rcx();
  static_assert(offsetof(JumpCacheEntry, host) == 8);
  w.bytes({0x41, 0xFF, 0x66, 0x08});  // jmp [r14 + host]
}

void Emit::count(uint64_t* counter) {
  mov_r14_imm64(reinterpret_cast<uint64_t>(counter));
  w.bytes({0x4D, 0x8B, 0x2E});        // mov r13, [r14]
  w.bytes({0x4D, 0x8D, 0x6D, 0x01});  // lea r13, [r13 + 1]
  w.bytes({0x4D, 0x89, 0x2E});        // mov [r14], r13
}

void window_mem(const ZydisDecodedOperand& op, SegMode seg, ZydisEncoderOperand& out,
                unsigned size_bytes) {
  out = {};
  out.type = ZYDIS_OPERAND_TYPE_MEMORY;
  out.mem.size = uint16_t(size_bytes);
  if (seg == SegMode::kRuntime) {
    out.mem.base = ZYDIS_REGISTER_R13D;
    return;
  }
  out.mem.base = host_reg(op.mem.base);
  out.mem.index = host_reg(op.mem.index);
  out.mem.scale = op.mem.index == ZYDIS_REGISTER_NONE ? 0 : op.mem.scale;
  out.mem.displacement = op.mem.disp.has_displacement ? int32_t(op.mem.disp.value) : 0;
}

static ZydisEncoderRequest request(ZydisMnemonic m, unsigned operands) {
  ZydisEncoderRequest req;
  std::memset(&req, 0, sizeof req);
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = m;
  req.operand_count = uint8_t(operands);
  return req;
}

static void reg_operand(ZydisEncoderOperand& o, ZydisRegister r) {
  o = {};
  o.type = ZYDIS_OPERAND_TYPE_REGISTER;
  o.reg.value = r;
}

bool emit_runtime_address(Emit& e, const ZydisDecodedOperand& op, unsigned seg_index) {
  if (!emit_offset(e, op)) return false;
  emit_add_base(e, seg_index);
  return true;
}

bool emit_offset(Emit& e, const ZydisDecodedOperand& op) {
  auto req = request(ZYDIS_MNEMONIC_LEA, 2);
  reg_operand(req.operands[0], ZYDIS_REGISTER_R13D);
  window_mem(op, SegMode::kFlat, req.operands[1], 4);  // Zydis: LEA's size is the address size
  return e.encode_mem(req);
}

void emit_add_base(Emit& e, unsigned seg_index) {
  uint32_t off =
      uint32_t(offsetof(CpuState, seg) + seg_index * sizeof(Segment) + offsetof(Segment, base));
  e.w.bytes({0x45, 0x8B, 0xB7});  // mov r14d, [r15 + disp32]
  e.w.u32(off);
  e.w.bytes({0x47, 0x8D, 0x6C, 0x35, 0x00});  // lea r13d, [r13 + r14]
}

bool Emit::encode_mem(ZydisEncoderRequest& req) {
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize len = sizeof buf;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, buf, &len))) {
    w.mark_encode_failed();
    return false;
  }
  // An absolute [disp32] (no base, no index) is encoded by Zydis in 64-bit
  // mode as a sign-extended 64-bit address; with addr32 it is the 32-bit
  // address the guest meant. Prefix order before REX is free.
  bool absolute = false;
  for (unsigned i = 0; i < req.operand_count; ++i) {
    const auto& o = req.operands[i];
    if (o.type == ZYDIS_OPERAND_TYPE_MEMORY && o.mem.base == ZYDIS_REGISTER_NONE &&
        o.mem.index == ZYDIS_REGISTER_NONE && req.mnemonic != ZYDIS_MNEMONIC_LEA)
      absolute = true;
  }
  if (absolute) {
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction insn;
    if (ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, nullptr, buf, len, &insn)) &&
        insn.address_width == 64)
      w.bytes({0x67});
  }
  w.raw(buf, len);
  return true;
}

bool Emit::load_r13(const ZydisDecodedOperand& op, SegMode seg, unsigned size_bytes) {
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    auto req = request(size_bytes == 4 ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_MOVZX, 2);
    reg_operand(req.operands[0], ZYDIS_REGISTER_R13D);
    reg_operand(req.operands[1], host_reg(op.reg.value));
    return w.encode(req);
  }
  if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    w.bytes({0x41, 0xBD});  // mov r13d, imm32
    w.u32(uint32_t(op.imm.value.u));
    return true;
  }
  // FS/GS overrides need their base even when the mode is flat.
  if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS)
    seg = SegMode::kRuntime;
  if (seg == SegMode::kRuntime && !emit_runtime_address(*this, op, seg_of(op.mem.segment)))
    return false;
  auto req = request(size_bytes == 4 ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_MOVZX, 2);
  reg_operand(req.operands[0], ZYDIS_REGISTER_R13D);
  window_mem(op, seg, req.operands[1], size_bytes);
  req.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_GS;
  return encode_mem(req);
}

static void stack_mem(ZydisEncoderOperand& o, int32_t disp, unsigned size) {
  o = {};
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.base = ZYDIS_REGISTER_R12D;
  o.mem.displacement = disp;
  o.mem.size = uint16_t(size);
}

bool Emit::store_stack_reg(int32_t disp, ZydisRegister reg, unsigned size) {
  auto req = request(ZYDIS_MNEMONIC_MOV, 2);
  stack_mem(req.operands[0], disp, size);
  reg_operand(req.operands[1], reg);
  req.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_GS;
  return w.encode(req);
}

bool Emit::store_stack_r13(int32_t disp, unsigned size) {
  return store_stack_reg(disp, size == 2 ? ZYDIS_REGISTER_R13W : ZYDIS_REGISTER_R13D, size);
}

bool Emit::store_stack_imm(int32_t disp, uint32_t imm, unsigned size) {
  auto req = request(ZYDIS_MNEMONIC_MOV, 2);
  stack_mem(req.operands[0], disp, size);
  req.operands[1].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  // Zydis wants the immediate as the sign-extended value of the operand.
  req.operands[1].imm.s = size == 2 ? int64_t(int16_t(imm)) : int64_t(int32_t(imm));
  req.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_GS;
  return w.encode(req);
}

bool Emit::load_stack(ZydisRegister reg, int32_t disp, unsigned size) {
  auto req = request(ZYDIS_MNEMONIC_MOV, 2);
  reg_operand(req.operands[0], reg);
  stack_mem(req.operands[1], disp, size);
  req.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_GS;
  return w.encode(req);
}

uint8_t* Emit::segment_check(unsigned seg, unsigned size, bool write) {
  w.bytes({0x9C});                                            // pushfq
  w.bytes({0x45, 0x8D, 0x75, uint8_t(size ? size - 1 : 0)});  // lea r14d, [r13 + size-1]
  w.bytes({0x45, 0x39, 0xEE});                                // cmp r14d, r13d
  uint8_t* fail1 = w.jcc(0x2, w.cur());                       // jb fail (wrapped)
  w.bytes({0x45, 0x3B, 0xAF});                                // cmp r13d, [r15 + lo]
  w.u32(uint32_t(offsetof(CpuState, seg_lo) + seg * 4));
  uint8_t* fail2 = w.jcc(0x2, w.cur());  // jb fail
  w.bytes({0x45, 0x3B, 0xB7});           // cmp r14d, [r15 + hi]
  w.u32(uint32_t(offsetof(CpuState, seg_hi) + seg * 4));
  uint8_t* fail3 = w.jcc(0x7, w.cur());  // ja fail
  uint8_t* fail4 = nullptr;
  if (write) {
    w.bytes({0x41, 0x80, 0xBF});  // cmp byte [r15 + writable], 0
    w.u32(uint32_t(offsetof(CpuState, seg_writable) + seg));
    w.bytes({0x00});
    fail4 = w.jcc(0x4, w.cur());  // je fail
  }
  w.bytes({0x9D});  // popfq
  uint8_t* done = w.jmp(w.cur());
  uint8_t* fail = w.cur();
  for (uint8_t* f : {fail1, fail2, fail3, fail4})
    if (f && w.ok()) CodeWriter::patch_rel32(f, fail);
  w.bytes({0x9D});  // popfq
  return done;
}

}  // namespace tv::bt
