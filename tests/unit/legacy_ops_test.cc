// Helpers for the instructions missing from 64-bit mode: PUSHA/POPA on 32-
// and 16-bit stacks, the BCD adjusts against the SDM examples and values
// read from an Intel CPU in compatibility mode, BOUND, AAM 0, SALC, far
// pointer loads, segment-register push/pop and INTO.
#include "bt/x86/legacy_ops.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "bt/x86/segments.h"

namespace tv::bt {
namespace {

constexpr uint32_t kStackTop = 0x8000, kData = 0x20000;
constexpr uint32_t kArith = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

class LegacyOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_flat_protected_mode(cpu);
    cpu.gpr[kEsp] = kStackTop;
  }

  void set_flags(uint32_t f) { cpu.host_flags = (cpu.host_flags & ~uint64_t(kArith)) | f; }
  uint32_t flags() const { return uint32_t(cpu.host_flags) & kArith; }
  uint32_t u32(uint32_t addr) { return ram.load<uint32_t>(GuestPhys{addr}); }
  uint16_t u16(uint32_t addr) { return ram.load<uint16_t>(GuestPhys{addr}); }
  template <typename T>
  void put(uint32_t addr, T v) {
    ram.store(GuestPhys{addr}, v);
  }
  // A 16-bit stack segment (B = 0) at `base`.
  void small_stack(uint32_t base, uint32_t limit) { cpu.seg[kSs] = {0x18, 0x93, base, limit}; }

  GuestMemory ram{1 << 20};
  CpuState cpu;
  LinearMemory mem{ram, cpu};
  std::vector<std::pair<SegReg, uint16_t>> loads;
  LoadSegment record = [this](SegReg s, uint16_t sel) { loads.emplace_back(s, sel); };
  LoadSegment refuse = [](SegReg, uint16_t sel) { throw fault(kGP, sel & 0xFFFC); };
};

TEST_F(LegacyOpsTest, PushadPushesTheOriginalEspAndPopadSkipsIt) {
  for (unsigned r = 0; r < 8; ++r)
    if (r != kEsp) cpu.gpr[r] = 0x11111111 * (r + 1);
  pusha(cpu, mem, OperandSize::k32);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop - 32);
  EXPECT_EQ(u32(kStackTop - 4), 0x11111111u);   // EAX first
  EXPECT_EQ(u32(kStackTop - 20), kStackTop);    // the ESP before PUSHAD
  EXPECT_EQ(u32(kStackTop - 32), 0x88888888u);  // EDI last
  put(kStackTop - 20, uint32_t(0xBAD));
  for (unsigned r = 0; r < 8; ++r)
    if (r != kEsp) cpu.gpr[r] = 0;
  popa(cpu, mem, OperandSize::k32);
  for (unsigned r = 0; r < 8; ++r) {
    if (r != kEsp) {
      EXPECT_EQ(cpu.gpr[r], 0x11111111 * (r + 1)) << r;
    }
  }
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop);
}

TEST_F(LegacyOpsTest, PushaPopaSixteenBitKeepUpperHalves) {
  cpu.gpr[kEax] = 0xAAAA1234;
  cpu.gpr[kEdi] = 0xBBBB5678;
  pusha(cpu, mem, OperandSize::k16);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop - 16);
  EXPECT_EQ(u16(kStackTop - 2), 0x1234);
  EXPECT_EQ(u16(kStackTop - 10), uint16_t(kStackTop));
  EXPECT_EQ(u16(kStackTop - 16), 0x5678);
  cpu.gpr[kEax] = 0xCCCC0000;
  cpu.gpr[kEdi] = 0xDDDD0000;
  popa(cpu, mem, OperandSize::k16);
  EXPECT_EQ(cpu.gpr[kEax], 0xCCCC1234u);
  EXPECT_EQ(cpu.gpr[kEdi], 0xDDDD5678u);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop);
}

TEST_F(LegacyOpsTest, PushadOnASixteenBitStackWrapsSp) {
  small_stack(0x40000, 0xFFFF);
  cpu.gpr[kEsp] = 0x12340008;
  cpu.gpr[kEax] = 0xA;
  pusha(cpu, mem, OperandSize::k32);
  EXPECT_EQ(cpu.gpr[kEsp], 0x1234FFE8u);  // SP wrapped, ESP's upper half kept
  EXPECT_EQ(u32(0x40004), 0xAu);          // EAX at SP - 4
  EXPECT_EQ(u32(0x4FFF4), 0x12340008u);   // ESP at SP - 20 (wrapped), all 32 bits
  popa(cpu, mem, OperandSize::k32);
  EXPECT_EQ(cpu.gpr[kEsp], 0x12340008u);
  EXPECT_EQ(cpu.gpr[kEax], 0xAu);
}

