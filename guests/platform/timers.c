/* Interrupts and time sources outside the CPU: the I/O APIC (82093AA
 * datasheet) delivering the 8254's IRQ0, the HPET (IA-PC HPET 1.0a) and
 * the ACPI PM timer (ACPI 6.x 4.8.3.3), the last two against each other. */
#include "platform.h"

/* HPET registers (spec 2.3.1, Table 2). */
#define HPET_CAP 0x000
#define HPET_PERIOD 0x004
#define HPET_CONFIG 0x010
#define HPET_ENABLE_CNF 1u
#define HPET_TIMER0_CONFIG 0x100
#define HPET_TIMER0_ROUTE_CAP 0x104
#define HPET_TIMER0_COMPARATOR 0x108
#define HPET_TN_INT_ENB (1u << 2)
#define HPET_TN_ROUTE_SHIFT 9
#define HPET_PERIOD_FS 10000000u /* 10 ns, 100 MHz: QEMU's and ours */

static void check_redirection_readback(void) {
  /* Pin 11 has no device on either machine. Lowest priority, logical,
   * level, masked, vector 0xB3, destination 0x01: every writable field of
   * the low half but polarity; the read-only delivery status and remote
   * IRR read 0 for a masked, idle pin. */
  const uint32_t low = IOAPIC_MASKED | IOAPIC_LEVEL | IOAPIC_LOGICAL | 0x100 | 0xB3;
  ioapic_route(11, low, 0x01000000);
  check_eq(ioapic_read(IOREDTBL(11)), low, "redirection entry 11 low half");
  check_eq(ioapic_read(IOREDTBL(11) + 1), 0x01000000, "redirection entry 11 high half");
  ioapic_route(11, IOAPIC_MASKED, 0);
}

void check_ioapic(void) {
  uint32_t version = ioapic_read(IOAPIC_REG_VERSION);
  check_eq(version >> 16 & 0xff, 23, "I/O APIC maximum redirection entry");
  /* The 82093AA reads version 0x11 (and so do we); QEMU's model reads 0x20,
   * the version of the later I/O xAPICs with an EOI register. */
  check((version & 0xff) == 0x11 || (version & 0xff) == 0x20, "I/O APIC version %x",
        version & 0xff);
  printf("ioapic: version 0x%x\n", version & 0xff);
  check_redirection_readback();

  /* ISA IRQ0 on pin 2: fixed, physical destination 0 (the BSP), edge,
   * active high; the 8259A is fully masked, so this is the only path. */
  volatile uint32_t *ticks = &vector_count[VEC_IOAPIC_PIT];
  set_exception_handler(VEC_IOAPIC_PIT, apic_counting_handler);
  ioapic_route(IOAPIC_PIT_PIN, VEC_IOAPIC_PIT, 0);
  check_eq(ioapic_read(IOREDTBL(IOAPIC_PIT_PIN)) & 0x1FFFF, VEC_IOAPIC_PIT,
           "pin 2 entry read-back");
  pit_start(PIT_MODE2, PIT_1KHZ);
  if (check(wait_count(ticks, 1), "no PIT interrupt through I/O APIC pin 2")) {
    check(halt_until(ticks, 21, 1000), "%u PIT interrupts through pin 2, want 21", *ticks);
  }

  /* Masked, the edges are dropped (82093AA 3.2.4); unmasked, they resume.
   * An edge sent just before the mask may still wait in the local APIC's
   * IRR: let it in before counting. */
  ioapic_write(IOREDTBL(IOAPIC_PIT_PIN), IOAPIC_MASKED | VEC_IOAPIC_PIT);
  spin_open(QUIET_CYCLES);
  uint32_t masked_at = *ticks;
  spin_open(QUIET_CYCLES);
  check_eq(*ticks, masked_at, "PIT interrupts through a masked pin");
  ioapic_write(IOREDTBL(IOAPIC_PIT_PIN), VEC_IOAPIC_PIT);
  check(wait_count(ticks, *ticks + 3), "PIT interrupts did not resume after unmasking");

  /* Leave the PIT quiet and the pin masked: on QEMU the HPET may have to
   * share pin 2. Mode 0 makes one edge at terminal count, then OUT stays
   * high; wait for it and until no more come (QEMU raises IRQ0 from its I/O
   * thread, which a loaded host may run late). */
  uint32_t before_stop = *ticks;
  pit_start(PIT_MODE0, PIT_1KHZ);
  check(wait_count(ticks, before_stop + 1), "no PIT interrupt at mode 0 terminal count");
  for (unsigned i = 0; i < 20; i++) {
    uint32_t before = *ticks;
    spin_open(QUIET_CYCLES);
    if (*ticks == before) break;
  }
  ioapic_write(IOREDTBL(IOAPIC_PIT_PIN), IOAPIC_MASKED | VEC_IOAPIC_PIT);
}

