// String instruction helper: REP MOVS/STOS/LODS forward and backward,
// overlapping copies, page crossings, REPE/REPNE termination with the flags
// of the last compare, INS/OUTS through a port device, the iteration budget,
// 16-bit addressing and restart state after a segment fault.
#include "bt/x86/string_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "bt/x86/segments.h"
#include "devices/bus.h"

namespace tv::bt {
namespace {

constexpr uint32_t kSrc = 0x10000, kDst = 0x20000, kNext = 0x1234;
constexpr uint64_t kRam = 4 << 20;
constexpr uint64_t kNoLimit = ~0ull;

// A port device that returns 0x11, 0x12, ... and records what it is given.
class FakePort : public dev::IoDevice {
 public:
  std::string_view name() const override { return "fake"; }
  uint64_t read(uint64_t, unsigned size) override {
    sizes.push_back(size);
    return next++;
  }
  void write(uint64_t, unsigned size, uint64_t value) override {
    sizes.push_back(size);
    written.push_back(value);
  }
  uint64_t next = 0x11;
  std::vector<unsigned> sizes;
  std::vector<uint64_t> written;
};

class StringOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_flat_protected_mode(cpu);
    cpu.eip = 0x1000;
    pio.insert(0x1F0, 8, port);
  }

  StringResult run(StringOp op, unsigned size, RepKind rep, uint64_t budget = kNoLimit,
                   SegReg src = kDs, bool addr16 = false) {
    const StringInsn insn{op, size, rep, src, addr16, kNext};
    return run_string_op(cpu, mem, pio, insn, budget);
  }
  void set_df(bool on) {
    cpu.host_flags = on ? cpu.host_flags | kFlagDf : cpu.host_flags & ~kFlagDf;
  }
  void regs(uint32_t esi, uint32_t edi, uint32_t ecx) {
    cpu.gpr[kEsi] = esi;
    cpu.gpr[kEdi] = edi;
    cpu.gpr[kEcx] = ecx;
  }
  void fill_pattern(uint32_t addr, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i) ram.store(GuestPhys{addr + i}, uint8_t(i * 7 + 1));
  }
  uint8_t u8(uint32_t addr) { return ram.load<uint8_t>(GuestPhys{addr}); }
  uint32_t u32(uint32_t addr) { return ram.load<uint32_t>(GuestPhys{addr}); }
  void put(uint32_t addr, const char* s) {
    for (; *s; ++s, ++addr) ram.store(GuestPhys{addr}, uint8_t(*s));
  }
  uint32_t arith() const {
    return uint32_t(cpu.host_flags) & (kFlagCf | kFlagZf | kFlagSf | kFlagOf);
  }

  GuestMemory ram{kRam};
  CpuState cpu;
  LinearMemory mem{ram, cpu};
  dev::Bus pio{dev::BusKind::kPio};
  std::shared_ptr<FakePort> port = std::make_shared<FakePort>();
};

TEST_F(StringOpsTest, RepMovsbForwardCopiesAndAdvances) {
  fill_pattern(kSrc, 100);
  regs(kSrc, kDst, 100);
  EXPECT_EQ(run(StringOp::kMovs, 1, RepKind::kRep), StringResult::kDone);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(u8(kDst + i), u8(kSrc + i)) << i;
  EXPECT_EQ(u8(kDst + 100), 0);
  EXPECT_EQ(cpu.gpr[kEsi], kSrc + 100);
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 100);
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
  EXPECT_EQ(cpu.eip, kNext);
}

TEST_F(StringOpsTest, RepMovsdBackwardCopiesDownwards) {
  fill_pattern(kSrc, 64);
  set_df(true);
  regs(kSrc + 60, kDst + 60, 16);  // the last dword of each buffer
  run(StringOp::kMovs, 4, RepKind::kRep);
  for (uint32_t i = 0; i < 64; ++i) ASSERT_EQ(u8(kDst + i), u8(kSrc + i)) << i;
  EXPECT_EQ(u32(kDst - 4), 0u);
  EXPECT_EQ(cpu.gpr[kEsi], kSrc - 4);
  EXPECT_EQ(cpu.gpr[kEdi], kDst - 4);
  EXPECT_TRUE(cpu.host_flags & kFlagDf);
}

