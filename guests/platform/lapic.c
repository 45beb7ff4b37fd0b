/* The local APIC (SDM Vol. 3A ch. 11): the IA32_APIC_BASE MSR and version
 * register, software enable through the SVR, task and processor priority,
 * self-IPIs taken by priority class (pending behind TPR or a higher ISR
 * class, nesting above a lower one), ISR and EOI, and the timer. */
#include "platform.h"

#define MSR_APIC_BASE 0x1B
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)
#define ICR_SELF (1u << 18) /* destination shorthand 01 (SDM 11.6.1) */
#define ICR_ASSERT (1u << 14)
#define DIVIDE_BY_16 0x3 /* SDM Figure 11-10 */

void check_apic_base(void) {
  check(cpuid(1, 0).edx >> 9 & 1, "CPUID.01H:EDX.APIC[9] clear");
  uint64_t base = rdmsr(MSR_APIC_BASE);
  check_eq64(base & ~0xFFFull, LAPIC_BASE, "IA32_APIC_BASE address");
  check(base & APIC_BASE_ENABLE, "IA32_APIC_BASE global enable (bit 11) clear: %llx",
        (unsigned long long)base);
  check(base & APIC_BASE_BSP, "IA32_APIC_BASE BSP (bit 8) clear: %llx", (unsigned long long)base);
  /* Max LVT entry 5 (six entries) and version 0x14 on QEMU and on us. */
  check_eq(lapic_read(LAPIC_VERSION) & 0x00FF00FF, 0x00050014, "LAPIC version: max LVT, version");
  check_eq(lapic_read(LAPIC_ID) >> 24, 0, "BSP LAPIC ID");
}

static void self_ipi(uint8_t vector) {
  lapic_write(LAPIC_ICR_HIGH, 0);
  lapic_write(LAPIC_ICR_LOW, ICR_SELF | ICR_ASSERT | vector);
}

/* What the priority handler saw. Interrupt gates keep IF clear in the
 * handler unless a mode below opens it. */
enum nest_mode { PLAIN, LOW_NESTS_HIGH, HIGH_BLOCKS_LOW };
static volatile enum nest_mode mode;
static volatile uint8_t order[8];
static volatile unsigned order_len;
static volatile uint8_t isr_set_in_handler[256], isr_clear_after_eoi[256];
static volatile uint32_t ppr_in_high, low_in_service_in_high, low_taken_under_high,
    low_pending_under_high;

static void priority_handler(struct trap_frame *frame) {
  uint8_t v = (uint8_t)frame->vector;
  if (order_len < sizeof order) order[order_len++] = v;
  isr_set_in_handler[v] = lapic_vector_bit(LAPIC_ISR, v);
  if (v == VEC_HIGH) {
    ppr_in_high = lapic_read(LAPIC_PPR);
    low_in_service_in_high = lapic_vector_bit(LAPIC_ISR, VEC_LOW);
  }
  if (v == VEC_LOW && mode == LOW_NESTS_HIGH) {
    /* A higher class interrupts this handler as soon as IF is set. */
    mode = PLAIN;
    self_ipi(VEC_HIGH);
    wait_count(&vector_count[VEC_HIGH], vector_count[VEC_HIGH] + 1);
  }
  if (v == VEC_HIGH && mode == HIGH_BLOCKS_LOW) {
    /* A lower class waits in IRR while this one is in service. */
    mode = PLAIN;
    uint32_t before = vector_count[VEC_LOW];
    self_ipi(VEC_LOW);
    spin_open(QUIET_CYCLES);
    low_taken_under_high = vector_count[VEC_LOW] - before;
    low_pending_under_high = lapic_vector_bit(LAPIC_IRR, VEC_LOW);
  }
  lapic_write(LAPIC_EOI, 0);
  isr_clear_after_eoi[v] = !lapic_vector_bit(LAPIC_ISR, v);
  vector_count[v]++;
}

static void reset_log(void) {
  order_len = 0;
  for (unsigned i = 0; i < sizeof order; i++) order[i] = 0;
}

