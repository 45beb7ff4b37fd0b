/* What firmware and the chipset describe: the ACPI tables (ACPI 6.x 5.2:
 * RSDP, RSDT, FADT, MADT), the MP tables (MultiProcessor Specification 1.4
 * ch. 4) and PCI configuration mechanism #1 on bus 0 (i440FX host bridge
 * at 00:00.0, PIIX3 ISA bridge at 00:01.0). */
#include "pci.h"
#include "platform.h"

/* A pointer to low physical memory (see mmio_ptr32 for the asm). */
static const uint8_t *phys(uintptr_t addr) {
  const uint8_t *p;
  __asm__("" : "=r"(p) : "0"(addr));
  return p;
}

static uint32_t get32(const uint8_t *p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint8_t byte_sum(const uint8_t *p, uint32_t n) {
  uint8_t s = 0;
  for (uint32_t i = 0; i < n; i++) s += p[i];
  return s;
}

/* The first 16-byte aligned `sig` in [from, to) whose first `n` bytes sum
 * to 0 (a stray copy of the signature elsewhere fails the checksum). */
static const uint8_t *scan(uintptr_t from, uintptr_t to, const char *sig, unsigned n) {
  for (uintptr_t a = from; a < to; a += 16) {
    const uint8_t *p = phys(a);
    if (memcmp(p, sig, strlen(sig)) == 0 && byte_sum(p, n) == 0) return p;
  }
  return NULL;
}

/* A table with the standard 36-byte header and a valid checksum, or NULL. */
static const uint8_t *acpi_table(uint32_t addr, const char *sig) {
  const uint8_t *t = phys(addr);
  if (!check(memcmp(t, sig, 4) == 0, "table at %x is not %s", addr, sig)) return NULL;
  uint32_t length = get32(t + 4);
  if (!check(length >= 36 && length < 0x10000, "%s length %u", sig, length)) return NULL;
  if (!check(byte_sum(t, length) == 0, "%s checksum", sig)) return NULL;
  return t;
}

static void check_madt(const uint8_t *madt) {
  check_eq(get32(madt + 36), LAPIC_BASE, "MADT local APIC address");
  check(get32(madt + 40) & 1, "MADT flags: PCAT_COMPAT clear");
  uint32_t lapic_id = lapic_read(LAPIC_ID) >> 24,
           ioapic_id = ioapic_read(IOAPIC_REG_ID) >> 24 & 0xf;
  bool bsp = false, ioapic = false, irq0_override = false;
  uint32_t length = get32(madt + 4);
  for (uint32_t off = 44; off + 2 <= length;) {
    const uint8_t *e = madt + off;
    if (!check(e[1] >= 2, "MADT entry of length %u at offset %u", e[1], off)) break;
    switch (e[0]) {
      case 0: /* processor local APIC: ACPI ID, APIC ID, flags (enabled) */
        bsp |= e[3] == lapic_id && (get32(e + 4) & 1);
        break;
      case 1: /* I/O APIC: ID, reserved, address, GSI base */
        ioapic |= e[2] == ioapic_id && get32(e + 4) == IOAPIC_BASE && get32(e + 8) == 0;
        break;
      case 2: /* interrupt source override: bus, source, GSI, flags */
        irq0_override |= e[2] == 0 && e[3] == 0 && get32(e + 4) == IOAPIC_PIT_PIN;
        break;
    }
    off += e[1];
  }
  check(bsp, "MADT has no enabled local APIC entry with ID %u", lapic_id);
  check(ioapic, "MADT has no I/O APIC entry with ID %u at %x, GSI base 0", ioapic_id, IOAPIC_BASE);
  check(irq0_override, "MADT has no override of ISA IRQ0 to GSI 2");
}

/* FADT (ACPI 6.x 5.2.9): PM_TMR_BLK at 76, PM_TMR_LEN at 91, flags at 112
 * with TMR_VAL_EXT (bit 8) clear for the 24-bit timer. */
static void check_fadt(const uint8_t *fadt) {
  check_eq(get32(fadt + 76), PM_TIMER_PORT, "FADT PM_TMR_BLK");
  check_eq(fadt[91], 4, "FADT PM_TMR_LEN");
  if (check(get32(fadt + 4) >= 116, "FADT too short for flags")) {
    check_eq(get32(fadt + 112) >> 8 & 1, 0, "FADT TMR_VAL_EXT");
  }
}

void check_acpi_tables(void) {
  const uint8_t *rsdp = scan(0xE0000, 0x100000, "RSD PTR ", 20);
  if (!check(rsdp != NULL, "no RSDP with a valid checksum in 0xE0000-0xFFFFF")) return;
  if (rsdp[15] >= 2) check(byte_sum(rsdp, get32(rsdp + 20)) == 0, "RSDP extended checksum");
  const uint8_t *rsdt = acpi_table(get32(rsdp + 16), "RSDT");
  if (!rsdt) return;
  const uint8_t *madt = NULL, *fadt = NULL;
  uint32_t entries = (get32(rsdt + 4) - 36) / 4;
  for (uint32_t i = 0; i < entries; i++) {
    uint32_t addr = get32(rsdt + 36 + 4 * i);
    const uint8_t *t = phys(addr);
    if (memcmp(t, "APIC", 4) == 0) madt = acpi_table(addr, "APIC");
    if (memcmp(t, "FACP", 4) == 0) fadt = acpi_table(addr, "FACP");
  }
  if (check(madt != NULL, "RSDT lists no valid MADT (APIC)")) check_madt(madt);
  if (check(fadt != NULL, "RSDT lists no valid FADT (FACP)")) check_fadt(fadt);
}

/* The configuration table (MP 1.4 4.2): "PCMP", base length at 4, entry
 * count at 34, entries from 44; processors are 20 bytes, the rest 8. */
static void check_mp_config(const uint8_t *mpc) {
  uint16_t length = get16(mpc + 4);
  if (!check(byte_sum(mpc, length) == 0, "MP configuration table checksum")) return;
  bool bsp = false, ioapic = false;
  const uint8_t *e = mpc + 44, *end = mpc + length;
  for (unsigned i = 0; i < get16(mpc + 34) && e < end; i++) {
    if (e[0] == 0) bsp |= (e[3] & 3) == 3; /* CPU flags: enabled, BSP */
    if (e[0] == 2) ioapic |= (e[3] & 1) && get32(e + 4) == IOAPIC_BASE;
    e += e[0] == 0 ? 20 : 8;
  }
  check(bsp, "MP table has no enabled BSP entry");
  check(ioapic, "MP table has no usable I/O APIC at %x", IOAPIC_BASE);
}

/* The floating pointer (MP 1.4 4.1): "_MP_", configuration table address
 * at 4, length in 16-byte units at 8, checksum over that length. */
void check_mp_table(void) {
  const uint8_t *mpf = NULL;
  for (uintptr_t a = 0xF0000; a < 0x100000 && !mpf; a += 16) {
    const uint8_t *p = phys(a);
    if (memcmp(p, "_MP_", 4) == 0 && p[8] >= 1 && byte_sum(p, 16u * p[8]) == 0) mpf = p;
  }
  if (!check(mpf != NULL, "no MP floating pointer with a valid checksum in 0xF0000-0xFFFFF"))
    return;
  check(mpf[9] == 1 || mpf[9] == 4, "MP specification revision %u", mpf[9]);
  uint32_t config = get32(mpf + 4);
  if (!check(config != 0, "MP floating pointer names no configuration table")) return;
  if (check(memcmp(phys(config), "PCMP", 4) == 0, "no PCMP at %x", config)) {
    check_mp_config(phys(config));
  }
}

/* Byte and word reads at each offset of the dword at `offset` agree with
 * the dword read. */
static void check_sub_dword(unsigned dev, unsigned offset) {
  uint32_t dword = pci_read32(0, dev, 0, offset);
  for (unsigned b = 0; b < 4; b++) {
    check_eq(pci_read8(0, dev, 0, offset + b), dword >> (8 * b) & 0xff, "PCI byte read");
  }
  for (unsigned w = 0; w < 4; w += 2) {
    check_eq(pci_read16(0, dev, 0, offset + w), dword >> (8 * w) & 0xffff, "PCI word read");
  }
}

void check_pci(void) {
  check_eq(pci_read32(0, 0, 0, 0x00), 0x12378086, "00:00.0 vendor/device (i440FX)");
  check_eq(pci_read32(0, 0, 0, 0x08) >> 16, 0x0600, "00:00.0 class (host bridge)");
  check_eq(pci_read32(0, 1, 0, 0x00), 0x70008086, "00:01.0 vendor/device (PIIX3)");
  check_eq(pci_read32(0, 1, 0, 0x08) >> 16, 0x0601, "00:01.0 class (ISA bridge)");
  check_eq(pci_read32(0, 0x1f, 0, 0x00), 0xFFFFFFFF, "absent 00:1f.0");
  check_eq(pci_read32(0, 0, 1, 0x00), 0xFFFFFFFF, "absent 00:00.1");
  uint32_t address = pci_config_address(0, 1, 0, 0x08);
  outl(PCI_CONFIG_ADDRESS, address);
  check_eq(inl(PCI_CONFIG_ADDRESS), address, "CONFIG_ADDRESS read-back");
  /* With the enable bit clear, CONFIG_DATA reaches no function. */
  outl(PCI_CONFIG_ADDRESS, address & 0x7fffffff);
  check_eq(inl(PCI_CONFIG_DATA), 0xFFFFFFFF, "CONFIG_DATA with CONFIG_ADDRESS disabled");
  check_sub_dword(0, 0x00);
  check_sub_dword(0, 0x08);
  check_sub_dword(1, 0x00);
  check_sub_dword(1, 0x08);
}