TEST_F(LegacyOpsTest, PushaOutsideTheStackFaultsWithEspUnchanged) {
  small_stack(0x40000, 0x7FFF);
  cpu.gpr[kEsp] = 0x10;
  try {
    pusha(cpu, mem, OperandSize::k32);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kSS);
  }
  EXPECT_EQ(cpu.gpr[kEsp], 0x10u);
}

// SDM Vol. 2A DAA example: ADD AL, BL with 79H + 35H = AEH; DAA -> 14H, CF=1.
TEST_F(LegacyOpsTest, DaaAfterPackedBcdAdd) {
  cpu.gpr[kEax] = 0x123400AE;
  set_flags(0);
  daa(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x12340014u);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf | kFlagPf);
  cpu.gpr[kEax] = 0x99;
  set_flags(kFlagOf | kFlagSf);
  daa(cpu);  // 0x99 is already valid BCD: no change; OF cleared as on Intel
  EXPECT_EQ(cpu.gpr[kEax], 0x99u);
  EXPECT_EQ(flags(), kFlagSf | kFlagPf);
}

// SDM Vol. 2A DAS example: SUB AL, BL with 35H - 47H = EEH, CF=AF=1; DAS -> 88H, CF=1.
TEST_F(LegacyOpsTest, DasAfterPackedBcdSubtract) {
  cpu.gpr[kEax] = 0xEE;
  set_flags(kFlagCf | kFlagAf);
  das(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x88u);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf | kFlagSf | kFlagPf);
  // A borrow out of AL - 6 sets CF even when the high digit needs nothing.
  cpu.gpr[kEax] = 0x03;
  set_flags(kFlagAf);
  das(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0xFDu);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf | kFlagSf);
}

TEST_F(LegacyOpsTest, AaaAddsIntoAhIncludingTheCarryOutOfAl) {
  cpu.gpr[kEax] = 0x006D;  // '8' + '5'
  set_flags(0);
  aaa(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x0103u);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf | kFlagPf);
  cpu.gpr[kEax] = 0x00FA;  // AX + 106H carries out of AL as well
  aaa(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x0200u);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf | kFlagZf | kFlagPf);
  cpu.gpr[kEax] = 0x0705;
  set_flags(kFlagCf | kFlagOf | kFlagSf);
  aaa(cpu);  // nothing to adjust: CF and AF cleared, OF/SF cleared as on Intel
  EXPECT_EQ(cpu.gpr[kEax], 0x0705u);
  EXPECT_EQ(flags(), kFlagPf);
}

TEST_F(LegacyOpsTest, AasBorrowsFromAh) {
  cpu.gpr[kEax] = 0x00FE;  // '3' - '5'
  set_flags(kFlagAf | kFlagCf | kFlagSf);
  aas(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0xFF08u);
  EXPECT_EQ(flags(), kFlagCf | kFlagAf);
  cpu.gpr[kEax] = 0x0500;  // AL = 0 < 6 with AF: the borrow reaches AH twice
  set_flags(kFlagAf);
  aas(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x030Au);
}

TEST_F(LegacyOpsTest, AamSplitsAlIntoDigits) {
  cpu.gpr[kEax] = 0xFFFF553F;
  set_flags(kFlagCf | kFlagAf | kFlagOf);
  aam(cpu, 10);
  EXPECT_EQ(cpu.gpr[kEax], 0xFFFF0603u);  // 63 = 6 * 10 + 3
  EXPECT_EQ(flags(), kFlagPf);            // CF, AF, OF cleared as on Intel
  cpu.gpr[kEax] = 0x3F;
  aam(cpu, 16);
  EXPECT_EQ(cpu.gpr[kEax], 0x030Fu);
  cpu.gpr[kEax] = 0x14;
  aam(cpu, 0x14);
  EXPECT_EQ(cpu.gpr[kEax], 0x0100u);
  EXPECT_EQ(flags(), kFlagZf | kFlagPf);
}

TEST_F(LegacyOpsTest, AamZeroRaisesDivideErrorWithoutChanges) {
  cpu.gpr[kEax] = 0x1234;
  set_flags(kFlagCf);
  try {
    aam(cpu, 0);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kDE);
    EXPECT_FALSE(f.has_error_code);
  }
  EXPECT_EQ(cpu.gpr[kEax], 0x1234u);
  EXPECT_EQ(flags(), kFlagCf);
}

