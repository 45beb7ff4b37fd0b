// Hardware task switches against a GDT, IDT and TSSs built in guest RAM:
// what a switch saves into the old TSS and loads from the new one, the
// busy bits, back link and NT for JMP, CALL, IRET and events, the checks
// before the commit point (registers unchanged) and the faults after it
// (raised in the new task), 16-bit TSSs and the CR3 load.
#include "bt/x86/task_switch.h"

#include <gtest/gtest.h>

#include "bt/x86/exceptions.h"

namespace tv::bt {
namespace {

constexpr uint32_t kGdt = 0x1000, kIdt = 0x2000, kTssA = 0x3000, kTssB = 0x3100, kTss16 = 0x3200,
                   kTssSmall = 0x3300, kLdt = 0x4000;
constexpr uint32_t kStackA = 0x90000, kStackB = 0x80000;
constexpr uint32_t kEipA = 0xC0001000, kEipB = 0x5000;
constexpr uint32_t kFlagsA = kFlagCf | kFlagIf | 0x2;
constexpr uint16_t kSelA = 0x28, kSelB = 0x30, kSel16 = 0x38, kGate = 0x40, kUserGate = 0x48,
                   kSelSmall = 0x50, kSelLdt = 0x58, kAbsentData = 0x60, kAbsentTss = 0x68,
                   kGateToData = 0x70, kSmallCode = 0x78;
constexpr uint32_t kDfHandler = 0x8888;

class TaskSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_flat_protected_mode(cpu);
    set_desc(1, 0, 0xFFFFF, 0x9A, 0xC);      // 0x08 kernel code
    set_desc(2, 0, 0xFFFFF, 0x92, 0xC);      // 0x10 kernel data
    set_desc(3, 0, 0xFFFFF, 0xFA, 0xC);      // 0x1B user code
    set_desc(4, 0, 0xFFFFF, 0xF2, 0xC);      // 0x23 user data
    set_desc(5, kTssA, 0x67, 0x8B, 0);       // 0x28 TSS A, busy (the current task)
    set_desc(6, kTssB, 0x67, 0x89, 0);       // 0x30 TSS B, available
    set_desc(7, kTss16, 0x2B, 0x81, 0);      // 0x38 16-bit TSS, available
    set_gate(8, kSelB, 0x85);                // 0x40 task gate to B, DPL 0
    set_gate(9, kSelB, 0xE5);                // 0x48 task gate to B, DPL 3
    set_desc(10, kTssSmall, 0x60, 0x89, 0);  // 0x50 TSS with too small a limit
    set_desc(11, kLdt, 0x0F, 0x82, 0);       // 0x58 LDT
    set_desc(12, 0, 0xFFFFF, 0x12, 0xC);     // 0x60 data, not present
    set_desc(13, kTssSmall, 0x67, 0x09, 0);  // 0x68 TSS, not present
    set_gate(14, 0x10, 0x85);                // 0x70 task gate to a data segment
    set_desc(15, 0, 0xFFFF, 0x9A, 0x4);      // 0x78 code, limit 64 KiB
    cpu.gdtr = {kGdt, 16 * 8 - 1};
    cpu.idtr = {kIdt, 256 * 8 - 1};
    cpu.tr = make_segment(kSelA, *find_descriptor(cpu, mem, kSelA));
    for (unsigned i = 0; i < 8; ++i) cpu.gpr[i] = 0xA0000000 + i;
    cpu.gpr[kEsp] = kStackA;
    cpu.eip = kEipA;
    set_guest_eflags(cpu, kFlagsA);
    fill_b();
  }

  // Task B: kernel segments, its own stack and registers 0xB0000000 + i.
  void fill_b() {
    put32(kTssB + 0x20, kEipB);
    put32(kTssB + 0x24, 0x2);
    for (unsigned i = 0; i < 8; ++i) put32(kTssB + 0x28 + 4 * i, 0xB0000000 + i);
    put32(kTssB + 0x38, kStackB);
    for (unsigned r = 0; r < kNumSegRegs; ++r) put32(kTssB + 0x48 + 4 * r, r == kCs ? 0x08 : 0x10);
  }
  void set_b_segment(SegReg r, uint16_t sel) { put32(kTssB + 0x48 + 4 * r, sel); }

