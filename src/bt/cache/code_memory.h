// The translation cache's host code memory: one fixed mapping, filled from
// the front (shared stubs, then the scratch area, then blocks) and reset
// whole by a flush. It is writable and executable at once because chaining
// patches jumps of blocks that may run again on the next entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace tv::bt {

class CodeMemory {
 public:
  explicit CodeMemory(size_t bytes);
  ~CodeMemory();
  CodeMemory(const CodeMemory&) = delete;
  CodeMemory& operator=(const CodeMemory&) = delete;

  // Where the next block goes and where memory ends.
  uint8_t* cursor() const { return cursor_; }
  uint8_t* limit() const { return limit_; }
  // Takes `bytes` at the start for good (before any block), 64-byte aligned.
  uint8_t* reserve(size_t bytes);
  // A block's code ends at `code_end`: the next one starts 16-byte aligned.
  void commit(uint8_t* code_end) {
    cursor_ =
        reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(code_end) + 15) & ~uintptr_t(15));
  }
  // Forgets every block (reserved space stays).
  void reset() { cursor_ = code_start_; }
  // The area one-instruction blocks are translated into, reused by each.
  std::pair<uint8_t*, uint8_t*> scratch() const { return {scratch_, scratch_ + kScratchBytes}; }
  bool holds(const uint8_t* host_pc) const { return host_pc >= base_ && host_pc < limit_; }

  size_t used_bytes() const { return size_t(cursor_ - code_start_); }
  size_t capacity() const { return size_t(limit_ - base_); }

 private:
  static constexpr size_t kScratchBytes = 4096;
  uint8_t* base_ = nullptr;
  uint8_t* code_start_ = nullptr;  // after the reserved space
  uint8_t* cursor_ = nullptr;
  uint8_t* limit_ = nullptr;
  uint8_t* scratch_ = nullptr;
};

}  // namespace tv::bt