TEST_F(LegacyOpsTest, AadCombinesDigitsWithAddFlags) {
  cpu.gpr[kEax] = 0xABCD0605;
  set_flags(0);
  aad(cpu, 10);
  EXPECT_EQ(cpu.gpr[kEax], 0xABCD0041u);  // 65
  EXPECT_EQ(flags(), kFlagAf | kFlagPf);  // 05H + 3CH: carry out of bit 3
  cpu.gpr[kEax] = 0x0FF0;
  aad(cpu, 16);  // F0H + F0H = 1E0H
  EXPECT_EQ(cpu.gpr[kEax], 0x00E0u);
  EXPECT_EQ(flags(), kFlagCf | kFlagSf);
  cpu.gpr[kEax] = 0x0770;
  aad(cpu, 16);  // 70H + 70H: signed overflow
  EXPECT_EQ(cpu.gpr[kEax], 0x00E0u);
  EXPECT_EQ(flags(), kFlagOf | kFlagSf);
  cpu.gpr[kEax] = 0x0100;
  aad(cpu, 0);  // imm 0 is legal for AAD
  EXPECT_EQ(cpu.gpr[kEax], 0u);
  EXPECT_EQ(flags(), kFlagZf | kFlagPf);
}

TEST_F(LegacyOpsTest, SalcCopiesCarryIntoAlOnly) {
  cpu.gpr[kEax] = 0x12345678;
  set_flags(kFlagCf | kFlagZf);
  salc(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x123456FFu);
  EXPECT_EQ(flags(), kFlagCf | kFlagZf);
  set_flags(0);
  salc(cpu);
  EXPECT_EQ(cpu.gpr[kEax], 0x12345600u);
}

TEST_F(LegacyOpsTest, BoundComparesSigned) {
  put(kData, int32_t(-10));
  put(kData + 4, int32_t(20));
  for (int32_t v : {-10, 0, 20}) {
    cpu.gpr[kEbx] = uint32_t(v);
    EXPECT_NO_THROW(bound(cpu, mem, OperandSize::k32, kEbx, kDs, kData)) << v;
  }
  for (int32_t v : {-11, 21, INT32_MIN}) {
    cpu.gpr[kEbx] = uint32_t(v);
    try {
      bound(cpu, mem, OperandSize::k32, kEbx, kDs, kData);
      ADD_FAILURE() << "no #BR for " << v;
    } catch (const GuestFault& f) {
      EXPECT_EQ(f.vector, kBR);
    }
  }
}

TEST_F(LegacyOpsTest, BoundSixteenBitUsesWordsAndSegmentBase) {
  cpu.seg[kEs].base = 0x10000;
  put(kData, uint16_t(0xFFF0));  // -16
  put(kData + 2, uint16_t(0x0010));
  cpu.gpr[kEcx] = 0x7777FFF0;  // CX = -16: in range, upper half ignored
  EXPECT_NO_THROW(bound(cpu, mem, OperandSize::k16, kEcx, kEs, kData - 0x10000));
  cpu.gpr[kEcx] = 0x00000011;
  EXPECT_THROW(bound(cpu, mem, OperandSize::k16, kEcx, kEs, kData - 0x10000), GuestFault);
}

TEST_F(LegacyOpsTest, LesLoadsSelectorThenOffset) {
  put(kData, uint32_t(0x12345678));
  put(kData + 4, uint16_t(0x002B));
  load_far_pointer(cpu, mem, OperandSize::k32, kEdi, kEs, kDs, kData, record);
  EXPECT_EQ(cpu.gpr[kEdi], 0x12345678u);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0], std::make_pair(kEs, uint16_t(0x2B)));
  put(kData + 2, uint16_t(0x0033));  // m16:16: selector right after the word
  cpu.gpr[kEsi] = 0xFFFF0000;
  load_far_pointer(cpu, mem, OperandSize::k16, kEsi, kDs, kDs, kData, record);
  EXPECT_EQ(cpu.gpr[kEsi], 0xFFFF5678u);
  EXPECT_EQ(loads[1], std::make_pair(kDs, uint16_t(0x33)));
}