  void set_desc(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
    const uint32_t lo = (limit & 0xFFFF) | (base << 16);
    const uint32_t hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                        (uint32_t(flags) << 20) | (base & 0xFF000000);
    put32(kGdt + index * 8, lo);
    put32(kGdt + index * 8 + 4, hi);
  }
  void set_gate(unsigned index, uint16_t sel, uint8_t access) {
    put32(kGdt + index * 8, uint32_t(sel) << 16);
    put32(kGdt + index * 8 + 4, uint32_t(access) << 8);
  }
  void set_idt(uint8_t vector, uint16_t sel, uint32_t offset, uint8_t access) {
    put32(kIdt + vector * 8u, (offset & 0xFFFF) | (uint32_t(sel) << 16));
    put32(kIdt + vector * 8u + 4, (offset & 0xFFFF0000) | (uint32_t(access) << 8));
  }
  uint8_t type_byte(uint16_t sel) { return ram.load<uint8_t>(GuestPhys{kGdt + (sel & ~7u) + 5}); }
  uint32_t u32(uint32_t addr) { return ram.load<uint32_t>(GuestPhys{addr}); }
  uint16_t u16(uint32_t addr) { return ram.load<uint16_t>(GuestPhys{addr}); }
  void put32(uint32_t addr, uint32_t v) { ram.store(GuestPhys{addr}, v); }
  void put16(uint32_t addr, uint16_t v) { ram.store(GuestPhys{addr}, v); }

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

  // The old task's registers, which a fault before the commit point keeps.
  void expect_still_in_a() {
    EXPECT_EQ(cpu.tr.selector, kSelA);
    EXPECT_EQ(cpu.eip, kEipA);
    EXPECT_EQ(cpu.gpr[kEax], 0xA0000000u);
    EXPECT_EQ(cpu.gpr[kEsp], kStackA);
    EXPECT_EQ(guest_eflags(cpu), kFlagsA);
    EXPECT_FALSE(cpu.cr0 & kCr0Ts);
    EXPECT_EQ(type_byte(kSelA), 0x8B);
    EXPECT_EQ(type_byte(kSelB), 0x89);
  }

  GuestMemory ram{16 << 20};
  CpuState cpu;
  LinearMemory mem{ram, cpu};
};

#define EXPECT_FAULT(expr, vec, err, after_commit) \
  do {                                             \
    GuestFault f_ = expect_fault([&] { expr; });   \
    EXPECT_EQ(f_.vector, vec);                     \
    EXPECT_TRUE(f_.has_error_code);                \
    EXPECT_EQ(f_.error_code, uint32_t(err));       \
    EXPECT_EQ(f_.committed, after_commit);         \
  } while (0)

TEST_F(TaskSwitchTest, JumpSavesTheOldTaskAndLoadsTheNew) {
  far_jump(cpu, mem, kSelB, 0);
  // The old TSS: EIP (the next instruction), EFLAGS, registers, selectors.
  EXPECT_EQ(u32(kTssA + 0x20), kEipA);
  EXPECT_EQ(u32(kTssA + 0x24), kFlagsA);
  for (unsigned i = 0; i < 8; ++i)
    EXPECT_EQ(u32(kTssA + 0x28 + 4 * i), i == kEsp ? kStackA : 0xA0000000 + i);
  EXPECT_EQ(u16(kTssA + 0x4C), 0x08);
  EXPECT_EQ(u16(kTssA + 0x54), 0x10);
  // JMP: the old task is no longer busy, the new one is; no back link.
  EXPECT_EQ(type_byte(kSelA), 0x89);
  EXPECT_EQ(type_byte(kSelB), 0x8B);
  EXPECT_EQ(u16(kTssB), 0);
  // The new task.
  EXPECT_EQ(cpu.tr.selector, kSelB);
  EXPECT_EQ(cpu.tr.base, kTssB);
  EXPECT_EQ(cpu.tr.attr & kAttrTypeMask, kTss32Busy);
  EXPECT_EQ(cpu.eip, kEipB);
  EXPECT_EQ(cpu.gpr[kEbx], 0xB0000003u);
  EXPECT_EQ(cpu.gpr[kEsp], kStackB);
  EXPECT_EQ(guest_eflags(cpu), 0x2u);
  EXPECT_TRUE(cpu.cr0 & kCr0Ts);
  EXPECT_EQ(cpu.cpl, 0);
  EXPECT_EQ(cpu.seg[kCs].attr, 0x0C9B);
  EXPECT_EQ(cpu.seg[kSs].attr, 0x0C93);
  EXPECT_EQ(cpu.seg[kGs].selector, 0x10);
  EXPECT_FALSE(segment_usable(cpu.ldtr));
}

