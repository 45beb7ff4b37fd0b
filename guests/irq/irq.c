/*
 * irq: external interrupts through the 8259A pair, from the 8254 PIT and
 * the 16550 UART. It remaps the PIC to vectors 0x20/0x28, runs PIT channel
 * 0 at about 1 kHz and checks that IRQ0 arrives while the CPU spins (and
 * that the interrupted code keeps its registers and flags), that STI; HLT
 * wakes on it, that its rate roughly matches the RTC's seconds, that a
 * masked edge stays pending in IRR and arrives on unmask, that an
 * un-EOIed IRQ0 blocks the next one until a specific EOI, and that
 * enabling the UART's THRE interrupt raises IRQ4.
 *
 * Waits are bounded by RTC seconds so that a missing interrupt fails the
 * check instead of hanging; rates are checked with a wide tolerance only.
 */
#include "guest.h"
#include "pic.h"

/* MC146818 RTC: index at 0x70, data at 0x71; register A bit 7 is UIP. */
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_REG_A 0x0a
#define RTC_UIP 0x80

/* 16550 (8250 datasheet): IER bit 1 ETBEI, IIR id 0x2 = THR empty,
 * MCR bit 3 OUT2 gates the IRQ line on PC boards. */
#define UART_IER (COM1_PORT + 1)
#define UART_IIR (COM1_PORT + 2)
#define UART_MCR (COM1_PORT + 4)
#define UART_LSR (COM1_PORT + 5)
#define IER_ETBEI 0x02
#define IIR_THRE 0x02
#define MCR_DTR_RTS 0x03
#define MCR_OUT2 0x08
#define LSR_TEMT 0x40

#define WAIT_SECONDS 5 /* RTC seconds before a wait gives up */

static volatile uint32_t ticks;
static bool irq0_arrives; /* HLT waits only once IRQ0 is known to come */
static volatile uint32_t thre_irqs, thre_iir;
static volatile uint8_t isr_before_eoi, isr_after_eoi;

static uint8_t cmos_read(uint8_t reg) {
  outb(CMOS_INDEX, reg);
  return inb(CMOS_DATA);
}

/* The seconds register is stable while UIP is clear (MC146818 datasheet,
 * "Update Cycle"). */
static uint8_t rtc_seconds(void) {
  while (cmos_read(RTC_REG_A) & RTC_UIP) {
  }
  return cmos_read(RTC_SECONDS);
}

/* A timeout counted in RTC second changes. */
struct deadline {
  uint8_t last;
  unsigned changes;
};

static struct deadline deadline_start(void) { return (struct deadline){rtc_seconds(), 0}; }

static bool deadline_passed(struct deadline *d) {
  uint8_t now = rtc_seconds();
  if (now != d->last) {
    d->last = now;
    d->changes++;
  }
  return d->changes > WAIT_SECONDS;
}

/* Waits with interrupts on until *counter >= target; false on timeout. */
static bool wait_count(volatile uint32_t *counter, uint32_t target) {
  struct deadline d = deadline_start();
  sti();
  while (*counter < target) {
    if (deadline_passed(&d)) break;
  }
  cli();
  return *counter >= target;
}

static uint8_t pic_read(uint8_t ocw3) {
  outb(PIC1_CMD, ocw3);
  return inb(PIC1_CMD);
}

static void tick_eoi(struct trap_frame *frame) {
  (void)frame;
  ticks++;
  outb(PIC1_CMD, PIC_EOI);
}

static void tick_no_eoi(struct trap_frame *frame) {
  (void)frame;
  ticks++;
}

static void tick_specific_eoi(struct trap_frame *frame) {
  (void)frame;
  ticks++;
  isr_before_eoi = pic_read(PIC_READ_ISR);
  outb(PIC1_CMD, PIC_SPECIFIC_EOI | 0);
  isr_after_eoi = pic_read(PIC_READ_ISR);
}

/* A spurious IRQ7 has no ISR bit and wants no EOI (8259A datasheet). */
static void spurious(struct trap_frame *frame) { (void)frame; }

/* Mixes four registers and the flags through many iterations; interrupts
 * landing anywhere in the loop must not change the result. */
static uint32_t busy_mix(uint32_t n) {
  uint32_t a = 0, b = 1, c = n, d = 0;
  __asm__ volatile(
      "1:\n\t"
      "addl %1, %0\n\t"
      "adcl %0, %3\n\t"
      "roll $3, %1\n\t"
      "xorl %3, %1\n\t"
      "decl %2\n\t"
      "jnz 1b"
      : "+r"(a), "+r"(b), "+r"(c), "+r"(d)
      :
      : "cc");
  return a ^ d;
}

static void check_spinning(void) {
  set_irq_handler(0, tick_eoi);
  pit_start(PIT_MODE2, PIT_1KHZ);
  pic_mask(0xfe);
  const uint32_t n = 200000;
  uint32_t want = busy_mix(n); /* interrupts off */
  struct deadline d = deadline_start();
  unsigned rounds = 0, wrong = 0;
  sti();
  while (ticks < 50 && !deadline_passed(&d)) {
    wrong += busy_mix(n) != want;
    rounds++;
  }
  cli();
  irq0_arrives = check(ticks >= 50, "only %u IRQ0s while spinning", ticks);
  check(wrong == 0, "%u of %u interrupted loops computed a wrong value", wrong, rounds);
}

static void check_hlt(void) {
  if (!check(irq0_arrives, "HLT not tried: IRQ0 does not arrive")) return;
  unsigned idle_wakeups = 0;
  for (unsigned i = 0; i < 20; i++) {
    uint32_t before = ticks;
    __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
    idle_wakeups += ticks == before;
  }
  check(idle_wakeups == 0, "%u HLT wake-ups without an IRQ0", idle_wakeups);
}

