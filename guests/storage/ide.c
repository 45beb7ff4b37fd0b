/* The PIIX3 IDE controller's primary channel in compatibility mode
 * (ATA/ATAPI-6; SFF-8038i for bus-master DMA): IDENTIFY DEVICE, READ and
 * WRITE SECTORS in PIO mode with LBA28, and READ DMA through a one-entry
 * PRD table. Polled: IRQ 14 stays masked at the 8259A. */
#include "kstring.h"
#include "storage.h"

#define ATA_DATA 0x1F0
#define ATA_COUNT 0x1F2
#define ATA_LBA0 0x1F3
#define ATA_LBA1 0x1F4
#define ATA_LBA2 0x1F5
#define ATA_DEVICE 0x1F6
#define ATA_STATUS 0x1F7 /* read; the command register on write */
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_BSY 0x80

#define BM_COMMAND 0 /* bit 0 start, bit 3 direction: 1 = to memory */
#define BM_STATUS 2  /* bit 0 active, bit 1 error, bit 2 interrupt */
#define BM_PRD 4

static bool wait_ready(void) { return WAIT_UNTIL(!(inb(ATA_STATUS) & ST_BSY)); }

static void select_lba(uint32_t lba, uint8_t count) {
  outb(ATA_DEVICE, 0xE0 | ((lba >> 24) & 0x0F)); /* master, LBA */
  outb(ATA_COUNT, count);
  outb(ATA_LBA0, (uint8_t)lba);
  outb(ATA_LBA1, (uint8_t)(lba >> 8));
  outb(ATA_LBA2, (uint8_t)(lba >> 16));
}

/* A PIO data-in command's one block into `words`; false on ERR. */
static bool pio_in(uint8_t command, uint16_t *words) {
  outb(ATA_STATUS, command);
  if (!wait_ready() || !(inb(ATA_STATUS) & ST_DRQ)) return false;
  for (unsigned i = 0; i < 256; i++) words[i] = inw(ATA_DATA);
  return !(inb(ATA_STATUS) & ST_ERR);
}

static uint8_t prd_buffer[512] __attribute__((aligned(4)));
static struct {
  uint32_t addr;
  uint16_t count, flags;
} prd __attribute__((aligned(8)));

void check_ide(void) {
  struct pci_fn f;
  if (!check(pci_find(0x8086, 0x7010, 0x7010, &f), "PIIX3 IDE on bus 0")) return;
  uint32_t cmd = pci_read32(0, f.dev, f.fn, 4);
  pci_write32(0, f.dev, f.fn, 4, cmd | 0x5); /* I/O decode, bus master */
  if (!check(wait_ready(), "primary master not busy")) return;

  static uint16_t id[256];
  outb(ATA_DEVICE, 0xE0);
  if (!check(pio_in(0xEC, id), "IDENTIFY DEVICE")) return;
  check_eq((uint32_t)id[60] | (uint32_t)id[61] << 16, 64, "IDENTIFY words 60-61: sectors");
  check(id[49] & (1u << 9), "IDENTIFY word 49: LBA supported");

  static uint16_t sector[256];
  select_lba(7, 1);
  check(pio_in(0x20, sector), "READ SECTORS lba 7");
  bool same = true;
  for (unsigned i = 0; i < 512; i++) same &= ((uint8_t *)sector)[i] == disk_pattern(1, 7, i);
  check(same, "PIO sector 7 holds its pattern");

  for (unsigned i = 0; i < 512; i++) ((uint8_t *)sector)[i] = disk_pattern(1, 11, i);
  select_lba(3, 1);
  outb(ATA_STATUS, 0x30); /* WRITE SECTORS */
  if (check(WAIT_UNTIL(inb(ATA_STATUS) & ST_DRQ), "WRITE SECTORS wants data"))
    for (unsigned i = 0; i < 256; i++) outw(ATA_DATA, sector[i]);
  check(wait_ready() && !(inb(ATA_STATUS) & ST_ERR), "WRITE SECTORS done");
  outb(ATA_STATUS, 0xE7); /* FLUSH CACHE */
  check(wait_ready() && !(inb(ATA_STATUS) & ST_ERR), "FLUSH CACHE done");

  uint16_t bm = (uint16_t)(pci_read32(0, f.dev, f.fn, 0x20) & ~3u);
  prd.addr = (uint32_t)prd_buffer;
  prd.count = 512;
  prd.flags = 0x8000; /* end of table */
  memset(prd_buffer, 0, sizeof prd_buffer);
  outl(bm + BM_PRD, (uint32_t)&prd);
  outb(bm + BM_STATUS, 0x06); /* clear interrupt and error */
  outb(bm + BM_COMMAND, 0x08);
  select_lba(3, 1);
  outb(ATA_STATUS, 0xC8); /* READ DMA */
  outb(bm + BM_COMMAND, 0x09);
  check(WAIT_UNTIL(inb(bm + BM_STATUS) & 0x04), "bus-master interrupt after READ DMA");
  outb(bm + BM_COMMAND, 0x00);
  uint8_t bms = inb(bm + BM_STATUS);
  check(!(bms & 0x02), "bus-master status error clear (0x%x)", bms);
  check(!(inb(ATA_STATUS) & ST_ERR), "READ DMA status");
  same = true;
  for (unsigned i = 0; i < 512; i++) same &= prd_buffer[i] == disk_pattern(1, 11, i);
  check(same, "DMA read of lba 3 returns what PIO wrote");
}