TEST_F(TaskSwitchTest, CallThroughATaskGateNestsAndIretReturns) {
  far_call(cpu, mem, kGate, 0, true, kEipA + 7);
  EXPECT_EQ(u32(kTssA + 0x20), kEipA + 7);
  EXPECT_EQ(u16(kTssB), kSelA);       // back link
  EXPECT_EQ(type_byte(kSelA), 0x8B);  // both busy
  EXPECT_EQ(type_byte(kSelB), 0x8B);
  EXPECT_EQ(guest_eflags(cpu), kFlagNt | 0x2);
  EXPECT_EQ(cpu.eip, kEipB);

  cpu.gpr[kEax] = 0x55;
  cpu.eip = kEipB + 0x10;  // after the IRET
  iret(cpu, mem, true);
  EXPECT_EQ(cpu.tr.selector, kSelA);
  EXPECT_EQ(cpu.eip, kEipA + 7);
  EXPECT_EQ(cpu.gpr[kEax], 0xA0000000u);
  EXPECT_EQ(cpu.gpr[kEsp], kStackA);
  EXPECT_EQ(guest_eflags(cpu), kFlagsA);
  EXPECT_EQ(type_byte(kSelA), 0x8B);
  EXPECT_EQ(type_byte(kSelB), 0x89);  // IRET frees the task it leaves
  // B saved with NT cleared, ready to be called again.
  EXPECT_EQ(u32(kTssB + 0x20), kEipB + 0x10);
  EXPECT_EQ(u32(kTssB + 0x24), 0x2u);
  EXPECT_EQ(u32(kTssB + 0x28), 0x55u);
}

TEST_F(TaskSwitchTest, ChecksBeforeTheCommitPointChangeNothing) {
  EXPECT_FAULT(far_jump(cpu, mem, kSelA, 0), kGP, kSelA, false);  // busy
  EXPECT_FAULT(far_call(cpu, mem, kSelA, 0, true, 0), kGP, kSelA, false);
  EXPECT_FAULT(far_jump(cpu, mem, kSelSmall, 0), kTS, kSelSmall, false);  // limit < 0x67
  EXPECT_FAULT(far_jump(cpu, mem, kAbsentTss, 0), kNP, kAbsentTss, false);
  EXPECT_FAULT(far_jump(cpu, mem, kGateToData, 0), kGP, 0x10, false);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB | 4, 0), kGP, kSelB | 4, false);  // no LDT
  EXPECT_FAULT(far_jump(cpu, mem, kSelB | 3, 0), kGP, kSelB, false);      // RPL > DPL
  put32(kTssB + 0x24, kFlagVm | 0x2);  // virtual-8086 tasks are unimplemented
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kTS, kSelB, false);
  expect_still_in_a();
}

