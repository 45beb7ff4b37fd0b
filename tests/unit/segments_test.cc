// Protected-mode segmentation helpers: segment loads and their faults, far
// JMP/CALL/RET through code segments and call gates, IRET's EFLAGS and
// privilege rules, the system-table instructions and LAR/LSL/VERR/VERW,
// against a GDT/TSS built in guest RAM.
#include "bt/x86/segments.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace tv::bt {
namespace {

constexpr uint32_t kGdt = 0x1000, kTss = 0x3000, kLdt = 0x4000, kGateTarget = 0x7000;
constexpr uint32_t kKernelStack = 0x90000, kUserStack = 0x80000;
constexpr unsigned kGdtEntries = 17;

class SegmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_flat_protected_mode(cpu);
    set_desc(kGdt, 1, 0, 0xFFFFF, 0x9A, 0xC);             // 0x08 kernel code
    set_desc(kGdt, 2, 0, 0xFFFFF, 0x92, 0xC);             // 0x10 kernel data
    set_desc(kGdt, 3, 0, 0xFFFFF, 0xFA, 0xC);             // 0x1B user code
    set_desc(kGdt, 4, 0, 0xFFFFF, 0xF2, 0xC);             // 0x23 user data
    set_desc(kGdt, 5, kTss, 0x67, 0x89, 0x0);             // 0x28 32-bit TSS
    set_desc(kGdt, 6, 0, 0xFFFFF, 0x12, 0xC);             // 0x30 data, not present
    set_desc(kGdt, 7, 0, 0xFFFFF, 0x9E, 0xC);             // 0x38 conforming readable code
    set_gate(kGdt + 8 * 8, 0x08, kGateTarget, 0xEC, 2);   // 0x40 call gate DPL3, 2 params
    set_desc(kGdt, 9, kLdt, 0x0F, 0x82, 0x0);             // 0x48 LDT
    set_desc(kGdt, 10, 0, 0xFFFFF, 0x90, 0xC);            // 0x50 read-only data
    set_desc(kGdt, 11, 0, 0xFFFFF, 0x98, 0xC);            // 0x58 execute-only code
    set_desc(kGdt, 12, 0x5000, 0xFFF, 0x92, 0x4);         // 0x60 small byte-granular data
    set_gate(kGdt + 13 * 8, 0x08, kGateTarget, 0x8C, 0);  // 0x68 call gate DPL0
    set_desc(kGdt, 14, 0, 0xFFFF, 0x9A, 0x0);             // 0x70 16-bit code
    set_gate(kGdt + 15 * 8, 0x08, 0, 0x8E, 0);            // 0x78 interrupt gate (not for LAR)
    set_desc(kGdt, 16, 0x100000, 0xFFFF, 0x92, 0x0);      // 0x80 16-bit data (B=0)
    cpu.gdtr = {kGdt, kGdtEntries * 8 - 1};
    ram.store(GuestPhys{kTss + 4}, kKernelStack);    // ESP0
    ram.store(GuestPhys{kTss + 8}, uint32_t(0x10));  // SS0
    cpu.tr = cache(0x28);
    cpu.gpr[kEsp] = kKernelStack;
  }

  void set_desc(uint32_t table, unsigned index, uint32_t base, uint32_t limit, uint8_t access,
                uint8_t flags) {
    const uint32_t lo = (limit & 0xFFFF) | (base << 16);
    const uint32_t hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                        (uint32_t(flags) << 20) | (base & 0xFF000000);
    ram.store(GuestPhys{table + index * 8}, lo);
    ram.store(GuestPhys{table + index * 8 + 4}, hi);
  }
  void set_gate(uint32_t addr, uint16_t sel, uint32_t offset, uint8_t access, uint8_t params) {
    ram.store(GuestPhys{addr}, (offset & 0xFFFF) | (uint32_t(sel) << 16));
    ram.store(GuestPhys{addr + 4}, (offset & 0xFFFF0000) | (access << 8) | params);
  }
  Segment cache(uint16_t sel) { return make_segment(sel, *find_descriptor(cpu, mem, sel)); }
  uint32_t u32(uint32_t addr) { return ram.load<uint32_t>(GuestPhys{addr}); }
  uint16_t u16(uint32_t addr) { return ram.load<uint16_t>(GuestPhys{addr}); }
  uint8_t u8(uint32_t addr) { return ram.load<uint8_t>(GuestPhys{addr}); }
  void put32(uint32_t addr, uint32_t v) { ram.store(GuestPhys{addr}, v); }

  void enter_user() {
    cpu.cpl = 3;
    cpu.seg[kCs] = cache(0x1B);
    for (SegReg r : {kSs, kDs, kEs, kFs, kGs}) cpu.seg[r] = cache(0x23);
    cpu.gpr[kEsp] = kUserStack;
  }

  template <typename F>
  GuestFault expect_fault(F&& f) {
    try {
      f();
    } catch (const GuestFault& e) {
      return e;
    }
    ADD_FAILURE() << "no fault";
    return {0xFF, false, 0};
  }

  GuestMemory ram{16 << 20};
  CpuState cpu;
  LinearMemory mem{ram, cpu};
};

