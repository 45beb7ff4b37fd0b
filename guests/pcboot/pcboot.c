/* pcboot: the PC state a kernel written against QEMU finds at entry, and
 * relies on before it sets anything up itself: a flat GDT loaded by the
 * loader (segment reloads and a far jump with GRUB's selectors work before
 * any LGDT), the BIOS data area (COM1 at 0x400, EBDA segment at 0x40E,
 * base memory at 0x413), the VGA CRTC cursor registers reading back what
 * was written, and a multiboot module's command line holding the whole
 * -initrd entry ("file args"). */
#include "guest.h"

struct __attribute__((packed)) gdtr {
  uint16_t limit;
  uint32_t base;
};

static void check_boot_gdt(void) {
  struct gdtr g;
  __asm__ volatile("sgdt %0" : "=m"(g));
  if (!check(g.limit >= 23, "GDTR limit %u: no flat GDT left loaded", g.limit)) return;
  const uint64_t *gdt = (const uint64_t *)g.base;
  check_eq64(gdt[1] & 0x00CF9A000000FFFFull, 0x00CF9A000000FFFFull, "GDT[0x08] flat code");
  check_eq64(gdt[2] & 0x00CF92000000FFFFull, 0x00CF92000000FFFFull, "GDT[0x10] flat data");
  /* Reload every data segment and CS with the loader's selectors. */
  uint32_t ds;
  __asm__ volatile(
      "movw $0x10, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "movw %%ax, %%es\n\t"
      "movw %%ax, %%fs\n\t"
      "movw %%ax, %%gs\n\t"
      "movw %%ax, %%ss\n\t"
      "ljmp $0x08, $1f\n"
      "1:\n\t"
      "movl %%ds, %0"
      : "=r"(ds)
      :
      : "eax", "memory");
  check_eq(ds, 0x10, "DS after reload");
  printf("boot GDT ok\n");
}

/* A 16-bit read of low physical memory (the asm hides the constant address
 * from GCC, which would take it for a null-pointer offset). */
static uint16_t peek16(uintptr_t addr) {
  const volatile uint16_t *p;
  __asm__("" : "=r"(p) : "0"(addr));
  return *p;
}

static void check_bda(void) {
  check_eq(peek16(0x400), 0x3F8, "BDA COM1 port");
  check_eq(peek16(0x413), 639, "BDA base memory KiB");
  uint32_t ebda = (uint32_t)peek16(0x40E) << 4;
  check(ebda >= 0x80000 && ebda < 0xA0000, "EBDA at %x", ebda);
  printf("BDA ok\n");
}

static void crtc_write(uint8_t index, uint8_t value) {
  outb(0x3D4, index);
  outb(0x3D5, value);
}

static uint8_t crtc_read(uint8_t index) {
  outb(0x3D4, index);
  return inb(0x3D5);
}

static void check_crtc(void) {
  crtc_write(0x0E, 0x07);
  crtc_write(0x0F, 0xD0);
  check_eq(crtc_read(0x0E), 0x07, "CRTC cursor high");
  check_eq(crtc_read(0x0F), 0xD0, "CRTC cursor low");
  printf("CRTC ok\n");
}

static void check_module(const struct multiboot_info *info) {
  if (!check(info->flags & MULTIBOOT_INFO_MODS, "no modules") ||
      !check_eq(info->mods_count, 1, "modules"))
    return;
  const struct multiboot_module *m = (const void *)info->mods_addr;
  const char *s = (const char *)m->string;
  const char *args = s;
  while (*args && *args != ' ') ++args;
  if (check(*args == ' ', "module string '%s' has no arguments", s))
    check(strcmp(args, " arg=1 two") == 0, "module arguments '%s'", args);
  printf("module cmdline ok\n");
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  check_eq(magic, MULTIBOOT_BOOTLOADER_MAGIC, "magic");
  check_boot_gdt();
  check_bda();
  check_crtc();
  check_module(info);
}
