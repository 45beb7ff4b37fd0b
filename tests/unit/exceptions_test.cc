// Event delivery through a guest IDT: gate kinds and IF, frame layouts,
// software-interrupt DPL checks, faults during delivery with their error
// codes and EXT bit, #DF escalation and triple fault, and the TSS stack
// switch from CPL 3 (round trip with IRET).
#include "bt/x86/exceptions.h"

#include <gtest/gtest.h>

#include "bt/x86/segments.h"

namespace tv::bt {
namespace {

constexpr uint32_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x3000;
constexpr uint32_t kKernelStack = 0x90000, kUserStack = 0x80000;
constexpr uint8_t kIntGate = 0xE, kTrapGate = 0xF;

// Handler address for a vector, so a test can tell which handler ran.
constexpr uint32_t handler(uint8_t vector) { return 0x10000 + vector * 0x10u; }

class ExceptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_flat_protected_mode(cpu);
    set_desc(1, 0, 0xFFFFF, 0x9A, 0xC);  // 0x08 kernel code
    set_desc(2, 0, 0xFFFFF, 0x92, 0xC);  // 0x10 kernel data
    set_desc(3, 0, 0xFFFFF, 0xFA, 0xC);  // 0x1B user code
    set_desc(4, 0, 0xFFFFF, 0xF2, 0xC);  // 0x23 user data
    set_desc(5, kTss, 0x67, 0x89, 0x0);  // 0x28 32-bit TSS
    set_desc(6, 0, 0xFFFFF, 0x9E, 0xC);  // 0x30 conforming code
    set_desc(7, 0, 0xFFFFF, 0x1A, 0xC);  // 0x38 code, not present
    cpu.gdtr = {kGdt, 8 * 8 - 1};
    cpu.idtr = {kIdt, 256 * 8 - 1};
    ram.store(GuestPhys{kTss + 4}, kKernelStack);
    ram.store(GuestPhys{kTss + 8}, uint32_t(0x10));
    cpu.tr = make_segment(0x28, *find_descriptor(cpu, mem, 0x28));
    for (unsigned v = 0; v < 32; ++v) set_gate(uint8_t(v), kIntGate);
    cpu.gpr[kEsp] = kKernelStack;
    cpu.eip = 0xC0001000;
  }

  void set_desc(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
    const uint32_t lo = (limit & 0xFFFF) | (base << 16);
    const uint32_t hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) |
                        (uint32_t(flags) << 20) | (base & 0xFF000000);
    ram.store(GuestPhys{kGdt + index * 8}, lo);
    ram.store(GuestPhys{kGdt + index * 8 + 4}, hi);
  }
  void set_gate(uint8_t vector, uint8_t type, uint8_t dpl = 0, bool present = true,
                uint16_t sel = 0x08) {
    const uint32_t off = handler(vector);
    const uint32_t access = (present ? 0x80 : 0) | (dpl << 5) | type;
    ram.store(GuestPhys{kIdt + vector * 8u}, (off & 0xFFFF) | (uint32_t(sel) << 16));
    ram.store(GuestPhys{kIdt + vector * 8u + 4}, (off & 0xFFFF0000) | (access << 8));
  }
  void enter_user() {
    cpu.cpl = 3;
    cpu.seg[kCs] = make_segment(0x1B, *find_descriptor(cpu, mem, 0x1B));
    const Segment data = make_segment(0x23, *find_descriptor(cpu, mem, 0x23));
    for (SegReg r : {kSs, kDs, kEs, kFs, kGs}) cpu.seg[r] = data;
    cpu.gpr[kEsp] = kUserStack;
    cpu.eip = 0x401002;
  }
  uint32_t stack(unsigned slot) { return ram.load<uint32_t>(GuestPhys{cpu.gpr[kEsp] + 4 * slot}); }
  DeliveryResult deliver(Event e) { return deliver_event(cpu, mem, e); }

  GuestMemory ram{16 << 20};
  CpuState cpu;
  LinearMemory mem{ram, cpu};
};

Event irq(uint8_t v) { return Event{v, EventKind::kExternal}; }
Event exc(uint8_t v) { return Event{v, EventKind::kException}; }
Event exc(uint8_t v, uint32_t err) { return Event{v, EventKind::kException, true, err}; }