#define EXPECT_FAULT(expr, vec, err)             \
  do {                                           \
    GuestFault f_ = expect_fault([&] { expr; }); \
    EXPECT_EQ(f_.vector, vec);                   \
    EXPECT_TRUE(f_.has_error_code);              \
    EXPECT_EQ(f_.error_code, uint32_t(err));     \
  } while (0)

// ---- reset and segment loads ----

TEST_F(SegmentsTest, ResetIsFlatRingZero) {
  CpuState fresh;
  reset_flat_protected_mode(fresh);
  EXPECT_EQ(fresh.cr0, 0x11u);
  EXPECT_EQ(fresh.cpl, 0);
  EXPECT_EQ(guest_eflags(fresh), 0x2u);
  EXPECT_EQ(fresh.seg[kCs].selector, 0x08);
  EXPECT_EQ(fresh.seg[kCs].attr, 0x0C9B);
  EXPECT_EQ(fresh.seg[kCs].limit, 0xFFFFFFFFu);
  for (SegReg r : {kDs, kEs, kSs, kFs, kGs}) {
    EXPECT_EQ(fresh.seg[r].selector, 0x10);
    EXPECT_EQ(fresh.seg[r].attr, 0x0C93);
    EXPECT_EQ(fresh.seg[r].base, 0u);
  }
  EXPECT_EQ(fresh.gdtr.limit, 0);
  EXPECT_EQ(fresh.idtr.base, 0u);
}

TEST_F(SegmentsTest, LoadSetsAccessedBitAndCache) {
  EXPECT_EQ(u8(kGdt + 2 * 8 + 5), 0x92);
  load_segment(cpu, mem, kDs, 0x10);
  EXPECT_EQ(u8(kGdt + 2 * 8 + 5), 0x93);
  EXPECT_EQ(cpu.seg[kDs].attr, 0x0C93);
  EXPECT_EQ(cpu.seg[kDs].limit, 0xFFFFFFFFu);
  load_segment(cpu, mem, kFs, 0x60);
  EXPECT_EQ(cpu.seg[kFs].base, 0x5000u);
  EXPECT_EQ(cpu.seg[kFs].limit, 0xFFFu);
}

TEST_F(SegmentsTest, NullSelectorLoadsUnusableDataSegmentButNotSs) {
  load_segment(cpu, mem, kGs, 0x0003);
  EXPECT_EQ(cpu.seg[kGs].selector, 3);
  EXPECT_FALSE(segment_usable(cpu.seg[kGs]));
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0), kGP, 0);
}

TEST_F(SegmentsTest, SsChecks) {
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x13), kGP, 0x10);  // RPL != CPL
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x50), kGP, 0x50);  // read-only
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x20), kGP, 0x20);  // DPL != CPL
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x08), kGP, 0x08);  // code
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x30), kSS, 0x30);  // not present
  EXPECT_EQ(cpu.seg[kSs].selector, 0x10);
}

TEST_F(SegmentsTest, DataSegmentFaults) {
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x30), kNP, 0x30);
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x8B), kGP, 0x88);  // beyond the GDT limit
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x58), kGP, 0x58);  // execute-only code
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x28), kGP, 0x28);  // TSS
  EXPECT_EQ(expect_fault([&] { load_segment(cpu, mem, kCs, 0x08); }).vector, kUD);
  load_segment(cpu, mem, kDs, 0x08);  // readable code is fine
  EXPECT_EQ(cpu.seg[kDs].selector, 0x08);
}