TEST_F(LegacyOpsTest, LdsLeavesTheRegisterWhenTheSegmentLoadFaults) {
  put(kData, uint32_t(0x12345678));
  put(kData + 4, uint16_t(0x0048));
  cpu.gpr[kEbx] = 0xAAAA;
  try {
    load_far_pointer(cpu, mem, OperandSize::k32, kEbx, kDs, kDs, kData, refuse);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kGP);
    EXPECT_EQ(f.error_code, 0x48u);
  }
  EXPECT_EQ(cpu.gpr[kEbx], 0xAAAAu);
}

TEST_F(LegacyOpsTest, PushSegmentZeroExtendsToTheOperandSize) {
  put(kStackTop - 4, uint32_t(0xAAAAAAAA));
  cpu.seg[kDs].selector = 0x10;
  push_segment(cpu, mem, OperandSize::k32, kDs);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop - 4);
  EXPECT_EQ(u32(kStackTop - 4), 0x10u);
  cpu.seg[kCs].selector = 0x08;
  push_segment(cpu, mem, OperandSize::k16, kCs);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop - 6);
  EXPECT_EQ(u16(kStackTop - 6), 0x08);
}

TEST_F(LegacyOpsTest, PopSegmentLoadsThroughTheCallback) {
  put(kStackTop, uint32_t(0xFFFF0023));  // a 32-bit pop uses the low word
  pop_segment(cpu, mem, OperandSize::k32, kEs, record);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0], std::make_pair(kEs, uint16_t(0x23)));
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop + 4);
  EXPECT_EQ(cpu.sti_shadow, 0);
  put(kStackTop + 4, uint16_t(0x0010));
  pop_segment(cpu, mem, OperandSize::k16, kSs, record);
  EXPECT_EQ(loads[1], std::make_pair(kSs, uint16_t(0x10)));
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop + 6);
  EXPECT_EQ(cpu.sti_shadow, 1);  // POP SS blocks interrupts for one instruction
}

TEST_F(LegacyOpsTest, PopSsMovesEspByTheOldStackSize) {
  small_stack(0x40000, 0xFFFF);
  cpu.gpr[kEsp] = 0x5555FFFE;
  put(0x4FFFE, uint16_t(0x0010));
  // The new SS is 32-bit, but SP wraps as the old 16-bit stack's did.
  LoadSegment flat = [this](SegReg s, uint16_t) { cpu.seg[s].attr |= kAttrDb; };
  pop_segment(cpu, mem, OperandSize::k16, kSs, flat);
  EXPECT_EQ(cpu.gpr[kEsp], 0x55550000u);
}

TEST_F(LegacyOpsTest, PopSegmentFaultsLeaveEsp) {
  EXPECT_THROW(pop_segment(cpu, mem, OperandSize::k32, kDs, refuse), GuestFault);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop);
  try {
    pop_segment(cpu, mem, OperandSize::k32, kCs, record);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kUD);
  }
  EXPECT_TRUE(loads.empty());
}

TEST_F(LegacyOpsTest, EnterNestedCopiesFramePointers) {
  cpu.gpr[kEbp] = 0x9000;
  put(0x9000 - 4, uint32_t(0xAAAA));
  enter(cpu, mem, 0x10, 2);
  EXPECT_EQ(u32(kStackTop - 4), 0x9000u) << "old EBP";
  EXPECT_EQ(u32(kStackTop - 8), 0xAAAAu) << "the outer frame pointer";
  EXPECT_EQ(u32(kStackTop - 12), kStackTop - 4) << "this frame";
  EXPECT_EQ(cpu.gpr[kEbp], kStackTop - 4);
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop - 12 - 0x10);
}

TEST_F(LegacyOpsTest, EnterFaultLeavesEspAndEbp) {
  // Paging on, only the first 4 MiB mapped: the frame-pointer read at
  // EBP - 4 = 8 MiB - 4 faults after the first push has happened.
  put(0x1000, uint32_t(0x83));  // PDE 0: 4 MiB page at 0, present, writable
  mmu::ShadowMmu shadow{ram};
  shadow.set_paging({true, 0x1000, true, false, false});
  LinearMemory paged{ram, cpu, &shadow};
  cpu.gpr[kEbp] = 0x800000;
  try {
    enter(cpu, paged, 8, 3);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kPF);
  }
  EXPECT_EQ(cpu.gpr[kEsp], kStackTop);
  EXPECT_EQ(cpu.gpr[kEbp], 0x800000u);
}

TEST_F(LegacyOpsTest, IntoReportsOverflow) {
  set_flags(kFlagCf | kFlagSf);
  EXPECT_FALSE(into(cpu));
  set_flags(kFlagOf);
  EXPECT_TRUE(into(cpu));
}

}  // namespace
}  // namespace tv::bt