TEST_F(ExceptionsTest, InterruptGateClearsIfAndPushesFrame) {
  set_gate(0x20, kIntGate);
  set_guest_eflags(cpu, kFlagIf | kFlagCf | 0x2);
  ASSERT_EQ(deliver(irq(0x20)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(0x20));
  EXPECT_EQ(cpu.vif, 0);
  EXPECT_EQ(guest_eflags(cpu), kFlagCf | 0x2);
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 12);
  EXPECT_EQ(stack(0), 0xC0001000u);
  EXPECT_EQ(stack(1), 0x08u);
  EXPECT_EQ(stack(2), kFlagIf | kFlagCf | 0x2);
}

TEST_F(ExceptionsTest, TrapGateKeepsIf) {
  set_gate(0x21, kTrapGate);
  set_guest_eflags(cpu, kFlagIf | 0x2);
  ASSERT_EQ(deliver(irq(0x21)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.vif, 1);
}

TEST_F(ExceptionsTest, ErrorCodeIsPushedLast) {
  ASSERT_EQ(deliver(exc(kGP, 0x1234)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kGP));
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 16);
  EXPECT_EQ(stack(0), 0x1234u);
  EXPECT_EQ(stack(1), 0xC0001000u);
}

TEST_F(ExceptionsTest, ClearsTfNtRf) {
  set_gate(kDB, kTrapGate);
  const uint32_t flags = kFlagTf | kFlagNt | kFlagRf | kFlagIf | kFlagIopl | 0x2;
  set_guest_eflags(cpu, flags);
  ASSERT_EQ(deliver(exc(kDB)), DeliveryResult::kDelivered);
  EXPECT_EQ(guest_eflags(cpu), kFlagIf | kFlagIopl | 0x2);
  EXPECT_EQ(stack(2), flags);
}

TEST_F(ExceptionsTest, SixteenBitGatePushesWords) {
  set_gate(0x22, 0x6);  // 16-bit interrupt gate: offset truncated to 16 bits
  ASSERT_EQ(deliver(irq(0x22)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(0x22) & 0xFFFF);
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 6);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{kKernelStack - 6}), 0x1000);
  EXPECT_EQ(ram.load<uint16_t>(GuestPhys{kKernelStack - 4}), 0x08);
}

TEST_F(ExceptionsTest, IntFromUserSwitchesToTssStack) {
  set_gate(0x80, kTrapGate, 3);
  enter_user();
  set_guest_eflags(cpu, kFlagIf | 0x2);
  ASSERT_EQ(deliver(Event{0x80, EventKind::kSoftwareInt, false, 0, 2}), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.cpl, 0);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x08);
  EXPECT_EQ(cpu.seg[kSs].selector, 0x10);
  EXPECT_EQ(cpu.eip, handler(0x80));
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 20);
  EXPECT_EQ(stack(0), 0x401002u);  // the instruction after INT
  EXPECT_EQ(stack(1), 0x1Bu);
  EXPECT_EQ(stack(2), kFlagIf | 0x2);
  EXPECT_EQ(stack(3), kUserStack);
  EXPECT_EQ(stack(4), 0x23u);

  iret(cpu, mem, true);  // and back
  EXPECT_EQ(cpu.cpl, 3);
  EXPECT_EQ(cpu.eip, 0x401002u);
  EXPECT_EQ(cpu.gpr[kEsp], kUserStack);
  EXPECT_EQ(cpu.seg[kSs].selector, 0x23);
  EXPECT_EQ(cpu.seg[kDs].selector, 0x23);  // DPL 3 data survives
}

TEST_F(ExceptionsTest, IntWithGateDplBelowCplRaisesGpAtTheInt) {
  set_gate(0x81, kIntGate, 0);
  enter_user();
  ASSERT_EQ(deliver(Event{0x81, EventKind::kSoftwareInt, false, 0, 2}), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kGP));
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 24);
  EXPECT_EQ(stack(0), 0x81u * 8 + 2);  // IDT bit, no EXT for INT n
  EXPECT_EQ(stack(1), 0x401000u);      // the INT instruction itself
}

TEST_F(ExceptionsTest, IcebpIgnoresGateDpl) {
  enter_user();
  ASSERT_EQ(deliver(Event{kDB, EventKind::kIcebp, false, 0, 1}), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kDB));
  EXPECT_EQ(stack(0), 0x401002u);
}