TEST_F(StringOpsTest, OverlappingForwardMovsbReplicatesAByte) {
  fill_pattern(kSrc, 32);
  const uint8_t first = u8(kSrc);
  regs(kSrc, kSrc + 1, 31);
  run(StringOp::kMovs, 1, RepKind::kRep);
  for (uint32_t i = 0; i < 32; ++i) ASSERT_EQ(u8(kSrc + i), first) << i;
}

TEST_F(StringOpsTest, OverlappingMovsdReplicatesWithinEachElement) {
  // EDI = ESI + 1 with dwords: each element reads one byte written by the
  // previous one, exactly as sequential 4-byte loads and stores do.
  for (uint32_t i = 0; i < 16; ++i) ram.store(GuestPhys{kSrc + i}, uint8_t(0xA0 + i));
  std::vector<uint8_t> model(16);
  for (uint32_t i = 0; i < 16; ++i) model[i] = uint8_t(0xA0 + i);
  for (uint32_t e = 0; e < 3; ++e) {
    uint8_t tmp[4];
    for (uint32_t b = 0; b < 4; ++b) tmp[b] = model[4 * e + b];
    for (uint32_t b = 0; b < 4; ++b) model[4 * e + 1 + b] = tmp[b];
  }
  regs(kSrc, kSrc + 1, 3);
  run(StringOp::kMovs, 4, RepKind::kRep);
  for (uint32_t i = 0; i < 16; ++i) ASSERT_EQ(u8(kSrc + i), model[i]) << i;
}

TEST_F(StringOpsTest, OverlappingBackwardMovsbReplicatesDownwards) {
  fill_pattern(kSrc, 32);
  const uint8_t last = u8(kSrc + 31);
  set_df(true);
  regs(kSrc + 31, kSrc + 30, 31);
  run(StringOp::kMovs, 1, RepKind::kRep);
  for (uint32_t i = 0; i < 32; ++i) ASSERT_EQ(u8(kSrc + i), last) << i;
}

TEST_F(StringOpsTest, OverlapInTheSafeDirectionShifts) {
  fill_pattern(kSrc, 32);
  std::vector<uint8_t> before(32);
  for (uint32_t i = 0; i < 32; ++i) before[i] = u8(kSrc + i);
  regs(kSrc + 1, kSrc, 31);  // forward copy one byte down: a plain shift
  run(StringOp::kMovs, 1, RepKind::kRep);
  for (uint32_t i = 0; i < 31; ++i) ASSERT_EQ(u8(kSrc + i), before[i + 1]) << i;
  EXPECT_EQ(u8(kSrc + 31), before[31]);
}

TEST_F(StringOpsTest, MovsdAcrossPagesWithStraddlingElements) {
  // Source 2 bytes before a page end: every 4th element straddles a page and
  // takes the slow path; the rest go by chunks.
  const uint32_t src = kSrc + 0xFFE, dst = kDst + 0x801, bytes = 0x3000;
  fill_pattern(src, bytes);
  regs(src, dst, bytes / 4);
  run(StringOp::kMovs, 4, RepKind::kRep);
  for (uint32_t i = 0; i < bytes; ++i) ASSERT_EQ(u8(dst + i), u8(src + i)) << i;
  EXPECT_EQ(cpu.gpr[kEsi], src + bytes);
  EXPECT_EQ(cpu.gpr[kEdi], dst + bytes);
}

TEST_F(StringOpsTest, RepStosdFillsForwardAndBackward) {
  cpu.gpr[kEax] = 0xDEADBEEF;
  regs(0, kDst + 2, 0x900);  // crosses a page, unaligned
  run(StringOp::kStos, 4, RepKind::kRep);
  for (uint32_t i = 0; i < 0x900; ++i) ASSERT_EQ(u32(kDst + 2 + 4 * i), 0xDEADBEEFu) << i;
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 2 + 0x2400);
  set_df(true);
  cpu.gpr[kEax] = 0x01020304;
  regs(0, kSrc + 0x1000, 0x401);
  run(StringOp::kStos, 4, RepKind::kRep);
  for (uint32_t i = 0; i <= 0x400; ++i) ASSERT_EQ(u32(kSrc + 4 * i), 0x01020304u) << i;
  EXPECT_EQ(cpu.gpr[kEdi], kSrc - 4);
}

