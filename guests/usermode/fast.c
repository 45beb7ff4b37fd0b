/* usermode guest: SYSENTER/SYSEXIT round trips (SDM Vol. 2B: SYSENTER
 * loads CS from IA32_SYSENTER_CS, SS = CS + 8, ESP and EIP from their MSRs
 * and clears IF; SYSEXIT loads CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3,
 * EIP = EDX, ESP = ECX and leaves EFLAGS alone), and the PIT's IRQ0 taken
 * in ring 3: the CPU switches to SS0:ESP0 and pushes SS:ESP (SDM Vol. 3A
 * 6.12.1, Figure 6-4). */
#include "um.h"

static uint8_t sysenter_stack[4096] __attribute__((aligned(16)));
static unsigned sysenter_calls, sysenter_bad_state;
static uint32_t sysenter_cs, sysenter_ss, sysenter_esp;

static uint16_t read_cs(void) {
  uint16_t v;
  __asm__ volatile("mov %%cs, %0" : "=r"(v));
  return v;
}

static uint16_t read_ss(void) {
  uint16_t v;
  __asm__ volatile("mov %%ss, %0" : "=r"(v));
  return v;
}

/* The frame lies just below IA32_SYSENTER_ESP: 9 dwords and the argument. */
static void sysenter_dispatch(struct sysenter_frame *frame) {
  if (sysenter_calls++ == 0) {
    sysenter_cs = read_cs();
    sysenter_ss = read_ss();
    sysenter_esp = (uint32_t)frame + sizeof *frame;
  }
  if (read_eflags() & EFLAGS_IF) sysenter_bad_state++;
  switch (frame->eax) {
    case SYS_EXIT: user_return(frame->ebx);
    case SYS_ADD: frame->eax = frame->ebx + 2 * frame->esi + 3 * frame->edi; break;
    default: frame->eax = 0xFFFFFFFF;
  }
}

extern char priv_sysenter[];

void test_sysenter(void) {
  unsigned before = check_failures();
  uint32_t top = (uint32_t)sysenter_stack + sizeof sysenter_stack;
  sysenter_handler = sysenter_dispatch;
  wrmsr(MSR_SYSENTER_CS, GDT_KERNEL_CS);
  wrmsr(MSR_SYSENTER_ESP, top);
  wrmsr(MSR_SYSENTER_EIP, (uint32_t)sysenter_entry);
  check_eq64(rdmsr(MSR_SYSENTER_CS), GDT_KERNEL_CS, "IA32_SYSENTER_CS");
  check_eq64(rdmsr(MSR_SYSENTER_ESP), top, "IA32_SYSENTER_ESP");
  check_eq64(rdmsr(MSR_SYSENTER_EIP), (uint32_t)sysenter_entry, "IA32_SYSENTER_EIP");
  const uint32_t n = 1000;
  uint32_t errors = run_user((uint32_t)user_sysenter_loop, EFLAGS_FIXED | EFLAGS_IF, 0, n, 0);
  check_eq(errors, 0, "SYSEXIT returns with a wrong result, EBP, CS, SS or IF");
  check_eq(sysenter_calls, n + 1, "SYSENTER calls");
  check_eq(sysenter_cs, GDT_KERNEL_CS, "CS after SYSENTER");
  check_eq(sysenter_ss, GDT_KERNEL_DS, "SS after SYSENTER");
  check_eq(sysenter_esp, top, "ESP after SYSENTER (the MSR)");
  check_eq(sysenter_bad_state, 0, "SYSENTER left IF set");
  /* A null IA32_SYSENTER_CS: #GP(0) at the SYSENTER (SDM Vol. 2B). */
  wrmsr(MSR_SYSENTER_CS, 0);
  uint32_t r = run_user((uint32_t)priv_sysenter, EFLAGS_FIXED | EFLAGS_IF, 0, 0, 0);
  check_eq(r, RET_GP, "SYSENTER with IA32_SYSENTER_CS = 0");
  check_eq(last_fault.error, 0, "SYSENTER with IA32_SYSENTER_CS = 0: error code");
  check_eq(last_fault.eip, (uint32_t)priv_sysenter, "SYSENTER with IA32_SYSENTER_CS = 0: EIP");
  wrmsr(MSR_SYSENTER_CS, GDT_KERNEL_CS);
  group_done("sysenter", before);
}

static volatile uint32_t ticks, ring3_ticks, bad_irq_frames;

/* IRQ0: counts ticks; one that interrupted ring 3 must have the full
 * privilege-change frame at the top of ESP0. After 5 of them it raises
 * the flag user_spin polls. */
static void tick(struct trap_frame *frame) {
  ticks++;
  if (frame->cs & 3) {
    ring3_ticks++;
    bool good = (frame->cs & 0xFFFF) == GDT_USER_CS && (frame->user_ss & 0xFFFF) == GDT_USER_DS &&
                (frame->eflags & EFLAGS_IF) && frame->user_esp <= USER_STACK_TOP &&
                frame->user_esp >= USER_STACK_TOP - 2 * PAGE_SIZE &&
                (uint32_t)frame + sizeof *frame == tss_esp0() &&
                frame->eip >= (uint32_t)user_text_start && frame->eip < (uint32_t)user_text_end;
    if (!good) bad_irq_frames++;
    if (ring3_ticks >= 5) poke(USER_DATA, 1);
  }
  outb(PIC1_CMD, PIC_EOI);
}

void test_irq(void) {
  unsigned before = check_failures();
  set_irq_handler(0, tick);
  poke(USER_DATA, 0);
  pit_start(PIT_MODE2, PIT_1KHZ);
  pic_mask(0xFE);
  /* user_spin gives up after 2^22 passes of its 2000-step loop. */
  uint32_t r = run_user((uint32_t)user_spin, EFLAGS_FIXED | EFLAGS_IF, USER_DATA, 1u << 22, 0);
  pic_mask(0xFF);
  check(!(r & RET_TIMEOUT), "no stop from IRQ0 (%u ticks, %u in ring 3)", ticks, ring3_ticks);
  check_eq(r & ~RET_TIMEOUT, 0, "results changed by interrupts in ring 3");
  check(ring3_ticks >= 5, "%u IRQ0s in ring 3, want 5", ring3_ticks);
  check_eq(bad_irq_frames, 0, "IRQ0 frames from ring 3 with wrong CS/SS/ESP/EFLAGS/EIP");
  group_done("irq in ring 3", before);
}
