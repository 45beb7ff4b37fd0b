/*
 * cpuid: the CPUID profile a transvisor guest sees, on either backend (the
 * kvm backend hands the same table to KVM_SET_CPUID2): vendor, the basic
 * and extended leaf ranges, family/model/stepping, the feature bits Linux
 * relies on and the ones the profile leaves out, ARAT, the TSC leaf and the
 * brand string. QEMU has a CPUID of its own: there only the vendor and the
 * leaf ranges' consistency are checked.
 */
#include "guest.h"
#include "kstring.h"
#include "reference.h"

struct regs4 {
  uint32_t a, b, c, d;
};

static struct regs4 cpuid(uint32_t leaf) {
  struct regs4 r;
  __asm__ volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(0));
  return r;
}

static void check_vendor_and_ranges(void) {
  struct regs4 r = cpuid(0);
  char vendor[13];
  memcpy(vendor, &r.b, 4);
  memcpy(vendor + 4, &r.d, 4);
  memcpy(vendor + 8, &r.c, 4);
  vendor[12] = 0;
  check(strcmp(vendor, "GenuineIntel") == 0, "vendor '%s', want GenuineIntel", vendor);
  check(r.a >= 1, "highest basic leaf %u", r.a);
  check(cpuid(0x80000000).a >= 0x80000004, "extended leaves reach the brand string");
}

static void check_profile(void) {
  if (qemu_deviation("transvisor's CPUID profile (QEMU has its own)")) return;
  check_eq(cpuid(0).a, 0x16, "highest basic leaf");
  struct regs4 r = cpuid(1);
  check_eq(r.a, 0x6fb, "family 6 model 15 stepping 11");
  /* FPU DE PSE TSC MSR CX8 APIC SEP PGE CMOV PAT MMX FXSR SSE SSE2 */
  check_eq(r.d, 0x0781AB3D, "leaf 1 EDX");
  check_eq(r.c, 1u << 24, "leaf 1 ECX: TSC-deadline only");
  check_eq(r.b >> 24, 0, "initial APIC ID");
  check_eq(cpuid(6).a, 1u << 2, "leaf 6: ARAT");
  struct regs4 t = cpuid(0x15);
  check(t.a == 1 && t.c == 1000000 && t.b > 0, "leaf 0x15: TSC at %u MHz", t.b);
  struct regs4 x = cpuid(0x80000001);
  check(x.a == 0 && x.b == 0 && x.c == 0 && x.d == 0, "leaf 0x80000001: no long mode, NX, SYSCALL");
  char brand[49];
  for (unsigned i = 0; i < 3; i++) {
    struct regs4 b = cpuid(0x80000002 + i);
    memcpy(brand + 16 * i, &b, 16);
  }
  brand[48] = 0;
  check(strncmp(brand, "Transvisor Virtual CPU", 22) == 0, "brand '%s'", brand);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  (void)magic;
  (void)info;
  run_group("cpuid vendor and ranges", check_vendor_and_ranges);
  run_group("cpuid profile", check_profile);
}