TEST_F(SegmentsTest, UserPrivilegeChecks) {
  enter_user();
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x10), kGP, 0x10);  // DPL 0 < CPL 3
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x13), kGP, 0x10);
  EXPECT_FAULT(load_segment(cpu, mem, kSs, 0x20), kGP, 0x20);  // RPL 0 != CPL 3
  load_segment(cpu, mem, kEs, 0x3B);                           // conforming code ignores privilege
  EXPECT_EQ(cpu.seg[kEs].selector, 0x3B);
  load_segment(cpu, mem, kSs, 0x23);
  EXPECT_EQ(segment_dpl(cpu.seg[kSs]), 3);
}

TEST_F(SegmentsTest, LdtSelectors) {
  set_desc(kLdt, 1, 0x20000, 0xFFFF, 0x92, 0x4);
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x0C), kGP, 0x0C);  // no LDT yet
  EXPECT_FAULT(lldt(cpu, mem, 0x10), kGP, 0x10);
  lldt(cpu, mem, 0x48);
  EXPECT_EQ(sldt(cpu), 0x48);
  load_segment(cpu, mem, kDs, 0x0C);
  EXPECT_EQ(cpu.seg[kDs].base, 0x20000u);
  EXPECT_FAULT(load_segment(cpu, mem, kDs, 0x14), kGP, 0x14);  // beyond LDT limit 0x0F
}

// ---- stack helpers ----

TEST_F(SegmentsTest, SixteenBitStackWrapsSp) {
  cpu.seg[kSs] = cache(0x80);
  cpu.gpr[kEsp] = 0x12340000;
  push32(cpu, mem, 0xCAFEF00D);
  EXPECT_EQ(cpu.gpr[kEsp], 0x1234FFFCu);
  EXPECT_EQ(u32(0x100000 + 0xFFFC), 0xCAFEF00Du);
  EXPECT_EQ(pop32(cpu, mem), 0xCAFEF00Du);
  EXPECT_EQ(cpu.gpr[kEsp], 0x12340000u);
}

TEST_F(SegmentsTest, StackLimitViolationIsSs) {
  cpu.seg[kSs] = cache(0x60);
  cpu.gpr[kEsp] = 2;
  EXPECT_FAULT(push32(cpu, mem, 1), kSS, 0);
  EXPECT_EQ(cpu.gpr[kEsp], 2u);
  push16(cpu, mem, 0xBEEF);
  EXPECT_EQ(u16(0x5000), 0xBEEF);
  cpu.gpr[kEsp] = 0xFFE;
  EXPECT_FAULT(pop32(cpu, mem), kSS, 0);
}

TEST_F(SegmentsTest, ExpandDownLimits) {
  Segment s{0x10, uint16_t(kAttrP | kAttrS | 0x6), 0, 0x0FFF};  // expand-down, B=0
  EXPECT_FALSE(segment_fits(s, 0x0FFF, 1));
  EXPECT_TRUE(segment_fits(s, 0x1000, 4));
  EXPECT_TRUE(segment_fits(s, 0xFFFC, 4));
  EXPECT_FALSE(segment_fits(s, 0xFFFD, 4));
}

// ---- far JMP / CALL / RET ----

TEST_F(SegmentsTest, FarJumpSamePrivilege) {
  far_jump(cpu, mem, 0x08, 0x1234);
  EXPECT_EQ(cpu.eip, 0x1234u);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
  EXPECT_EQ(u8(kGdt + 8 + 5), 0x9B);                        // accessed
  EXPECT_FAULT(far_jump(cpu, mem, 0x1B, 0), kGP, 0x18);     // DPL 3 != CPL 0
  EXPECT_FAULT(far_jump(cpu, mem, 0x70, 0x10000), kGP, 0);  // beyond the limit
  EXPECT_FAULT(far_jump(cpu, mem, 0x10, 0), kGP, 0x10);     // data
  EXPECT_FAULT(far_jump(cpu, mem, 0, 0), kGP, 0);
  EXPECT_EQ(cpu.eip, 0x1234u);
}

TEST_F(SegmentsTest, FarJumpToConformingKeepsCpl) {
  enter_user();
  far_jump(cpu, mem, 0x38, 0x500);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x3B);
  EXPECT_EQ(cpu.cpl, 3);
}