TEST_F(StringOpsTest, RepeCmpsbStopsAtTheFirstDifference) {
  put(kSrc, "abcdef");
  put(kDst, "abcxef");
  regs(kSrc, kDst, 6);
  run(StringOp::kCmps, 1, RepKind::kRep);
  // Stopped after comparing 'd' with 'x': 0x64 - 0x78 borrows and is negative.
  EXPECT_EQ(cpu.gpr[kEcx], 2u);
  EXPECT_EQ(cpu.gpr[kEsi], kSrc + 4);
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 4);
  EXPECT_EQ(arith(), kFlagCf | kFlagSf);
  EXPECT_EQ(cpu.eip, kNext);
}

TEST_F(StringOpsTest, RepeCmpsOfEqualStringsEndsWithZf) {
  put(kSrc, "same string");
  put(kDst, "same string");
  regs(kSrc, kDst, 11);
  run(StringOp::kCmps, 1, RepKind::kRep);
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
  EXPECT_EQ(arith(), kFlagZf);
}

TEST_F(StringOpsTest, CmpswSetsOverflowLikeCmp) {
  ram.store(GuestPhys{kSrc}, uint16_t(0x8000));
  ram.store(GuestPhys{kDst}, uint16_t(0x0001));
  regs(kSrc, kDst, 99);
  set_df(true);
  run(StringOp::kCmps, 2, RepKind::kNone);
  // 0x8000 - 1 = 0x7FFF: signed overflow, positive, no borrow.
  EXPECT_EQ(arith(), kFlagOf);
  EXPECT_EQ(cpu.gpr[kEsi], kSrc - 2);
  EXPECT_EQ(cpu.gpr[kEcx], 99u);  // no REP: ECX is not a count
  EXPECT_TRUE(cpu.host_flags & kFlagDf);
}

TEST_F(StringOpsTest, RepneScasbFindsAByte) {
  put(kDst, "hello, world");
  cpu.gpr[kEax] = 0xFFFFFF00 | ',';
  regs(0, kDst, 100);
  run(StringOp::kScas, 1, RepKind::kRepne);
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 6);  // one past the comma
  EXPECT_EQ(cpu.gpr[kEcx], 94u);
  EXPECT_EQ(arith(), kFlagZf);
}

TEST_F(StringOpsTest, RepneScasdRunsOutOfCount) {
  cpu.gpr[kEax] = 0x80000000;
  regs(0, kDst, 8);  // zeroes: 0x80000000 - 0 never matches
  run(StringOp::kScas, 4, RepKind::kRepne);
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 32);
  EXPECT_EQ(arith(), kFlagSf);
}

TEST_F(StringOpsTest, LodsLoadsTheAccumulatorWidth) {
  ram.store(GuestPhys{kSrc}, uint32_t(0x44332211));
  cpu.gpr[kEax] = 0xAABBCCDD;
  regs(kSrc, 0, 0);
  run(StringOp::kLods, 1, RepKind::kNone);
  EXPECT_EQ(cpu.gpr[kEax], 0xAABBCC11u);
  run(StringOp::kLods, 2, RepKind::kNone);
  EXPECT_EQ(cpu.gpr[kEax], 0xAABB3322u);
  EXPECT_EQ(cpu.gpr[kEsi], kSrc + 3);
  regs(kSrc, 0, 2);
  run(StringOp::kLods, 2, RepKind::kRep);  // keeps the last element
  EXPECT_EQ(cpu.gpr[kEax], 0xAABB4433u);
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
}

TEST_F(StringOpsTest, RepInswReadsThePortIntoMemory) {
  cpu.gpr[kEdx] = 0xABCD01F0;  // only DX names the port
  regs(0, kDst, 3);
  run(StringOp::kIns, 2, RepKind::kRep);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{kDst}), 0x11);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{kDst + 2}), 0x12);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{kDst + 4}), 0x13);
  EXPECT_EQ(port->sizes, (std::vector<unsigned>{2, 2, 2}));
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 6);
}

TEST_F(StringOpsTest, RepOutsbWritesMemoryToThePortWithOverride) {
  cpu.seg[kFs].base = 0x1000;
  put(kSrc + 0x1000, "OK!");
  cpu.gpr[kEdx] = 0x1F7;
  regs(kSrc, 0, 3);
  run(StringOp::kOuts, 1, RepKind::kRep, kNoLimit, kFs);
  EXPECT_EQ(port->written, (std::vector<uint64_t>{'O', 'K', '!'}));
  EXPECT_EQ(cpu.gpr[kEsi], kSrc + 3);
}