/* The I/O APIC pin for HPET timer 0: the first one its INT_ROUTE_CAP
 * offers above the ISA range (transvisor: 20-23), else IRQ2's pin (QEMU's
 * i440FX offers only that one). -1 if none. */
static int hpet_route(uint32_t cap) {
  for (int pin = 16; pin < 24; pin++) {
    if (cap >> pin & 1) return pin;
  }
  if (cap & (1u << 2)) return 2;
  for (int pin = 1; pin < 24; pin++) {
    if (cap >> pin & 1) return pin;
  }
  return -1;
}

static void check_hpet_comparator(void) {
  uint32_t cap = mmio_read32(HPET_BASE + HPET_TIMER0_ROUTE_CAP);
  int pin = hpet_route(cap);
  if (!check(pin >= 0, "HPET timer 0 INT_ROUTE_CAP %x offers no I/O APIC pin", cap)) return;
  printf("hpet: timer 0 INT_ROUTE_CAP 0x%x, routed to pin %d\n", cap, pin);
  volatile uint32_t *fired = &vector_count[VEC_IOAPIC_HPET];
  set_exception_handler(VEC_IOAPIC_HPET, apic_counting_handler);
  ioapic_route((unsigned)pin, VEC_IOAPIC_HPET, 0);

  /* Edge, one-shot, 64-bit comparator 10 ms ahead, written while the
   * timer's interrupt is off (QEMU treats a comparator more than 2^63 ticks
   * ahead as passed, so none is parked far ahead). A one-shot comparator
   * the counter passed before the interrupt was on may or may not have
   * fired; if a loaded host preempted the vCPU that long, let any such
   * interrupt in and try again. */
  uint32_t config = (uint32_t)pin << HPET_TN_ROUTE_SHIFT;
  uint64_t target = 0;
  for (unsigned attempt = 0; attempt < 5; attempt++) {
    mmio_write32(HPET_BASE + HPET_TIMER0_CONFIG, config);
    target = hpet_counter() + 1000000;
    mmio_write32(HPET_BASE + HPET_TIMER0_COMPARATOR, (uint32_t)target);
    mmio_write32(HPET_BASE + HPET_TIMER0_COMPARATOR + 4, (uint32_t)(target >> 32));
    mmio_write32(HPET_BASE + HPET_TIMER0_CONFIG, config | HPET_TN_INT_ENB);
    if (hpet_counter() < target) break;
    mmio_write32(HPET_BASE + HPET_TIMER0_CONFIG, config);
    spin_open(QUIET_CYCLES);
    *fired = 0;
  }
  check_eq(mmio_read32(HPET_BASE + HPET_TIMER0_CONFIG) >> HPET_TN_ROUTE_SHIFT & 0x1f, (uint32_t)pin,
           "HPET timer 0 route read-back");
  check(wait_count(fired, 1), "no HPET timer 0 interrupt on I/O APIC pin %d", pin);
  check(hpet_counter() >= target, "HPET interrupt before the comparator value");
  spin_open(QUIET_CYCLES);
  check_eq(*fired, 1, "HPET one-shot interrupts");
  mmio_write32(HPET_BASE + HPET_TIMER0_CONFIG, config); /* interrupt off, route kept */
  ioapic_route((unsigned)pin, IOAPIC_MASKED, 0);
}