static void check_order(uint8_t first, uint8_t second, const char *what) {
  check(order_len == 2 && order[0] == first && order[1] == second,
        "%s: %u interrupts taken, order %x %x, want %x %x", what, order_len, order[0], order[1],
        first, second);
}

static void check_handler_isr(uint8_t vector) {
  check(isr_set_in_handler[vector], "ISR bit %x clear inside its handler", vector);
  check(isr_clear_after_eoi[vector], "ISR bit %x still set after EOI", vector);
}

/* TPR 0x50 holds back class 4; so does 0x4F (same class); 0x3F lets it in
 * (SDM 11.8.3: a vector is delivered when its class exceeds PPR's). */
static void check_tpr(void) {
  lapic_write(LAPIC_TPR, 0x50);
  check_eq(lapic_read(LAPIC_TPR), 0x50, "TPR read-back");
  check_eq(lapic_read(LAPIC_PPR), 0x50, "PPR with TPR 0x50 and nothing in service");
  self_ipi(VEC_TPR_TEST);
  check(lapic_vector_bit(LAPIC_IRR, VEC_TPR_TEST), "self-IPI 0x45 not in IRR");
  spin_open(QUIET_CYCLES);
  check_eq(vector_count[VEC_TPR_TEST], 0, "vector 0x45 taken with TPR 0x50");
  lapic_write(LAPIC_TPR, 0x4F);
  spin_open(QUIET_CYCLES);
  check_eq(vector_count[VEC_TPR_TEST], 0, "vector 0x45 taken with TPR 0x4F");
  check(lapic_vector_bit(LAPIC_IRR, VEC_TPR_TEST), "vector 0x45 left IRR while blocked");
  lapic_write(LAPIC_TPR, 0x3F);
  check(wait_count(&vector_count[VEC_TPR_TEST], 1), "vector 0x45 not taken after TPR 0x3F");
  lapic_write(LAPIC_TPR, 0);
  check_eq(vector_count[VEC_TPR_TEST], 1, "vector 0x45 interrupts");
  check(!lapic_vector_bit(LAPIC_IRR, VEC_TPR_TEST), "vector 0x45 still in IRR after delivery");
  check_handler_isr(VEC_TPR_TEST);
}

void check_lapic_priorities(void) {
  lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
  check_eq(lapic_read(LAPIC_SVR) & 0x1FF, SVR_ENABLE | SPURIOUS_VECTOR, "SVR read-back");
  set_exception_handler(VEC_TPR_TEST, priority_handler);
  set_exception_handler(VEC_LOW, priority_handler);
  set_exception_handler(VEC_HIGH, priority_handler);
  check_tpr();

  /* Both pending at once: the higher class is taken first. */
  reset_log();
  self_ipi(VEC_LOW);
  self_ipi(VEC_HIGH);
  check(lapic_vector_bit(LAPIC_IRR, VEC_LOW) && lapic_vector_bit(LAPIC_IRR, VEC_HIGH),
        "two self-IPIs not both in IRR");
  wait_count(&order_len, 2);
  check_order(VEC_HIGH, VEC_LOW, "two pending self-IPIs");
  check_handler_isr(VEC_HIGH);
  check_handler_isr(VEC_LOW);

  /* A higher class nests inside a lower one's handler; PPR then holds
   * the higher in-service class. */
  reset_log();
  mode = LOW_NESTS_HIGH;
  self_ipi(VEC_LOW);
  wait_count(&order_len, 2);
  check_order(VEC_LOW, VEC_HIGH, "higher class inside a handler");
  check(low_in_service_in_high, "ISR bit 0x32 clear while its handler is interrupted");
  check_eq(ppr_in_high, 0x60, "PPR with 0x32 and 0x61 in service");

  /* A lower class waits until the higher handler's EOI. */
  reset_log();
  mode = HIGH_BLOCKS_LOW;
  self_ipi(VEC_HIGH);
  wait_count(&order_len, 2);
  check_order(VEC_HIGH, VEC_LOW, "lower class inside a handler");
  check_eq(low_taken_under_high, 0, "vector 0x32 taken while 0x61 in service");
  check(low_pending_under_high, "vector 0x32 not pending while 0x61 in service");
  check_eq(lapic_read(LAPIC_PPR), 0, "PPR after every EOI");
  for (unsigned i = 0; i < 8; i++) check_eq(lapic_read(LAPIC_ISR + 0x10 * i), 0, "ISR at the end");
}