TEST_F(StringOpsTest, EcxZeroDoesNothingButAdvancesEip) {
  fill_pattern(kSrc, 4);
  cpu.host_flags |= kFlagCf;
  regs(kSrc, kDst, 0);
  EXPECT_EQ(run(StringOp::kMovs, 1, RepKind::kRep), StringResult::kDone);
  EXPECT_EQ(u8(kDst), 0);
  EXPECT_EQ(run(StringOp::kCmps, 1, RepKind::kRep), StringResult::kDone);
  EXPECT_EQ(arith(), kFlagCf);  // flags untouched
  EXPECT_EQ(cpu.gpr[kEsi], kSrc);
  EXPECT_EQ(cpu.gpr[kEdi], kDst);
  EXPECT_EQ(cpu.eip, kNext);
}

TEST_F(StringOpsTest, BudgetReturnsMoreWithConsistentRegisters) {
  cpu.gpr[kEax] = 0x5A;
  regs(0, kDst + 0xF80, 10000);  // chunks end at page boundaries, not budgets
  EXPECT_EQ(run(StringOp::kStos, 1, RepKind::kRep, 300), StringResult::kMore);
  EXPECT_EQ(cpu.gpr[kEcx], 9700u);
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 0xF80 + 300);
  EXPECT_EQ(cpu.eip, 0x1000u);
  EXPECT_EQ(u8(kDst + 0xF80 + 299), 0x5A);
  EXPECT_EQ(u8(kDst + 0xF80 + 300), 0);
  int calls = 1;
  while (run(StringOp::kStos, 1, RepKind::kRep, 4000) == StringResult::kMore) ++calls;
  EXPECT_EQ(calls, 3);  // 300 + 4000 + 4000 + 1700
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
  EXPECT_EQ(cpu.eip, kNext);
  EXPECT_EQ(u8(kDst + 0xF80 + 9999), 0x5A);
  EXPECT_EQ(u8(kDst + 0xF80 + 10000), 0);
}

TEST_F(StringOpsTest, SixteenBitAddressingWrapsAt64K) {
  cpu.seg[kEs].base = 0x30000;
  cpu.gpr[kEax] = 0x77;
  regs(0, 0xABCDFFFE, 0x12340004);
  run(StringOp::kStos, 1, RepKind::kRep, kNoLimit, kDs, true);
  EXPECT_EQ(u8(0x3FFFE), 0x77);
  EXPECT_EQ(u8(0x3FFFF), 0x77);
  EXPECT_EQ(u8(0x30000), 0x77);
  EXPECT_EQ(u8(0x30001), 0x77);
  EXPECT_EQ(u8(0x40000), 0);              // no carry into bit 16
  EXPECT_EQ(cpu.gpr[kEdi], 0xABCD0002u);  // upper halves untouched
  EXPECT_EQ(cpu.gpr[kEcx], 0x12340000u);
}

TEST_F(StringOpsTest, SixteenBitBackwardMovswWraps) {
  cpu.seg[kDs].base = 0x50000;
  cpu.seg[kEs].base = 0x60000;
  ram.store(GuestPhys{0x50000}, uint16_t(0x1111));
  ram.store(GuestPhys{0x5FFFE}, uint16_t(0x2222));
  set_df(true);
  regs(0, 0x10, 2);
  run(StringOp::kMovs, 2, RepKind::kRep, kNoLimit, kDs, true);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{0x60010}), 0x1111);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{0x6000E}), 0x2222);
  EXPECT_EQ(cpu.gpr[kEsi], 0xFFFCu);
  EXPECT_EQ(cpu.gpr[kEdi], 0x000Cu);
}

TEST_F(StringOpsTest, LimitFaultLeavesTheRemainingWork) {
  cpu.seg[kEs].limit = kDst + 0xFF;
  cpu.gpr[kEax] = 0x33;
  regs(0, kDst, 0x200);
  try {
    run(StringOp::kStos, 1, RepKind::kRep);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kGP);
    EXPECT_TRUE(f.has_error_code);
    EXPECT_EQ(f.error_code, 0u);
  }
  EXPECT_EQ(cpu.gpr[kEdi], kDst + 0x100);
  EXPECT_EQ(cpu.gpr[kEcx], 0x100u);
  EXPECT_EQ(cpu.eip, 0x1000u);
  EXPECT_EQ(u8(kDst + 0xFF), 0x33);
  EXPECT_EQ(u8(kDst + 0x100), 0);
}