TEST_F(SegmentsTest, FarJumpThroughCallGate) {
  far_jump(cpu, mem, 0x68, 0xDEAD);  // the gate supplies the offset
  EXPECT_EQ(cpu.eip, kGateTarget);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack);
  enter_user();
  EXPECT_FAULT(far_jump(cpu, mem, 0x43, 0), kGP, 0x08);  // JMP cannot raise privilege
  EXPECT_FAULT(far_jump(cpu, mem, 0x6B, 0), kGP, 0x68);  // gate DPL 0 < CPL 3
}

TEST_F(SegmentsTest, FarCallAndReturnSamePrivilege) {
  cpu.eip = 0x100;
  far_call(cpu, mem, 0x08, 0x2000, true, 0x1111);
  EXPECT_EQ(cpu.eip, 0x2000u);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack - 8);
  EXPECT_EQ(u32(kKernelStack - 8), 0x1111u);
  EXPECT_EQ(u32(kKernelStack - 4), 0x08u);
  far_return(cpu, mem, 8, true);
  EXPECT_EQ(cpu.eip, 0x1111u);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack + 8);
}

TEST_F(SegmentsTest, FarCallSixteenBitPushesWords) {
  far_call(cpu, mem, 0x70, 0x300, false, 0x4444);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack - 4);
  EXPECT_EQ(u16(kKernelStack - 4), 0x4444);
  EXPECT_EQ(u16(kKernelStack - 2), 0x08);
  EXPECT_FALSE(cpu.seg[kCs].attr & kAttrDb);
  far_return(cpu, mem, 0, false);
  EXPECT_EQ(cpu.eip, 0x4444u);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack);
}

TEST_F(SegmentsTest, CallGateToRingZeroAndBack) {
  enter_user();
  cpu.gpr[kEsp] = kUserStack - 8;
  put32(kUserStack - 8, 0xAAAA);
  put32(kUserStack - 4, 0xBBBB);
  far_call(cpu, mem, 0x43, 0, true, 0x401005);
  EXPECT_EQ(cpu.cpl, 0);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
  EXPECT_EQ(cpu.seg[kSs].selector, 0x10);
  EXPECT_EQ(cpu.eip, kGateTarget);
  const uint32_t sp = kKernelStack - 24;
  ASSERT_EQ(cpu.gpr[kEsp], sp);
  EXPECT_EQ(u32(sp), 0x401005u);
  EXPECT_EQ(u32(sp + 4), 0x1Bu);
  EXPECT_EQ(u32(sp + 8), 0xAAAAu);
  EXPECT_EQ(u32(sp + 12), 0xBBBBu);
  EXPECT_EQ(u32(sp + 16), kUserStack - 8);
  EXPECT_EQ(u32(sp + 20), 0x23u);

  load_segment(cpu, mem, kDs, 0x10);
  far_return(cpu, mem, 8, true);  // RET 8 releases the parameters on both stacks
  EXPECT_EQ(cpu.cpl, 3);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x1B);
  EXPECT_EQ(cpu.seg[kSs].selector, 0x23);
  EXPECT_EQ(cpu.gpr[kEsp], kUserStack);
  EXPECT_EQ(cpu.eip, 0x401005u);
  EXPECT_EQ(cpu.seg[kDs].selector, 0);  // DPL 0 data nulled on the way out
  EXPECT_FALSE(segment_usable(cpu.seg[kDs]));
  EXPECT_EQ(cpu.seg[kEs].selector, 0x23);
}

TEST_F(SegmentsTest, CallGateWithoutTssStackFaults) {
  enter_user();
  cpu.tr.limit = 8;  // too short to hold SS0
  EXPECT_FAULT(far_call(cpu, mem, 0x43, 0, true, 0), kTS, 0x28);
  EXPECT_EQ(cpu.cpl, 3);
  EXPECT_EQ(cpu.gpr[kEsp], kUserStack);
}

TEST_F(SegmentsTest, FarReturnCannotRaisePrivilege) {
  enter_user();
  cpu.gpr[kEsp] = kUserStack - 8;
  put32(kUserStack - 8, 0x1000);
  put32(kUserStack - 4, 0x08);
  EXPECT_FAULT(far_return(cpu, mem, 0, true), kGP, 0x08);
  EXPECT_EQ(cpu.gpr[kEsp], kUserStack - 8);
}

// ---- IRET ----

