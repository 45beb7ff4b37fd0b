/* idle: a guest that does nothing but wait for timer interrupts, the way an
 * idle kernel does (PIT at 100 Hz, "sti; hlt" until the next tick). It
 * checks that HLT wakes on every tick and exits after `ticks=N` ticks
 * (default 50). bench/idle runs it longer and reports how much host CPU
 * the VMM used meanwhile: an idle guest should cost almost none. */
#include "guest.h"
#include "pic.h"

#define PIT_100HZ 11932

static volatile uint32_t ticks;

static void tick(struct trap_frame *frame) {
  (void)frame;
  ticks++;
  outb(PIC1_CMD, PIC_EOI);
}

static uint32_t wanted_ticks(const struct multiboot_info *info) {
  const char *p =
      (info->flags & MULTIBOOT_INFO_CMDLINE) ? strstr((const char *)info->cmdline, "ticks=") : NULL;
  uint32_t n = 0;
  if (!p) return 50;
  for (p += 6; *p >= '0' && *p <= '9'; p++) n = n * 10 + (uint32_t)(*p - '0');
  return n ? n : 50;
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  uint32_t want = wanted_ticks(info);
  descriptor_tables_init();
  pic_init();
  pic_mask(0xfe); /* only IRQ0 */
  set_irq_handler(0, tick);
  pit_start(PIT_MODE2, PIT_100HZ);
  uint32_t halts = 0;
  while (ticks < want) {
    sti();
    hlt();
    cli();
    halts++;
  }
  check(halts >= want && halts <= want + want / 10 + 2, "%u halts for %u ticks", halts, want);
  printf("idle: %u ticks, %u halts\n", ticks, halts);
  printf("idle: ok\n");
}
