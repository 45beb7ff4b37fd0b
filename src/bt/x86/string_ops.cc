// String instruction helper (see string_ops.h). The fast path works in
// chunks that stay inside one 4 KiB page for every pointer involved, through
// host pointers from LinearMemory::host_ptr(); anything else (an element that
// straddles a page, a page outside RAM, a chunk touching a segment limit)
// runs one element at a time through LinearMemory, which raises the precise
// fault. ESI/EDI/ECX move only after a chunk or element has completed, so a
// fault leaves them at the first element not done.
#include "bt/x86/string_ops.h"

#include <algorithm>
#include <cstring>

#include "bt/x86/segments.h"
#include "devices/bus.h"

namespace tv::bt {

namespace {

constexpr uint32_t kPage = 0x1000;

// Pushing inside inline asm would overwrite the red zone below RSP, which
// the compiler may be using; step over it first.
#define TV_SAVE_RFLAGS "\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\tlea 128(%%rsp), %%rsp"

// The host RFLAGS after CMP a, b of T's width: the host CPU is the oracle
// for the arithmetic flags (SDM Vol. 2A "CMP").
template <typename T>
uint64_t host_cmp_flags(T a, T b) {
  uint64_t f;
  if constexpr (sizeof(T) == 1)
    asm("cmpb %b2, %b1" TV_SAVE_RFLAGS : "=r"(f) : "q"(a), "q"(b) : "cc");
  else if constexpr (sizeof(T) == 2)
    asm("cmpw %w2, %w1" TV_SAVE_RFLAGS : "=r"(f) : "r"(a), "r"(b) : "cc");
  else
    asm("cmpl %k2, %k1" TV_SAVE_RFLAGS : "=r"(f) : "r"(a), "r"(b) : "cc");
  return f;
}

#undef TV_SAVE_RFLAGS

template <typename T>
class StringRunner {
 public:
  StringRunner(CpuState& cpu, LinearMemory& mem, dev::Bus& pio, const StringInsn& in)
      : cpu_(cpu),
        mem_(mem),
        pio_(pio),
        in_(in),
        mask_(in.addr16 ? 0xFFFF : 0xFFFFFFFF),
        down_(cpu.host_flags & kFlagDf) {}

  StringResult run(uint64_t max_iterations) {
    bool stop = false;
    if (in_.rep == RepKind::kNone) {
      run_chunk(1, stop);
      cpu_.eip = in_.next_eip;
      return StringResult::kDone;
    }
    uint64_t budget = std::max<uint64_t>(max_iterations, 1);
    // SDM Vol. 2B REP: the count is tested before each iteration, so ECX = 0
    // does nothing; ZF is tested after each CMPS/SCAS iteration.
    while (uint32_t count = reg(kEcx)) {
      if (budget == 0) return StringResult::kMore;
      budget -= run_chunk(std::min<uint64_t>(count, budget), stop);
      if (stop) break;
    }
    cpu_.eip = in_.next_eip;
    return StringResult::kDone;
  }

 private:
  static constexpr uint32_t kSize = sizeof(T);

  // SI/DI/CX under a 16-bit address size (SDM Vol. 1 3.6): the upper halves
  // are neither used nor changed.
  uint32_t reg(Gpr r) const { return cpu_.gpr[r] & mask_; }
  void set_reg(Gpr r, uint32_t v) { cpu_.gpr[r] = (cpu_.gpr[r] & ~mask_) | (v & mask_); }

  bool uses_src() const {
    return in_.op == StringOp::kMovs || in_.op == StringOp::kCmps || in_.op == StringOp::kLods ||
           in_.op == StringOp::kOuts;
  }
  bool uses_dst() const { return in_.op != StringOp::kLods && in_.op != StringOp::kOuts; }
  Access dst_access() const {
    return in_.op == StringOp::kCmps || in_.op == StringOp::kScas ? Access::kRead : Access::kWrite;
  }
  uint16_t port() const { return uint16_t(cpu_.gpr[kEdx]); }

  T acc() const { return T(cpu_.gpr[kEax]); }
  void set_acc(T v) {
    const uint32_t keep = kSize == 4 ? 0 : ~uint32_t((1ull << (8 * kSize)) - 1);
    cpu_.gpr[kEax] = (cpu_.gpr[kEax] & keep) | v;
  }