class IretTest : public SegmentsTest {
 protected:
  void frame(std::initializer_list<uint32_t> slots) {
    cpu.gpr[kEsp] = kKernelStack - 4 * uint32_t(slots.size());
    uint32_t a = cpu.gpr[kEsp];
    for (uint32_t v : slots) put32(std::exchange(a, a + 4), v);
  }
};

TEST_F(IretTest, SamePrivilegeAtRingZeroLoadsIoplAndIf) {
  frame({0x1234, 0x08, kFlagIopl | kFlagIf | kFlagCf | kFlagAc | 0x2});
  iret(cpu, mem, true);
  EXPECT_EQ(cpu.eip, 0x1234u);
  EXPECT_EQ(guest_eflags(cpu), kFlagIopl | kFlagIf | kFlagCf | kFlagAc | 0x2);
  EXPECT_EQ(cpu.vif, 1);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack);
}

TEST_F(IretTest, UserCannotChangeIoplOrIfWithIoplZero) {
  enter_user();
  frame({0x401000, 0x1B, kFlagIopl | kFlagIf | kFlagZf | 0x2});
  cpu.seg[kSs] = cache(0x23);
  iret(cpu, mem, true);
  EXPECT_EQ(guest_eflags(cpu), kFlagZf | 0x2);
  EXPECT_EQ(cpu.vif, 0);
}

TEST_F(IretTest, UserWithIoplThreeChangesIfButNotIopl) {
  enter_user();
  set_guest_eflags(cpu, kFlagIopl | 0x2);
  frame({0x401000, 0x1B, kFlagIf | 0x2});
  iret(cpu, mem, true);
  EXPECT_EQ(guest_eflags(cpu), kFlagIopl | kFlagIf | 0x2);
}

TEST_F(IretTest, SixteenBitIretKeepsUpperFlags) {
  set_guest_eflags(cpu, kFlagAc | 0x2);
  cpu.seg[kCs] = cache(0x70);
  cpu.gpr[kEsp] = kKernelStack - 6;
  ram.store(GuestPhys{kKernelStack - 6}, uint16_t(0x5678));
  ram.store(GuestPhys{kKernelStack - 4}, uint16_t(0x70));
  ram.store(GuestPhys{kKernelStack - 2}, uint16_t(kFlagSf | 0x2));
  iret(cpu, mem, false);
  EXPECT_EQ(cpu.eip, 0x5678u);
  EXPECT_EQ(guest_eflags(cpu), kFlagAc | kFlagSf | 0x2);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack);
}

TEST_F(IretTest, ToUserSwitchesStackAndNullsKernelData) {
  frame({0x401000, 0x1B, kFlagIf | 0x2, 0x7FF00, 0x23});
  iret(cpu, mem, true);
  EXPECT_EQ(cpu.cpl, 3);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x1B);
  EXPECT_EQ(cpu.seg[kSs].selector, 0x23);
  EXPECT_EQ(segment_dpl(cpu.seg[kSs]), 3);
  EXPECT_EQ(cpu.gpr[kEsp], 0x7FF00u);
  EXPECT_EQ(cpu.eip, 0x401000u);
  EXPECT_EQ(cpu.vif, 1);
  EXPECT_FALSE(segment_usable(cpu.seg[kDs]));  // was the flat DPL 0 data segment
}

TEST_F(IretTest, ToUserWithKernelSsFaultsWithoutChangingState) {
  frame({0x401000, 0x1B, 0x2, 0x7FF00, 0x10});
  EXPECT_FAULT(iret(cpu, mem, true), kGP, 0x10);
  EXPECT_EQ(cpu.cpl, 0);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack - 20);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
}

TEST_F(IretTest, Virtual8086IsUnimplementedAndNtReturnsToTheBackLink) {
  frame({0x1000, 0x08, kFlagVm | 0x2});
  EXPECT_FAULT(iret(cpu, mem, true), kGP, 0);
  // NT: a task return (task_switch_test.cc); a null back link is #TS(0).
  frame({0x1000, 0x08, 0x2});
  set_guest_eflags(cpu, kFlagNt | 0x2);
  EXPECT_FAULT(iret(cpu, mem, true), kTS, 0);
}

// ---- system tables ----

