/*
 * fpu_traps: the faults around the FPU and SSE (SDM Vol. 3A 2.5, Table
 * 2-2 "Action Taken By x87 FPU Instructions for Different Combinations of
 * EM, MP, and TS", 13.1.3, and Vol. 1 8.7 and 11.5):
 *   - CR0.TS = 1: x87, MMX and SSE instructions raise #NM, and so does WAIT
 *     when CR0.MP = 1; a handler that clears TS retries the instruction (the
 *     lazy FPU switch Linux used).
 *   - CR0.EM = 1: x87 instructions raise #NM, MMX and SSE ones #UD.
 *   - CR4.OSFXSR = 0: SSE instructions raise #UD.
 *   - An unmasked x87 exception is held pending and raises #MF (CR0.NE = 1)
 *     at the next waiting x87 instruction, whose EIP is saved; the faulting
 *     operation leaves its destination alone.
 *   - An unmasked SSE exception raises #XM at the instruction, or #UD if
 *     CR4.OSXMMEXCPT = 0.
 *   - #GP(0) for misaligned 16-byte SSE and FXSAVE operands and for reserved
 *     MXCSR bits.
 */
#include "fpu.h"

#define FCW_ZM 0x04 /* zero-divide mask */
#define MXCSR_UNMASK_ZE (MXCSR_DEFAULT & ~0x200u)
#define FSW_ES 0x80

uint32_t fpt_site, fpt_resume; /* set by the asm below */

/* What a handler does after recording: resume at fpt_resume, or fix the
 * cause and return to the faulting instruction to run it again. */
enum fix { FIX_RESUME, FIX_CLTS, FIX_FNCLEX };

static struct trap_log caught;
static enum fix caught_fix;
static uint32_t caught_fsw, caught_mxcsr; /* FSW and MXCSR in the handler */

static void fpu_trap(struct trap_frame *frame) {
  trap_log_add(&caught, frame);
  switch (caught_fix) {
    case FIX_CLTS: __asm__ volatile("clts"); break;
    case FIX_FNCLEX: __asm__ volatile("fnstsw %0\n\tfnclex" : "=m"(caught_fsw)); break;
    case FIX_RESUME:
      if (frame->vector == VEC_XM) {
        __asm__ volatile("stmxcsr %0\n\tldmxcsr %1"
                         : "=m"(caught_mxcsr)
                         : "m"((uint32_t){MXCSR_DEFAULT}));
      }
      frame->eip = fpt_resume;
      break;
  }
}

/* Label 1: the instruction under test; label 2: where FIX_RESUME goes. */
#define TRAP_ASM(body) "movl $1f, fpt_site\n\tmovl $2f, fpt_resume\n1:\t" body "\n2:"

static void expect(const char *name, enum fix fix, uint32_t vector, void (*run)(void)) {
  caught_fix = fix;
  caught.count = 0;
  run();
  if (!check(caught.count == 1, "%s: %u exceptions, want 1", name, caught.count)) return;
  check(caught.vector == vector, "%s: vector %u want %u", name, caught.vector, vector);
  check(caught.eip == fpt_site, "%s: saved EIP 0x%x want 0x%x", name, caught.eip, fpt_site);
  check(caught.error_code == 0, "%s: error code 0x%x", name, caught.error_code);
}

/* Nothing x87, MMX or SSE may run outside labels 1-2 here: under TS or EM
 * it would fault where the handler does not expect it. */
static void run_fld1(void) { __asm__ volatile(TRAP_ASM("fld1")); }
static void run_fwait(void) { __asm__ volatile(TRAP_ASM("fwait")); }
static void run_addps(void) { __asm__ volatile(TRAP_ASM("addps %xmm1, %xmm0")); }
static void run_paddb(void) { __asm__ volatile(TRAP_ASM("paddb %mm1, %mm0")); }

static void check_ts_em(void) {
  const uint32_t cr0 = read_cr0();
  uint64_t fld1_result;
  __asm__ volatile("fninit");
  write_cr0(cr0 | CR0_TS);
  expect("TS: fld1", FIX_CLTS, VEC_NM, run_fld1);
  __asm__ volatile("fstpl %0" : "=m"(fld1_result));
  check_eq64(fld1_result, 0x3ff0000000000000ull, "fld1 retried after #NM");
  write_cr0(cr0 | CR0_TS);
  expect("TS+MP: fwait", FIX_CLTS, VEC_NM, run_fwait);
  write_cr0(cr0 | CR0_TS);
  expect("TS: addps", FIX_CLTS, VEC_NM, run_addps);
  write_cr0(cr0 | CR0_TS);
  expect("TS: paddb", FIX_CLTS, VEC_NM, run_paddb);
  __asm__ volatile("emms");
  write_cr0((cr0 | CR0_TS) & ~CR0_MP);
  caught.count = 0;
  run_fwait();
  check(caught.count == 0, "TS without MP: fwait must not fault");
  write_cr0(cr0 | CR0_EM);
  expect("EM: fld1", FIX_RESUME, VEC_NM, run_fld1);
  expect("EM: addps", FIX_RESUME, VEC_UD, run_addps);
  expect("EM: paddb", FIX_RESUME, VEC_UD, run_paddb);
  write_cr0(cr0);
  const uint32_t cr4 = read_cr4();
  write_cr4(cr4 & ~CR4_OSFXSR);
  expect("no OSFXSR: addps", FIX_RESUME, VEC_UD, run_addps);
  write_cr4(cr4);
}