/* Waits, bounded, for the masked timer to count down to 0. */
static bool wait_current_zero(void) {
  uint64_t start = rdtsc();
  while (lapic_read(LAPIC_TIMER_CURRENT) != 0 && rdtsc() - start < WAIT_CYCLES) {
  }
  return lapic_read(LAPIC_TIMER_CURRENT) == 0;
}

/* The timer counts the bus clock divided by 16 (1 GHz on QEMU and on us,
 * not relied on): 10000 counts are 160 us there, 100000 1.6 ms. */
void check_lapic_timer(void) {
  set_exception_handler(VEC_TIMER_ONESHOT, apic_counting_handler);
  set_exception_handler(VEC_TIMER_PERIODIC, apic_counting_handler);
  set_exception_handler(VEC_TIMER_MASKED, apic_counting_handler);
  lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
  check_eq(lapic_read(LAPIC_TIMER_DIVIDE) & 0xB, DIVIDE_BY_16, "divide configuration read-back");

  lapic_write(LAPIC_LVT_TIMER, VEC_TIMER_ONESHOT);
  lapic_write(LAPIC_TIMER_INITIAL, 10000);
  check_eq(lapic_read(LAPIC_TIMER_INITIAL), 10000, "initial count read-back");
  check(lapic_read(LAPIC_TIMER_CURRENT) <= 10000, "current count above the initial count");
  check(wait_count(&vector_count[VEC_TIMER_ONESHOT], 1), "no one-shot timer interrupt");
  spin_open(QUIET_CYCLES);
  check_eq(vector_count[VEC_TIMER_ONESHOT], 1, "one-shot timer interrupts");
  check_eq(lapic_read(LAPIC_TIMER_CURRENT), 0, "current count after the one-shot");

  /* Periodic: interrupts keep coming (HLT waits once the first came) and
   * the current count reloads instead of staying at 0. */
  lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_TIMER_PERIODIC);
  lapic_write(LAPIC_TIMER_INITIAL, 100000);
  volatile uint32_t *periodic = &vector_count[VEC_TIMER_PERIODIC];
  if (check(wait_count(periodic, 1), "no periodic timer interrupt")) {
    check(halt_until(periodic, 6, 1000), "%u periodic interrupts, want 6", *periodic);
    unsigned nonzero = 0, above = 0;
    for (unsigned i = 0; i < 4; i++) {
      halt_until(periodic, *periodic + 1, 1000);
      uint32_t current = lapic_read(LAPIC_TIMER_CURRENT);
      nonzero += current != 0;
      above += current > 100000;
    }
    check(nonzero > 0, "periodic current count stays 0 after interrupts");
    check_eq(above, 0, "periodic current counts above the initial count");
  }
  /* Initial count 0 stops the timer (SDM 11.5.4). An expiry just before
   * may still wait in IRR: let it in before counting. */
  lapic_write(LAPIC_TIMER_INITIAL, 0);
  spin_open(QUIET_CYCLES);
  uint32_t stopped = *periodic;
  spin_open(QUIET_CYCLES);
  check_eq(*periodic, stopped, "periodic interrupts after initial count 0");

  /* Masked: the timer still counts down, but nothing is delivered. */
  lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER_MASKED);
  lapic_write(LAPIC_TIMER_INITIAL, 10000);
  check(wait_current_zero(), "masked timer does not count down");
  spin_open(QUIET_CYCLES);
  check_eq(vector_count[VEC_TIMER_MASKED], 0, "masked timer interrupts");
  check(!lapic_vector_bit(LAPIC_IRR, VEC_TIMER_MASKED), "masked timer vector in IRR");
}