TEST_F(SegmentsTest, LgdtSgdtRoundTrip) {
  ram.store(GuestPhys{0x6000}, uint16_t(0x7F));
  ram.store(GuestPhys{0x6002}, uint32_t(0x12345678));
  lidt(cpu, mem, 0x6000);
  EXPECT_EQ(cpu.idtr.base, 0x12345678u);
  EXPECT_EQ(cpu.idtr.limit, 0x7F);
  sidt(cpu, mem, 0x6010);
  EXPECT_EQ(u16(0x6010), 0x7F);
  EXPECT_EQ(u32(0x6012), 0x12345678u);
  lgdt(cpu, mem, 0x6000, false);  // 16-bit operand: 24-bit base
  EXPECT_EQ(cpu.gdtr.base, 0x345678u);
  sgdt(cpu, mem, 0x6020);
  EXPECT_EQ(u32(0x6022), 0x345678u);
  cpu.cpl = 3;
  EXPECT_FAULT(lgdt(cpu, mem, 0x6000), kGP, 0);
}

TEST_F(SegmentsTest, LtrMarksTssBusy) {
  cpu.tr = null_segment(0);
  EXPECT_FAULT(ltr(cpu, mem, 0x10), kGP, 0x10);
  EXPECT_FAULT(ltr(cpu, mem, 0), kGP, 0);
  ltr(cpu, mem, 0x28);
  EXPECT_EQ(u8(kGdt + 5 * 8 + 5), 0x8B);
  EXPECT_EQ(cpu.tr.attr & kAttrTypeMask, kTss32Busy);
  EXPECT_EQ(cpu.tr.base, kTss);
  EXPECT_EQ(cpu.tr.limit, 0x67u);
  EXPECT_EQ(str(cpu), 0x28);
  EXPECT_FAULT(ltr(cpu, mem, 0x28), kGP, 0x28);  // already busy
  cpu.cpl = 3;
  EXPECT_FAULT(ltr(cpu, mem, 0x28), kGP, 0);
}

TEST_F(SegmentsTest, LarAndLsl) {
  EXPECT_EQ(lar(cpu, mem, 0x1B).value, 0x00C0FA00u);
  EXPECT_TRUE(lar(cpu, mem, 0x28).ok);
  EXPECT_EQ(lar(cpu, mem, 0x28).value, 0x00008900u);
  EXPECT_TRUE(lar(cpu, mem, 0x40).ok);   // call gate
  EXPECT_FALSE(lar(cpu, mem, 0x78).ok);  // interrupt gate
  EXPECT_FALSE(lar(cpu, mem, 0).ok);
  EXPECT_FALSE(lar(cpu, mem, 0x88).ok);  // beyond the GDT
  EXPECT_EQ(lsl(cpu, mem, 0x28).value, 0x67u);
  EXPECT_EQ(lsl(cpu, mem, 0x10).value, 0xFFFFFFFFu);
  EXPECT_EQ(lsl(cpu, mem, 0x60).value, 0xFFFu);
  EXPECT_FALSE(lsl(cpu, mem, 0x40).ok);  // gates have no limit
  enter_user();
  EXPECT_FALSE(lar(cpu, mem, 0x10).ok);  // DPL 0 invisible at CPL 3
  EXPECT_TRUE(lar(cpu, mem, 0x38).ok);   // conforming code is visible
  EXPECT_TRUE(lsl(cpu, mem, 0x23).ok);
  EXPECT_FALSE(lsl(cpu, mem, 0x28).ok);  // DPL 0 TSS
}

TEST_F(SegmentsTest, VerrVerw) {
  EXPECT_TRUE(verr(cpu, mem, 0x08).ok);
  EXPECT_FALSE(verr(cpu, mem, 0x58).ok);  // execute-only
  EXPECT_TRUE(verw(cpu, mem, 0x10).ok);
  EXPECT_FALSE(verw(cpu, mem, 0x50).ok);  // read-only
  EXPECT_FALSE(verw(cpu, mem, 0x08).ok);  // code is never writable
  EXPECT_FALSE(verr(cpu, mem, 0x28).ok);  // system
  enter_user();
  EXPECT_FALSE(verr(cpu, mem, 0x10).ok);
  EXPECT_TRUE(verw(cpu, mem, 0x23).ok);
  EXPECT_TRUE(verr(cpu, mem, 0x3B).ok);  // conforming readable code
}

}  // namespace
}  // namespace tv::bt