/* 1/0 with ZE unmasked: FDIV only records it; the next FWAIT faults. */
static uint64_t mf_result;
static void run_pending_zero_divide(void) {
  const uint64_t zero = 0;
  __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfld1\n\tfdivl %[zero]\n\t" TRAP_ASM(
                       "fwait") "\n\tfldcw %[def]\n\tfstpl %[r]"
                   : [r] "=m"(mf_result)
                   : [cw] "m"((uint16_t){FCW_DEFAULT & ~FCW_ZM}), [zero] "m"(zero),
                     [def] "m"((uint16_t){FCW_DEFAULT}));
}

static struct { uint32_t in[4], out[4]; } xm_regs;
static void run_unmasked_divps(void) {
  static const uint32_t ones[4] = {0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000};
  static const uint32_t zeros[4] = {0};
  __asm__ volatile("ldmxcsr %[mx]\n\tmovdqu %[a], %%xmm0\n\tmovdqu %[b], %%xmm1\n\t" TRAP_ASM(
                       "divps %%xmm1, %%xmm0") "\n\tmovdqu %%xmm0, %[out]"
                   : [out] "=m"(xm_regs.out)
                   : [mx] "m"((uint32_t){MXCSR_UNMASK_ZE}), [a] "m"(ones), [b] "m"(zeros));
  memcpy(xm_regs.in, ones, sizeof ones);
}

static void check_unmasked(void) {
  expect("x87 1/0 unmasked: fwait", FIX_FNCLEX, VEC_MF, run_pending_zero_divide);
  check_eq(caught_fsw & 0xff, FSW_ES | FSW_ZE, "FSW in the #MF handler");
  if (!qemu_deviation("an unmasked x87 #Z leaves the destination (QEMU 7.2 stores inf)")) {
    check_eq64(mf_result, 0x3ff0000000000000ull, "unmasked FDIV leaves ST0");
  }
  if (qemu_deviation("unmasked SSE exceptions raise #XM (QEMU 7.2 never does)")) return;
  expect("sse 1/0 unmasked: divps", FIX_RESUME, VEC_XM, run_unmasked_divps);
  check_eq(caught_mxcsr, MXCSR_UNMASK_ZE | MXCSR_ZE, "MXCSR in the #XM handler");
  check(memcmp(xm_regs.in, xm_regs.out, sizeof xm_regs.in) == 0, "unmasked DIVPS leaves XMM0");
  const uint32_t cr4 = read_cr4();
  write_cr4(cr4 & ~CR4_OSXMMEXCPT);
  expect("no OSXMMEXCPT: divps", FIX_RESUME, VEC_UD, run_unmasked_divps);
  write_cr4(cr4);
}

static uint8_t unaligned_area[512 + 32] __attribute__((aligned(16)));
static void run_movaps_misaligned(void) {
  __asm__ volatile(TRAP_ASM("movaps %0, %%xmm0") : : "m"(unaligned_area[8]));
}
static void run_pcmpeqb_misaligned(void) {
  __asm__ volatile(TRAP_ASM("pcmpeqb %0, %%xmm0") : : "m"(unaligned_area[4]));
}
static void run_fxsave_misaligned(void) {
  __asm__ volatile(TRAP_ASM("fxsave %0") : "=m"(unaligned_area[8]));
}
static void run_ldmxcsr_reserved(void) {
  __asm__ volatile(TRAP_ASM("ldmxcsr %0") : : "m"((uint32_t){MXCSR_DEFAULT | 0x10000}));
}
static void run_fxrstor_reserved(void) {
  __asm__ volatile("fxsave %0" : "=m"(unaligned_area[0]));
  uint32_t bad = MXCSR_DEFAULT | 0x80000000u;
  memcpy(&unaligned_area[24], &bad, 4);
  __asm__ volatile(TRAP_ASM("fxrstor %0") : : "m"(unaligned_area[0]));
}

static void check_gp(void) {
  expect("movaps misaligned", FIX_RESUME, VEC_GP, run_movaps_misaligned);
  expect("pcmpeqb m128 misaligned", FIX_RESUME, VEC_GP, run_pcmpeqb_misaligned);
  expect("fxsave misaligned", FIX_RESUME, VEC_GP, run_fxsave_misaligned);
  if (qemu_deviation("reserved MXCSR bits in LDMXCSR/FXRSTOR raise #GP (QEMU 7.2 ignores them)")) {
    return;
  }
  expect("ldmxcsr reserved bit", FIX_RESUME, VEC_GP, run_ldmxcsr_reserved);
  expect("fxrstor reserved mxcsr bit", FIX_RESUME, VEC_GP, run_fxrstor_reserved);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  descriptor_tables_init();
  const uint8_t vectors[] = {VEC_UD, VEC_NM, VEC_GP, VEC_MF, VEC_XM};
  for (unsigned i = 0; i < sizeof vectors; i++) set_exception_handler(vectors[i], fpu_trap);
  write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
  write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
  __asm__ volatile("fninit");
  unsigned before = check_failures();
  check_ts_em();
  group_done("cr0.ts and cr0.em", before);
  before = check_failures();
  check_unmasked();
  group_done("unmasked #mf and #xm", before);
  before = check_failures();
  check_gp();
  group_done("alignment and reserved bits", before);
}