TEST_F(ExceptionsTest, NotPresentGateRaisesNpWithExt) {
  set_gate(0x21, kIntGate, 0, false);
  ASSERT_EQ(deliver(irq(0x21)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kNP));  // benign first event: no #DF
  EXPECT_EQ(stack(0), 0x21u * 8 + 3);
  EXPECT_EQ(stack(1), 0xC0001000u);
}

TEST_F(ExceptionsTest, IdtLimitExceededRaisesGp) {
  cpu.idtr.limit = 0x30 * 8 - 1;
  ASSERT_EQ(deliver(irq(0x40)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kGP));
  EXPECT_EQ(stack(0), 0x40u * 8 + 3);
}

TEST_F(ExceptionsTest, BadHandlerSegmentRaisesGpOrNp) {
  set_gate(0x22, kIntGate, 0, true, 0x10);  // data segment
  ASSERT_EQ(deliver(irq(0x22)), DeliveryResult::kDelivered);
  EXPECT_EQ(stack(0), 0x11u);
  cpu.gpr[kEsp] = kKernelStack;
  set_gate(0x23, kIntGate, 0, true, 0x38);  // code segment not present
  ASSERT_EQ(deliver(irq(0x23)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kNP));
  EXPECT_EQ(stack(0), 0x39u);
}

TEST_F(ExceptionsTest, NpWhileDeliveringGpBecomesDoubleFault) {
  set_gate(kGP, kIntGate, 0, false);
  ASSERT_EQ(deliver(exc(kGP, 0)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kDF));
  ASSERT_EQ(cpu.gpr[kEsp], kKernelStack - 16);
  EXPECT_EQ(stack(0), 0u);  // #DF's error code is always zero
  EXPECT_EQ(stack(1), 0xC0001000u);
}

TEST_F(ExceptionsTest, ContributoryAfterPageFaultIsDoubleFault) {
  set_gate(kPF, kIntGate, 0, false);
  ASSERT_EQ(deliver(exc(kPF, 2)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kDF));
}

TEST_F(ExceptionsTest, BenignExceptionIsHandledSerially) {
  set_gate(kUD, kIntGate, 0, false);
  ASSERT_EQ(deliver(exc(kUD)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kNP));
  EXPECT_EQ(stack(0), uint32_t(kUD) * 8 + 3);
}

TEST_F(ExceptionsTest, FaultWhileDeliveringDoubleFaultIsTripleFault) {
  set_gate(kGP, kIntGate, 0, false);
  set_gate(kDF, kIntGate, 0, false);
  EXPECT_EQ(deliver(exc(kGP, 0)), DeliveryResult::kTripleFault);
  EXPECT_EQ(cpu.eip, 0xC0001000u);
  EXPECT_EQ(cpu.gpr[kEsp], kKernelStack);
}

TEST_F(ExceptionsTest, ConformingHandlerRunsOnTheCurrentStack) {
  cpu.tr.limit = 8;  // no room for SS0: an inter-privilege delivery raises #TS
  set_gate(kTS, kIntGate, 0, true, 0x30);
  set_gate(0x20, kIntGate);
  enter_user();
  ASSERT_EQ(deliver(irq(0x20)), DeliveryResult::kDelivered);
  EXPECT_EQ(cpu.eip, handler(kTS));
  EXPECT_EQ(cpu.cpl, 3);
  EXPECT_EQ(cpu.seg[kCs].selector, 0x33);
  ASSERT_EQ(cpu.gpr[kEsp], kUserStack - 16);
  EXPECT_EQ(stack(0), 0x29u);  // TSS selector | EXT
}

TEST_F(ExceptionsTest, Helpers) {
  EXPECT_TRUE(pushes_error_code(kPF));
  EXPECT_FALSE(pushes_error_code(kUD));
  EXPECT_TRUE(is_contributory(kNP));
  EXPECT_FALSE(is_contributory(kPF));
  EXPECT_EQ(describe(exc(kGP, 0x10)), "#GP(0x0010)");
  EXPECT_EQ(describe(exc(kUD)), "#UD");
  EXPECT_EQ(describe(Event{0x80, EventKind::kSoftwareInt}), "int 0x80");
  EXPECT_EQ(describe(irq(0x20)), "irq vector 0x20");
}

}  // namespace
}  // namespace tv::bt