  // Processes up to n (>= 1) elements; returns how many ran. Sets `stop` when
  // a REPE/REPNE termination condition was met.
  uint64_t run_chunk(uint64_t n, bool& stop) {
    const uint32_t si = reg(kEsi), di = reg(kEdi);
    if (uses_src()) n = std::min(n, room(in_.src_seg, si));
    if (uses_dst()) n = std::min(n, room(kEs, di));
    uint8_t* s = n && uses_src() ? chunk_ptr(in_.src_seg, si, n, Access::kRead) : nullptr;
    uint8_t* d = n && uses_dst() ? chunk_ptr(kEs, di, n, dst_access()) : nullptr;
    if (n == 0 || (uses_src() && !s) || (uses_dst() && !d)) {
      stop = step_one();
      advance(1);
      return 1;
    }
    const uint64_t done = bulk(s, d, n, stop);
    advance(done);
    return done;
  }

  void advance(uint64_t k) {
    const uint32_t delta = uint32_t(k * kSize);
    if (uses_src()) set_reg(kEsi, down_ ? reg(kEsi) - delta : reg(kEsi) + delta);
    if (uses_dst()) set_reg(kEdi, down_ ? reg(kEdi) - delta : reg(kEdi) + delta);
    if (in_.rep != RepKind::kNone) set_reg(kEcx, reg(kEcx) - uint32_t(k));
  }

  // Elements from `off` on, in the string direction, that stay in one page
  // and do not wrap the offset; 0 if the first element straddles either.
  uint64_t room(SegReg s, uint32_t off) const {
    const uint32_t in_page = (cpu_.seg[s].base + off) & (kPage - 1);
    if (in_page + kSize > kPage || uint64_t(off) + kSize - 1 > mask_) return 0;
    if (down_) return std::min<uint64_t>(in_page / kSize + 1, off / kSize + 1);
    return std::min<uint64_t>((kPage - in_page) / kSize, (uint64_t(mask_) + 1 - off) / kSize);
  }

  // Host pointer of the element at `off` for a chunk of n elements, or
  // nullptr if the chunk touches a segment limit or memory outside RAM.
  uint8_t* chunk_ptr(SegReg s, uint32_t off, uint64_t n, Access access) {
    const uint64_t span = (n - 1) * kSize;
    const uint64_t low = down_ ? off - span : off;
    if (!segment_allows(cpu_, s, uint32_t(low), uint32_t(span + kSize), access)) return nullptr;
    uint8_t* p = mem_.host_ptr(cpu_.seg[s].base + uint32_t(low), uint32_t(span + kSize), access);
    return p && down_ ? p + span : p;
  }

  uint8_t* at(uint8_t* p, uint64_t i) const { return down_ ? p - i * kSize : p + i * kSize; }
  T read_at(uint8_t* p, uint64_t i) const {
    T v;
    std::memcpy(&v, at(p, i), kSize);
    return v;
  }
  void write_at(uint8_t* p, uint64_t i, T v) const { std::memcpy(at(p, i), &v, kSize); }

  uint64_t bulk(uint8_t* s, uint8_t* d, uint64_t n, bool& stop) {
    switch (in_.op) {
      case StringOp::kMovs: copy(d, s, n); break;
      case StringOp::kStos: fill(d, n); break;
      case StringOp::kLods: set_acc(read_at(s, n - 1)); break;
      case StringOp::kCmps:
      case StringOp::kScas: return compare_run(s, d, n, stop);
      case StringOp::kIns:
        for (uint64_t i = 0; i < n; ++i) write_at(d, i, T(pio_.read(port(), kSize)));
        break;
      case StringOp::kOuts:
        for (uint64_t i = 0; i < n; ++i) pio_.write(port(), kSize, read_at(s, i));
        break;
    }
    return n;
  }

  // MOVS is defined element by element (SDM Vol. 2B "MOVS"); memmove gives
  // the same result unless the destination lies ahead of the source in the
  // copy direction within the chunk, where each element must see the ones
  // already written (rep movsb with EDI = ESI + 1 replicates a byte).
  void copy(uint8_t* d, uint8_t* s, uint64_t n) {
    const uintptr_t dist = down_ ? uintptr_t(s) - uintptr_t(d) : uintptr_t(d) - uintptr_t(s);
    if (dist != 0 && dist < n * kSize) {
      for (uint64_t i = 0; i < n; ++i) write_at(d, i, read_at(s, i));
      return;
    }
    const uint64_t span = (n - 1) * kSize;
    std::memmove(down_ ? d - span : d, down_ ? s - span : s, span + kSize);
  }