/* Counts IRQ0s between two RTC second boundaries. The CPU halts between
 * ticks and reads the RTC once per wake-up: constant port polling would
 * slow the host's emulation of the timer itself. */
static uint8_t rtc_seconds_after_tick(void) {
  __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
  return rtc_seconds();
}

static void check_rate(void) {
  if (!check(irq0_arrives, "rate not measured: IRQ0 does not arrive")) return;
  uint8_t s0 = rtc_seconds_after_tick(), s;
  uint32_t guard = ticks + 10000;
  while ((s = rtc_seconds_after_tick()) == s0 && ticks < guard) {
  }
  uint32_t t1 = ticks;
  while (rtc_seconds_after_tick() == s && ticks < guard) {
  }
  uint32_t t2 = ticks;
  uint32_t per_second = t2 - t1;
  printf("rtc: %u PIT ticks in one RTC second\n", per_second);
  check(per_second >= 500 && per_second <= 2000, "%u IRQ0s per RTC second, want ~1000", per_second);
}

/* Mode 0 gives one rising edge at terminal count: while IRQ0 is masked it
 * waits in IRR; unmasking delivers it once, and no second edge follows. */
static void check_masking(void) {
  /* Park OUT low (mode 0, 55 ms count) and let an IRQ0 latched before
   * that arrive, so that IRR is clear when the test starts. */
  pit_start(PIT_MODE0, 0xffff);
  sti();
  for (volatile unsigned i = 0; i < 10000; i++) {
  }
  cli();
  pic_mask(0xff);
  uint32_t before = ticks;
  pit_start(PIT_MODE0, 5 * PIT_1KHZ); /* one edge in about 5 ms */
  struct deadline d = deadline_start();
  sti();
  while (!(pic_read(PIC_READ_IRR) & 1) && !deadline_passed(&d)) {
  }
  for (volatile unsigned i = 0; i < 100000; i++) {
  }
  cli();
  check(pic_read(PIC_READ_IRR) & 1, "masked IRQ0 edge not in IRR");
  check_eq(ticks, before, "IRQ0s delivered while masked");
  pic_mask(0xfe);
  wait_count(&ticks, before + 1);
  check_eq(ticks, before + 1, "pending IRQ0 after unmask");
  sti();
  for (volatile unsigned i = 0; i < 200000; i++) {
  }
  cli();
  check_eq(ticks, before + 1, "IRQ0s after a one-shot count");
}

/* Without an EOI, IRQ0 stays in service and blocks the next IRQ0 (same
 * priority), which waits in IRR; a specific EOI releases it. */
static void check_eoi(void) {
  set_irq_handler(0, tick_no_eoi);
  uint32_t before = ticks;
  pit_start(PIT_MODE2, PIT_1KHZ);
  check(wait_count(&ticks, before + 1), "no IRQ0 in rate-generator mode");
  struct deadline d = deadline_start();
  sti();
  while (!(pic_read(PIC_READ_IRR) & 1) && !deadline_passed(&d)) {
  }
  cli();
  check_eq(ticks, before + 1, "IRQ0s while the first is in service");
  check_eq(pic_read(PIC_READ_ISR), 0x01, "ISR with IRQ0 in service");
  check(pic_read(PIC_READ_IRR) & 1, "next IRQ0 not pending in IRR");

  set_irq_handler(0, tick_specific_eoi);
  outb(PIC1_CMD, PIC_SPECIFIC_EOI | 0);
  check(wait_count(&ticks, before + 4), "IRQ0 did not resume after a specific EOI");
  check_eq(isr_before_eoi, 0x01, "ISR in the handler");
  check_eq(isr_after_eoi, 0x00, "ISR after a specific EOI");
  pic_mask(0xff);
}

static void thre_handler(struct trap_frame *frame) {
  (void)frame;
  thre_iir = inb(UART_IIR); /* reading IIR clears a THRE interrupt */
  thre_irqs++;
  outb(PIC1_CMD, PIC_EOI);
}

/* Enabling ETBEI with THR empty raises IRQ4 at once; after the IIR read
 * the next one needs a new byte through THR (8250 datasheet, IIR/IER). */
static void check_uart_thre(void) {
  while (!(inb(UART_LSR) & LSR_TEMT)) {
  }
  set_irq_handler(4, thre_handler);
  outb(UART_MCR, MCR_DTR_RTS | MCR_OUT2);
  pic_mask(0xef);
  outb(UART_IER, IER_ETBEI);
  bool first = wait_count(&thre_irqs, 1);
  uint32_t first_iir = thre_iir;
  sti();
  for (volatile unsigned i = 0; i < 100000; i++) {
  }
  cli();
  uint32_t after_quiet = thre_irqs;
  outb(COM1_PORT, '\n'); /* this byte's THR-empty interrupt */
  bool second = wait_count(&thre_irqs, 2);
  outb(UART_IER, 0);
  pic_mask(0xff);
  outb(UART_MCR, MCR_DTR_RTS);
  check(first, "no IRQ4 after enabling ETBEI");
  check_eq(first_iir & 0x0f, IIR_THRE, "IIR in the THRE handler");
  check_eq(after_quiet, 1, "THRE IRQs before the next byte");
  check(second, "no IRQ4 after writing THR");
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  pic_init();
  set_irq_handler(7, spurious);
  run_group("irq0 while spinning", check_spinning);
  run_group("hlt wakes on irq0", check_hlt);
  run_group("pit rate against rtc", check_rate);
  run_group("masked edge pends until unmask", check_masking);
  run_group("eoi and in-service blocking", check_eoi);
  run_group("uart thre irq4", check_uart_thre);
}
