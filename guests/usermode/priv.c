/* usermode guest: what ring 3 may not do. Privileged instructions raise
 * #GP(0) at CPL 3 (SDM Vol. 3A 5.9, and each instruction's page in Vol. 2);
 * CLI/STI and I/O need CPL <= IOPL, or for I/O a clear bit for every byte
 * of the access in the TSS I/O permission bitmap (SDM Vol. 1, "I/O
 * Permission Bit Map"); POPF silently keeps IF and IOPL; RDTSC is allowed
 * while CR4.TSD = 0. User accesses to supervisor or read-only pages raise
 * #PF with U set (SDM Vol. 3A 4.6, 4.7). Port 0x80 (the POST port) is the
 * one the bitmap opens; 0x81 is never actually accessed. */
#include "um.h"

/* The stubs in user.S. */
extern char priv_cli[], priv_sti[], priv_hlt[], priv_read_cr0[], priv_write_cr0[], priv_read_cr3[],
    priv_write_cr4[], priv_read_dr7[], priv_lgdt[], priv_lidt[], priv_lldt[], priv_ltr[],
    priv_lmsw[], priv_clts[], priv_invlpg[], priv_invd[], priv_wbinvd[], priv_rdmsr[], priv_wrmsr[],
    priv_sysexit[], priv_inb_imm[], priv_outb_imm[], priv_inb_dx[], priv_outb_dx[], priv_inw_dx[],
    priv_outw_dx[], priv_insb[], priv_outsb[], priv_in80[], priv_out80[], priv_cli_sti[],
    priv_rdtsc[];

struct priv_case {
  const char *name;
  const char *stub;
  uint16_t port; /* EDX */
};

/* Each must raise #GP(0) at its first instruction with IOPL = 0 and the
 * bitmap closed for port 0x81. */
static const struct priv_case gp_cases[] = {
    {"cli", priv_cli, 0},
    {"sti", priv_sti, 0},
    {"hlt", priv_hlt, 0},
    {"mov from cr0", priv_read_cr0, 0},
    {"mov to cr0", priv_write_cr0, 0},
    {"mov from cr3", priv_read_cr3, 0},
    {"mov to cr4", priv_write_cr4, 0},
    {"mov from dr7", priv_read_dr7, 0},
    {"lgdt", priv_lgdt, 0},
    {"lidt", priv_lidt, 0},
    {"lldt", priv_lldt, 0},
    {"ltr", priv_ltr, 0},
    {"lmsw", priv_lmsw, 0},
    {"clts", priv_clts, 0},
    {"invlpg", priv_invlpg, 0},
    {"invd", priv_invd, 0},
    {"wbinvd", priv_wbinvd, 0},
    {"rdmsr", priv_rdmsr, 0},
    {"wrmsr", priv_wrmsr, 0},
    {"sysexit", priv_sysexit, 0},
    {"in al, 0x81", priv_inb_imm, 0},
    {"out 0x81, al", priv_outb_imm, 0},
    {"in al, dx=0x81", priv_inb_dx, 0x81},
    {"out dx=0x81, al", priv_outb_dx, 0x81},
    {"insb dx=0x81", priv_insb, 0x81},
    {"outsb dx=0x81", priv_outsb, 0x81},
};

/* Runs `stub` and checks it raised #GP(0) at its first instruction. */
static void expect_gp(const char *name, const char *stub, uint16_t port, uint32_t eflags) {
  uint32_t r = run_user((uint32_t)stub, EFLAGS_FIXED | eflags, USER_DATA, USER_DATA, port);
  if (!check(r == RET_GP, "%s: returned 0x%x, want #GP", name, r)) return;
  check(last_fault.error == 0, "%s: #GP error 0x%x want 0", name, last_fault.error);
  check(last_fault.eip == (uint32_t)stub, "%s: #GP at 0x%08x want 0x%08x", name, last_fault.eip,
        (uint32_t)stub);
}

static void expect_ok(const char *name, const char *stub, uint16_t port, uint32_t eflags) {
  uint32_t r = run_user((uint32_t)stub, EFLAGS_FIXED | eflags, USER_DATA, USER_DATA, port);
  check(r == RET_NO_FAULT, "%s: returned 0x%x (fault vector %u err 0x%x), want no fault", name, r,
        last_fault.vector, last_fault.error);
}

