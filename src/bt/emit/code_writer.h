// Writes host x86-64 code into the translation cache: raw byte sequences
// for the translator's own fixed patterns, Zydis-encoded instructions for
// re-encoded guest instructions, and patchable rel32 jumps for chaining.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace tv::bt {

class CodeWriter {
 public:
  CodeWriter(uint8_t* start, uint8_t* limit) : start_(start), cur_(start), limit_(limit) {}

  uint8_t* cur() const { return cur_; }
  uint8_t* start() const { return start_; }
  size_t size() const { return size_t(cur_ - start_); }
  // False once an emit ran past the limit; the caller flushes and retries.
  bool ok() const { return ok_; }

  void bytes(std::initializer_list<uint8_t> b) {
    if (!room(b.size())) return;
    for (uint8_t x : b) *cur_++ = x;
  }
  void raw(const uint8_t* p, size_t n) {
    if (!room(n)) return;
    std::memcpy(cur_, p, n);
    cur_ += n;
  }
  void u32(uint32_t v) { raw(reinterpret_cast<const uint8_t*>(&v), 4); }
  void u64(uint64_t v) { raw(reinterpret_cast<const uint8_t*>(&v), 8); }

  // Encodes `req`; returns false (and remembers it) if Zydis cannot.
  bool encode(const ZydisEncoderRequest& req) {
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize len = sizeof buf;
    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, buf, &len))) {
      encode_failed_ = true;
      return false;
    }
    raw(buf, len);
    return true;
  }
  // An encode failed since the last reset: the instruction's translation
  // is incomplete and must be rewound.
  bool encode_failed() const { return encode_failed_; }
  void reset_encode_failed() { encode_failed_ = false; }
  void mark_encode_failed() { encode_failed_ = true; }
  void rewind(uint8_t* to) { cur_ = to; }

  // Forward short jumps: `Label l = w.jrcxz(); ...; w.bind(l);` patches
  // the rel8 to the bound position (no byte counts by hand).
  struct Label {
    uint8_t* field = nullptr;  // the rel8 to patch; null if nothing was emitted
  };
  Label jrcxz() { return short_jump(0xE3); }  // jump if RCX == 0 (flag-free)
  Label jmp8() { return short_jump(0xEB); }
  // Re-executes a guest LOOP/JCXZ-class opcode (`prefix` 0x67 for ECX, 0
  // for CX) with a forward target.
  Label loop_class(uint8_t prefix, uint8_t opcode) {
    if (prefix) bytes({prefix});
    return short_jump(opcode);
  }
  void bind(Label l) {
    if (!ok_ || !l.field) return;
    ptrdiff_t d = cur_ - (l.field + 1);
    if (d > 127) {  // a bug in a fixed sequence, never guest-controlled
      encode_failed_ = true;
      return;
    }
    *l.field = uint8_t(int8_t(d));
  }

  // jmp rel32 / jcc rel32 to `target`; return the address of the rel32 field.
  uint8_t* jmp(const uint8_t* target) {
    bytes({0xE9});
    return rel32(target);
  }
  uint8_t* jcc(unsigned cond, const uint8_t* target) {
    bytes({0x0F, uint8_t(0x80 | cond)});
    return rel32(target);
  }
  static void patch_rel32(uint8_t* field, const uint8_t* target) {
    int32_t rel = int32_t(target - (field + 4));
    std::memcpy(field, &rel, 4);
  }

 private:
  Label short_jump(uint8_t opcode) {
    if (!room(2)) return {};
    *cur_++ = opcode;
    *cur_++ = 0;
    return {cur_ - 1};
  }
  bool room(size_t n) {
    if (!ok_ || cur_ + n > limit_) {
      ok_ = false;
      return false;
    }
    return true;
  }
  uint8_t* rel32(const uint8_t* target) {
    uint8_t* field = cur_;
    u32(0);
    if (ok_) patch_rel32(field, target);
    return field;
  }

  uint8_t* start_;
  uint8_t* cur_;
  uint8_t* limit_;
  bool ok_ = true;
  bool encode_failed_ = false;
};

}  // namespace tv::bt