TEST_F(TaskSwitchTest, GateAndTssDplAgainstCpl) {
  cpu.cpl = 3;
  cpu.seg[kCs] = make_segment(0x1B, *find_descriptor(cpu, mem, 0x1B));
  EXPECT_FAULT(far_jump(cpu, mem, kGate | 3, 0), kGP, kGate, false);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB | 3, 0), kGP, kSelB, false);
  far_call(cpu, mem, kUserGate | 3, 0, true, kEipA + 7);  // DPL 3 gate to a DPL 0 TSS
  EXPECT_EQ(cpu.tr.selector, kSelB);
  EXPECT_EQ(cpu.cpl, 0);
}

TEST_F(TaskSwitchTest, TaskReturnNeedsABusyBackLink) {
  set_guest_eflags(cpu, kFlagNt | 0x2);
  put16(kTssA, kSelB);  // available
  EXPECT_FAULT(iret(cpu, mem, true), kTS, kSelB, false);
  put16(kTssA, kSelB | 4);
  EXPECT_FAULT(iret(cpu, mem, true), kTS, kSelB | 4, false);
  EXPECT_EQ(cpu.tr.selector, kSelA);
}

TEST_F(TaskSwitchTest, BadCodeSegmentFaultsInTheNewTask) {
  set_b_segment(kCs, 0x10);  // data
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kTS, 0x10, true);
  EXPECT_EQ(cpu.tr.selector, kSelB);  // committed: the new task's state, partly loaded
  EXPECT_EQ(cpu.eip, kEipB);
  EXPECT_EQ(type_byte(kSelB), 0x8B);
  EXPECT_EQ(u32(kTssA + 0x20), kEipA);
}

TEST_F(TaskSwitchTest, CodeSegmentRplMustMatchDpl) {
  set_b_segment(kCs, 0x0B);  // RPL 3, DPL 0, not conforming
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kTS, 0x08, true);
}

TEST_F(TaskSwitchTest, AbsentStackIsSsAbsentDataIsNp) {
  set_b_segment(kSs, kAbsentData);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kSS, kAbsentData, true);
  SetUp();
  set_b_segment(kDs, kAbsentData);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kNP, kAbsentData, true);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);  // CS and SS were loaded before DS
  EXPECT_TRUE(segment_usable(cpu.seg[kSs]));
}

TEST_F(TaskSwitchTest, NullStackIsTs) {
  set_b_segment(kSs, 0);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kTS, 0, true);
}

TEST_F(TaskSwitchTest, LdtIsLoadedAndChecked) {
  put16(kTssB + 0x60, kSelLdt);
  far_jump(cpu, mem, kSelB, 0);
  EXPECT_EQ(cpu.ldtr.selector, kSelLdt);
  EXPECT_EQ(cpu.ldtr.base, kLdt);
  SetUp();
  put16(kTssB + 0x60, 0x10);  // not an LDT
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kTS, 0x10, true);
}

TEST_F(TaskSwitchTest, EipBeyondTheCodeLimitIsGpInTheNewTask) {
  set_b_segment(kCs, kSmallCode);
  put32(kTssB + 0x20, 0x10000);
  EXPECT_FAULT(far_jump(cpu, mem, kSelB, 0), kGP, 0, true);
}

TEST_F(TaskSwitchTest, ExceptionThroughATaskGatePushesItsErrorCode) {
  set_idt(kGP, kSelB, 0, 0x85);
  ASSERT_EQ(deliver_event(cpu, mem, Event{kGP, EventKind::kException, true, 0x1234}),
            DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.tr.selector, kSelB);
  EXPECT_EQ(u32(kTssA + 0x20), kEipA);  // the faulting instruction
  EXPECT_EQ(u16(kTssB), kSelA);
  EXPECT_EQ(guest_eflags(cpu), kFlagNt | 0x2);
  EXPECT_EQ(cpu.eip, kEipB);
  ASSERT_EQ(cpu.gpr[kEsp], kStackB - 4);
  EXPECT_EQ(u32(kStackB - 4), 0x1234u);
}