void test_privileged(void) {
  unsigned before = check_failures();
  for (unsigned i = 0; i < sizeof gp_cases / sizeof gp_cases[0]; i++) {
    expect_gp(gp_cases[i].name, gp_cases[i].stub, gp_cases[i].port, EFLAGS_IF);
  }
  expect_ok("rdtsc", priv_rdtsc, 0, EFLAGS_IF);
  /* CR4.TSD makes RDTSC privileged (SDM Vol. 2B RDTSC). */
  write_cr4(read_cr4() | CR4_TSD);
  expect_gp("rdtsc with CR4.TSD", priv_rdtsc, 0, EFLAGS_IF);
  write_cr4(read_cr4() & ~CR4_TSD);
  expect_ok("rdtsc after CR4.TSD is cleared", priv_rdtsc, 0, EFLAGS_IF);
  check_eq(run_user((uint32_t)user_popf, EFLAGS_FIXED | EFLAGS_IF, 0, 0, 0), RET_SNAPSHOT, "popf");
  check_eq(snap.eax & (EFLAGS_IF | EFLAGS_IOPL3), EFLAGS_IF, "POPF at CPL 3: IF and IOPL kept");
  /* IOPL = 3 lets ring 3 use CLI/STI and any port, bitmap or not (PIC
   * masked: the CLI window is harmless). */
  tss_allow_port(0x80, false);
  expect_ok("cli; sti with IOPL 3", priv_cli_sti, 0, EFLAGS_IOPL3);
  expect_ok("in al, 0x80 with IOPL 3", priv_in80, 0, EFLAGS_IOPL3);
  expect_gp("hlt with IOPL 3", priv_hlt, 0, EFLAGS_IOPL3);
  group_done("privileged instructions", before);
}

/* Port 0x80 open in the bitmap, IOPL = 0: byte accesses to it pass, a word
 * access also touches 0x81 and faults, and closing it again faults. */
void test_io_bitmap(void) {
  unsigned before = check_failures();
  tss_allow_port(0x80, true);
  expect_ok("in al, 0x80 (bitmap open)", priv_in80, 0, EFLAGS_IF);
  expect_ok("out 0x80, al (bitmap open)", priv_out80, 0, EFLAGS_IF);
  expect_ok("in al, dx=0x80 (bitmap open)", priv_inb_dx, 0x80, EFLAGS_IF);
  expect_ok("out dx=0x80, al (bitmap open)", priv_outb_dx, 0x80, EFLAGS_IF);
  expect_gp("in ax, dx=0x80 (0x81 closed)", priv_inw_dx, 0x80, EFLAGS_IF);
  expect_gp("out dx=0x80, ax (0x81 closed)", priv_outw_dx, 0x80, EFLAGS_IF);
  expect_gp("in al, dx=0x7f (closed)", priv_inb_dx, 0x7F, EFLAGS_IF);
  tss_allow_port(0x81, true);
  expect_ok("in ax, dx=0x80 (0x80 and 0x81 open)", priv_inw_dx, 0x80, EFLAGS_IF);
  tss_allow_port(0x81, false);
  tss_allow_port(0x80, false);
  expect_gp("in al, 0x80 (bitmap closed again)", priv_in80, 0, EFLAGS_IF);
  group_done("io bitmap", before);
}

static void expect_pf(const char *name, uint32_t eip, uint32_t addr, uint32_t error) {
  uint32_t r = run_user(eip, EFLAGS_FIXED | EFLAGS_IF, addr, 0x77, 0);
  if (!check(r == RET_PF, "%s: returned 0x%x, want #PF", name, r)) return;
  check(last_fault.error == error, "%s: err 0x%x want 0x%x", name, last_fault.error, error);
  check(last_fault.cr2 == addr, "%s: cr2 0x%08x want 0x%08x", name, last_fault.cr2, addr);
  uint32_t want_eip = eip == (uint32_t)user_read || eip == (uint32_t)user_write ? eip : addr;
  check(last_fault.eip == want_eip, "%s: eip 0x%08x want 0x%08x", name, last_fault.eip, want_eip);
}

static volatile uint32_t kernel_word = 0x4B4B4B4B;

void test_user_faults(void) {
  unsigned before = check_failures();
  uint32_t kdata = (uint32_t)&kernel_word, kcode = (uint32_t)test_user_faults;
  expect_pf("user read of kernel data", (uint32_t)user_read, kdata, PF_P | PF_U);
  expect_pf("user write of kernel data", (uint32_t)user_write, kdata, PF_P | PF_W | PF_U);
  check_eq(kernel_word, 0x4B4B4B4B, "kernel data after a refused user write");
  expect_pf("user jump into kernel code", kcode, kcode, PF_P | PF_U);
  expect_pf("user read of an unmapped page", (uint32_t)user_read, 0x60000000, PF_U);
  expect_pf("user write of a read-only user page", (uint32_t)user_write, USER_RODATA + 8,
            PF_P | PF_W | PF_U);
  check_eq(run_user((uint32_t)user_read, EFLAGS_FIXED, USER_RODATA, 0, 0), RET_NO_FAULT,
           "user read of a read-only user page (EBX)");
  check_eq(run_user((uint32_t)user_write, EFLAGS_FIXED, USER_DATA + 4, 0x1234, 0), RET_NO_FAULT,
           "user write of a user page");
  check_eq(peek(USER_DATA + 4), 0x1234, "user write landed");
  group_done("user page faults", before);
}