  void fill(uint8_t* d, uint64_t n) {
    uint8_t* low = down_ ? d - (n - 1) * kSize : d;
    if constexpr (kSize == 1) {
      std::memset(low, acc(), n);
    } else {
      const T v = acc();
      for (uint64_t i = 0; i < n; ++i) std::memcpy(low + i * kSize, &v, kSize);
    }
  }

  // Only the last pair compared decides the flags, so the loop just tests.
  uint64_t compare_run(uint8_t* s, uint8_t* d, uint64_t n, bool& stop) {
    uint64_t i = 0;
    for (;; ++i) {
      const T a = s ? read_at(s, i) : acc();
      const T b = read_at(d, i);
      if (ends_rep(a, b) || i + 1 == n) {
        stop = compare(a, b);
        return i + 1;
      }
    }
  }

  // True if a REPE/REPNE loop ends after comparing a with b.
  bool ends_rep(T a, T b) const {
    if (in_.rep == RepKind::kRep) return a != b;
    if (in_.rep == RepKind::kRepne) return a == b;
    return false;
  }

  // Sets the flags of CMP a, b; returns ends_rep(a, b).
  bool compare(T a, T b) {
    const uint64_t f = host_cmp_flags(a, b);
    cpu_.host_flags = (cpu_.host_flags & ~uint64_t(kArithFlags)) | (f & kArithFlags);
    return ends_rep(a, b);
  }

  // The slow path: one element through LinearMemory.
  bool step_one() {
    const uint32_t si = reg(kEsi), di = reg(kEdi);
    switch (in_.op) {
      case StringOp::kMovs: store(di, load(in_.src_seg, si)); break;
      case StringOp::kStos: store(di, acc()); break;
      case StringOp::kLods: set_acc(load(in_.src_seg, si)); break;
      case StringOp::kCmps: {
        const T a = load(in_.src_seg, si);
        return compare(a, load(kEs, di));
      }
      case StringOp::kScas: return compare(acc(), load(kEs, di));
      case StringOp::kIns: {
        // The destination is checked before the port is read, so a fault
        // does not swallow device data.
        const uint32_t lin = writable(di);
        const T v = T(pio_.read(port(), kSize));
        mem_.copy_out(lin, &v, kSize);
        break;
      }
      case StringOp::kOuts: pio_.write(port(), kSize, load(in_.src_seg, si)); break;
    }
    return false;
  }

  T load(SegReg s, uint32_t off) {
    return mem_.read<T>(segment_linear(cpu_, s, off, kSize, Access::kRead));
  }
  void store(uint32_t off, T v) { mem_.copy_out(writable(off), &v, kSize); }

  // ES:off checked and translated for a write of one element (both ends, so
  // a #PF on the second page comes before any byte is written).
  uint32_t writable(uint32_t off) {
    const uint32_t lin = segment_linear(cpu_, kEs, off, kSize, Access::kWrite);
    mem_.translate(lin, Access::kWrite);
    mem_.translate(lin + kSize - 1, Access::kWrite);
    return lin;
  }

  CpuState& cpu_;
  LinearMemory& mem_;
  dev::Bus& pio_;
  const StringInsn& in_;
  const uint32_t mask_;
  const bool down_;
};

}  // namespace

StringResult run_string_op(CpuState& cpu, LinearMemory& mem, dev::Bus& pio, const StringInsn& insn,
                           uint64_t max_iterations) {
  switch (insn.size) {
    case 1: return StringRunner<uint8_t>(cpu, mem, pio, insn).run(max_iterations);
    case 2: return StringRunner<uint16_t>(cpu, mem, pio, insn).run(max_iterations);
    default: return StringRunner<uint32_t>(cpu, mem, pio, insn).run(max_iterations);
  }
}

bool segment_allows(const CpuState& cpu, SegReg s, uint32_t offset, uint32_t size, Access access) {
  const Segment& g = cpu.seg[s];
  if (!segment_fits(g, offset, size)) return false;
  // Type checks (SDM Vol. 3A 5.5): no writes to code or read-only data, no
  // reads of execute-only code.
  const bool code = (g.attr & (kAttrS | 0x8)) == (kAttrS | 0x8);
  const bool rw = g.attr & 0x2;  // writable data / readable code
  return access == Access::kRead ? !code || rw : !code && rw;
}

uint32_t segment_linear(const CpuState& cpu, SegReg s, uint32_t offset, unsigned len,
                        Access access) {
  if (!segment_allows(cpu, s, offset, len, access)) throw fault(s == kSs ? kSS : kGP, 0);
  return cpu.seg[s].base + offset;
}

}  // namespace tv::bt