TEST_F(TaskSwitchTest, InterruptThroughABusyTaskIsGpWithExt) {
  set_idt(0x20, kSelA, 0, 0x85);  // the current task: busy
  set_idt(kGP, 0x08, kDfHandler, 0x8E);
  ASSERT_EQ(deliver_event(cpu, mem, Event{0x20, EventKind::kExternal}), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, kDfHandler);
  EXPECT_EQ(u32(cpu.gpr[kEsp]), uint32_t(kSelA | 1));
  EXPECT_EQ(cpu.tr.selector, kSelA);
}

TEST_F(TaskSwitchTest, FaultInTheNewTaskIsDeliveredThere) {
  // #GP through a task gate whose task has an absent DS: #NP in task B,
  // and #GP then #NP is a double fault, taken on B's stack at B's EIP.
  set_idt(kGP, kSelB, 0, 0x85);
  set_idt(kDF, 0x08, kDfHandler, 0x8E);
  set_b_segment(kDs, kAbsentData);
  ASSERT_EQ(deliver_event(cpu, mem, Event{kGP, EventKind::kException, true, 0}),
            DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.tr.selector, kSelB);
  EXPECT_EQ(cpu.eip, kDfHandler);
  ASSERT_EQ(cpu.gpr[kEsp], kStackB - 16);
  EXPECT_EQ(u32(kStackB - 16), 0u);     // #DF's error code
  EXPECT_EQ(u32(kStackB - 12), kEipB);  // the new task's EIP
}

TEST_F(TaskSwitchTest, SixteenBitTss) {
  put16(kTss16 + 0x0E, 0x1234);         // IP
  put16(kTss16 + 0x10, kFlagCf | 0x2);  // FLAGS
  for (unsigned i = 0; i < 8; ++i) put16(kTss16 + 0x12 + 2 * i, uint16_t(0xB000 + i));
  for (unsigned r = 0; r < 4; ++r) put16(kTss16 + 0x22 + 2 * r, r == kCs ? 0x08 : 0x10);
  cpu.seg[kFs] = make_segment(0x10, *find_descriptor(cpu, mem, 0x10));
  far_jump(cpu, mem, kSel16, 0);
  EXPECT_EQ(cpu.tr.attr & kAttrTypeMask, kTss16Busy);
  EXPECT_EQ(cpu.eip, 0x1234u);
  EXPECT_EQ(guest_eflags(cpu), kFlagCf | 0x2);
  EXPECT_EQ(cpu.gpr[kEcx], 0xA000B001u);  // the upper half stays
  EXPECT_EQ(cpu.seg[kFs].selector, 0);    // no FS/GS in a 16-bit TSS
  EXPECT_FALSE(segment_usable(cpu.seg[kGs]));

  cpu.gpr[kEdx] = 0x12345678;
  cpu.eip = 0x1240;
  far_jump(cpu, mem, kSelA, 0);  // back to A (no longer busy): saved in 16-bit form
  EXPECT_EQ(u16(kTss16 + 0x0E), 0x1240);
  EXPECT_EQ(u16(kTss16 + 0x12 + 2 * kEdx), 0x5678);
  EXPECT_EQ(u16(kTss16 + 0x24), 0x08);
  EXPECT_EQ(type_byte(kSel16), 0x81);
  EXPECT_EQ(cpu.tr.selector, kSelA);
}

TEST_F(TaskSwitchTest, Cr3IsLoadedOnlyWithPaging) {
  int loads = 0;
  mem.set_cr3_hook([](void* n) { ++*static_cast<int*>(n); }, &loads);
  put32(kTssB + 0x1C, 0x7000);
  far_jump(cpu, mem, kSelB, 0);
  EXPECT_EQ(cpu.cr3, 0u);
  EXPECT_EQ(loads, 0);
  SetUp();
  cpu.cr0 |= kCr0Pg;
  put32(kTssB + 0x1C, 0x7000);
  far_jump(cpu, mem, kSelB, 0);
  EXPECT_EQ(cpu.cr3, 0x7000u);
  EXPECT_EQ(loads, 1);
}

}  // namespace
}  // namespace tv::bt