TEST_F(StringOpsTest, StackSegmentOverrideFaultsWithSs) {
  cpu.seg[kSs].limit = kSrc + 1;
  regs(kSrc, kDst, 4);
  EXPECT_THROW(
      {
        try {
          run(StringOp::kMovs, 2, RepKind::kRep, kNoLimit, kSs);
        } catch (const GuestFault& f) {
          EXPECT_EQ(f.vector, kSS);
          throw;
        }
      },
      GuestFault);
  EXPECT_EQ(cpu.gpr[kEcx], 3u);  // the first word fitted
}

TEST_F(StringOpsTest, WritesToReadOnlyDataFault) {
  cpu.seg[kEs].attr &= ~0x2;
  regs(0, kDst, 1);
  EXPECT_THROW(run(StringOp::kStos, 1, RepKind::kRep), GuestFault);
  EXPECT_EQ(cpu.gpr[kEcx], 1u);
  regs(0, kDst, 1);
  run(StringOp::kScas, 1, RepKind::kRep);  // reading is fine
  EXPECT_EQ(cpu.gpr[kEcx], 0u);
}

TEST_F(StringOpsTest, OutsideRamReadsAllOnesAndDropsWrites) {
  regs(kRam - 2, kDst, 4);
  run(StringOp::kMovs, 1, RepKind::kRep);
  EXPECT_EQ(u32(kDst), 0xFFFF0000u);
  cpu.gpr[kEax] = 0x99;
  regs(0, kRam - 1, 3);
  run(StringOp::kStos, 1, RepKind::kRep);
  EXPECT_EQ(u8(kRam - 1), 0x99);
  EXPECT_EQ(cpu.gpr[kEdi], kRam + 2);
}

// A plain element-at-a-time model of the SDM pseudo-code, with CMP flags
// computed arithmetically; the helper's chunked fast paths must agree with it
// on random lengths, directions, overlaps, page offsets and budgets.
struct Model {
  CpuState& cpu;
  GuestMemory& ram;
  StringInsn in;
  uint32_t mask() const { return in.addr16 ? 0xFFFF : 0xFFFFFFFF; }
  uint32_t reg(Gpr r) const { return cpu.gpr[r] & mask(); }
  void set(Gpr r, uint32_t v) { cpu.gpr[r] = (cpu.gpr[r] & ~mask()) | (v & mask()); }
  uint32_t load(uint32_t lin) {
    uint32_t v = 0;
    for (unsigned i = 0; i < in.size; ++i)
      v |= uint32_t(ram.load<uint8_t>(GuestPhys{lin + i})) << (8 * i);
    return v;
  }
  void store(uint32_t lin, uint32_t v) {
    for (unsigned i = 0; i < in.size; ++i) ram.store(GuestPhys{lin + i}, uint8_t(v >> (8 * i)));
  }
  void cmp_flags(uint32_t a, uint32_t b) {
    const unsigned bits = 8 * in.size;
    const uint32_t m = bits == 32 ? 0xFFFFFFFF : (1u << bits) - 1, top = 1u << (bits - 1);
    const uint32_t d = (a - b) & m;
    uint32_t f = (a < b ? kFlagCf : 0) | (d == 0 ? kFlagZf : 0) | (d & top ? kFlagSf : 0) |
                 (((a ^ b) & (a ^ d) & top) ? kFlagOf : 0) | (((a ^ b ^ d) & 0x10) ? kFlagAf : 0) |
                 (__builtin_parity(d & 0xFF) ? 0 : kFlagPf);
    cpu.host_flags = (cpu.host_flags & ~uint64_t(0x8D5)) | f;
  }
  StringResult run(uint64_t budget) {
    const bool down = cpu.host_flags & kFlagDf;
    const uint32_t step = down ? -in.size : in.size;
    for (uint64_t done = 0;; ++done) {
      if (in.rep != RepKind::kNone && reg(kEcx) == 0) break;
      if (in.rep != RepKind::kNone && done == std::max<uint64_t>(budget, 1))
        return StringResult::kMore;
      const uint32_t src = cpu.seg[in.src_seg].base + reg(kEsi),
                     dst = cpu.seg[kEs].base + reg(kEdi);
      bool stop = false;
      const uint32_t acc =
          in.size == 4 ? cpu.gpr[kEax] : cpu.gpr[kEax] & ((1u << (8 * in.size)) - 1);
      switch (in.op) {
        case StringOp::kMovs: store(dst, load(src)); break;
        case StringOp::kStos: store(dst, acc); break;
        case StringOp::kLods:
          cpu.gpr[kEax] =
              in.size == 4 ? load(src) : (cpu.gpr[kEax] & ~((1u << (8 * in.size)) - 1)) | load(src);
          break;
        case StringOp::kCmps:
        case StringOp::kScas: {
          const uint32_t a = in.op == StringOp::kCmps ? load(src) : acc, b = load(dst);
          cmp_flags(a, b);
          stop = (in.rep == RepKind::kRep && a != b) || (in.rep == RepKind::kRepne && a == b);
          break;
        }
        default: break;
      }
      if (in.op != StringOp::kStos && in.op != StringOp::kScas) set(kEsi, reg(kEsi) + step);
      if (in.op != StringOp::kLods) set(kEdi, reg(kEdi) + step);
      if (in.rep == RepKind::kNone) break;
      set(kEcx, reg(kEcx) - 1);
      if (stop) break;
    }
    cpu.eip = in.next_eip;
    return StringResult::kDone;
  }
};