void check_hpet(void) {
  uint32_t cap = mmio_read32(HPET_BASE + HPET_CAP);
  check_eq(cap >> 16, 0x8086, "HPET vendor ID");
  check_eq(mmio_read32(HPET_BASE + HPET_PERIOD), HPET_PERIOD_FS, "HPET COUNTER_CLK_PERIOD (fs)");
  check(cap & 0xff, "HPET revision ID 0");
  check(cap & (1u << 13), "HPET COUNT_SIZE_CAP: not a 64-bit counter");
  check_eq((cap >> 8 & 0x1f) + 1, 3, "HPET timers");

  /* Halted, the counter takes a write and holds it; enabled, it runs. */
  mmio_write32(HPET_BASE + HPET_CONFIG, 0);
  mmio_write32(HPET_BASE + 0xF0, 0);
  mmio_write32(HPET_BASE + 0xF4, 0);
  check_eq64(hpet_counter(), 0, "halted HPET counter after writing 0");
  spin_open(QUIET_CYCLES);
  check_eq64(hpet_counter(), 0, "halted HPET counter after a while");
  mmio_write32(HPET_BASE + HPET_CONFIG, HPET_ENABLE_CNF); /* LEG_RT_CNF stays 0 */
  uint64_t c0 = hpet_counter();
  spin_open(QUIET_CYCLES);
  uint64_t c1 = hpet_counter();
  check(c1 > c0, "HPET counter does not advance: %llx then %llx", (unsigned long long)c0,
        (unsigned long long)c1);
  check_hpet_comparator();
}

/* The PM timer's value and the HPET counter at one moment: the HPET read
 * between two PM reads at most 200 us apart, paired with their midpoint.
 * A vCPU thread preempted between the reads (a loaded host) tries again. */
struct pm_sample {
  uint32_t pm;
  uint64_t hpet;
};

static bool pm_sample(struct pm_sample *s) {
  for (unsigned i = 0; i < 100; i++) {
    uint32_t before = inl(PM_TIMER_PORT);
    uint64_t hpet = hpet_counter();
    uint32_t gap = (inl(PM_TIMER_PORT) - before) & 0xFFFFFF;
    if (gap <= PM_TIMER_HZ / 5000) {
      *s = (struct pm_sample){(before + gap / 2) & 0xFFFFFF, hpet};
      return true;
    }
  }
  return false;
}

/* PM timer ticks over 50 ms of HPET counter against 3.579545 MHz, to 5%.
 * False if the measurement itself failed (no tight sample, the HPET
 * stopped, or a gap long enough for the 24-bit PM timer to wrap). */
static bool pm_rate_ok(uint32_t *got, uint32_t *want) {
  const uint64_t window = 5000000; /* HPET ticks */
  struct pm_sample a, b;
  if (!pm_sample(&a)) return false;
  uint64_t start = rdtsc();
  while (hpet_counter() - a.hpet < window && rdtsc() - start < WAIT_CYCLES) {
  }
  if (!pm_sample(&b)) return false;
  uint64_t ns = (b.hpet - a.hpet) * (HPET_PERIOD_FS / 1000000);
  if (b.hpet - a.hpet < window || ns >= 4000000000ull) return false;
  *got = (b.pm - a.pm) & 0xFFFFFF;
  *want = (uint32_t)(ns * PM_TIMER_HZ / 1000000000);
  return *got >= *want - *want / 20 && *got <= *want + *want / 20;
}

/* The PM timer is 24 bits wide on both machines (FADT TMR_VAL_EXT clear).
 * The rate gets a few tries, as a descheduled vCPU can spoil one. */
void check_pm_timer(void) {
  uint32_t p0 = inl(PM_TIMER_PORT);
  check_eq(p0 >> 24, 0, "PM timer bits 24-31");
  spin_open(QUIET_CYCLES);
  check(inl(PM_TIMER_PORT) != p0, "PM timer does not advance");

  uint32_t got = 0, want = 0;
  bool ok = false;
  for (unsigned attempt = 0; attempt < 5 && !ok; attempt++) ok = pm_rate_ok(&got, &want);
  check(ok, "PM timer rate: %u ticks where 3.579545 MHz gives %u", got, want);
}
