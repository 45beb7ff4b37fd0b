// CodeMemory: the mapping and its reserved front.
#include "bt/cache/code_memory.h"

#include <sys/mman.h>

#include "base/error.h"

namespace tv::bt {

CodeMemory::CodeMemory(size_t bytes) {
  // SAFETY: our own code memory. It is writable and executable because
  // chaining patches jumps in place while the block may run on the next
  // entry; only the cache and the translator write to it.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error(errno_message("mmap translation cache"));
  base_ = code_start_ = cursor_ = static_cast<uint8_t*>(p);
  limit_ = base_ + bytes;
  scratch_ = reserve(kScratchBytes);
}

CodeMemory::~CodeMemory() { munmap(base_, size_t(limit_ - base_)); }

uint8_t* CodeMemory::reserve(size_t bytes) {
  uint8_t* p = code_start_;
  code_start_ += (bytes + 63) & ~size_t(63);
  cursor_ = code_start_;
  return p;
}

}  // namespace tv::bt