TEST_F(StringOpsTest, AgreesWithAnElementModelOnRandomCases) {
  std::mt19937 rng(12345);
  auto pick = [&](uint32_t n) { return uint32_t(rng() % n); };
  // 72 KiB, so that 16-bit offsets can wrap inside it; a small alphabet, so
  // that REPE/REPNE stop at random places.
  constexpr uint32_t kArea = 0x100000, kLen = 0x12000;
  for (uint32_t i = 0; i < kLen; ++i) ram.store(GuestPhys{kArea + i}, uint8_t(pick(3)));
  GuestMemory model_ram{kRam};
  CpuState model;
  const StringOp ops[] = {StringOp::kMovs, StringOp::kCmps, StringOp::kStos, StringOp::kLods,
                          StringOp::kScas};
  for (int c = 0; c < 3000; ++c) {
    for (int i = 0; i < 64; ++i) ram.store(GuestPhys{kArea + pick(kLen)}, uint8_t(pick(3)));
    const StringInsn insn{ops[pick(5)], 1u << pick(3), RepKind(pick(3)), kDs, pick(3) == 0, kNext};
    reset_flat_protected_mode(cpu);
    cpu.eip = 0x1000;
    set_df(pick(2));
    cpu.gpr[kEax] = pick(3) * 0x01010101;
    if (insn.addr16) {                           // offsets around the 64K wrap
      cpu.seg[kDs].base = kArea + pick(0x1000);  // not page-aligned: wraps fall mid-page
      cpu.seg[kEs].base = kArea + pick(0x1000);
      regs(0xABCD0000 | ((0xF000 + pick(0x2000)) & 0xFFFF), 0xF000 + pick(0x2000),
           0xABCD0000 | pick(0x800));
      cpu.gpr[kEdi] &= 0xFFFF;
    } else {
      regs(kArea + 0x4000 + pick(0x2000), kArea + 0x4000 + pick(0x2000),
           pick(4) ? pick(0x800) : pick(4));
    }
    std::memcpy(model_ram.physmap() + kArea, ram.physmap() + kArea, kLen);
    model = cpu;
    const uint64_t budget = pick(3) == 0 ? 1 + pick(300) : kNoLimit;
    const StringResult want = Model{model, model_ram, insn}.run(budget);
    ASSERT_EQ(run_string_op(cpu, mem, pio, insn, budget), want) << c;
    for (unsigned r = 0; r < 8; ++r) ASSERT_EQ(cpu.gpr[r], model.gpr[r]) << c << " reg " << r;
    ASSERT_EQ(cpu.host_flags, model.host_flags) << c;
    ASSERT_EQ(cpu.eip, model.eip) << c;
    ASSERT_EQ(std::memcmp(ram.physmap() + kArea, model_ram.physmap() + kArea, kLen), 0) << c;
  }
}

}  // namespace
}  // namespace tv::bt
