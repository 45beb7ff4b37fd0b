/* A minimal virtio 1.x driver over PCI (virtio 1.2, 4.1.4 and 2.7): the
 * vendor capabilities give the common, notify and device configuration
 * structures in a memory BAR; one split virtqueue of 8 entries, polled
 * through the used ring (no interrupts). */
#include "kstring.h"
#include "storage.h"

#define VIRTIO_VENDOR 0x1AF4
#define CAP_VENDOR 0x09
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_DEVICE 4

#define STATUS_ACK 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

#define QSIZE 8
#define DESC_NEXT 1
#define DESC_WRITE 2

struct vdev {
  uintptr_t common, notify, device;
  uint32_t notify_mult;
  uint16_t notify_off;
  uint16_t last_used;
};

struct desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
static struct {
  struct desc desc[QSIZE] __attribute__((aligned(16)));
  struct {
    uint16_t flags, idx, ring[QSIZE], used_event;
  } avail __attribute__((aligned(2)));
  struct {
    uint16_t flags, idx;
    struct {
      uint32_t id, len;
    } ring[QSIZE];
    uint16_t avail_event;
  } used __attribute__((aligned(4)));
} queue;

static uint8_t r8(uintptr_t a) { return *mmio_ptr8(a); }
static void w8(uintptr_t a, uint8_t v) { *mmio_ptr8(a) = v; }
static uint16_t r16(uintptr_t a) { return *mmio_ptr16(a); }
static void w16(uintptr_t a, uint16_t v) { *mmio_ptr16(a) = v; }

/* The address of a capability's structure: its BAR's base plus offset. */
static uintptr_t cap_address(struct pci_fn f, unsigned cap) {
  unsigned bar = pci_read8(0, f.dev, f.fn, cap + 4);
  uint32_t low = pci_read32(0, f.dev, f.fn, 0x10 + 4 * bar);
  return (low & ~0xFu) + pci_read32(0, f.dev, f.fn, cap + 8);
}

static bool find_structures(struct pci_fn f, struct vdev *v) {
  v->common = v->notify = v->device = 0;
  for (unsigned cap = pci_read8(0, f.dev, f.fn, 0x34) & ~3u; cap;
       cap = pci_read8(0, f.dev, f.fn, cap + 1) & ~3u) {
    if (pci_read8(0, f.dev, f.fn, cap) != CAP_VENDOR) continue;
    switch (pci_read8(0, f.dev, f.fn, cap + 3)) {
      case CFG_COMMON: v->common = cap_address(f, cap); break;
      case CFG_NOTIFY:
        v->notify = cap_address(f, cap);
        v->notify_mult = pci_read32(0, f.dev, f.fn, cap + 16);
        break;
      case CFG_DEVICE: v->device = cap_address(f, cap); break;
    }
  }
  return v->common && v->notify; /* virtio-rng has no device configuration */
}

/* Reset, negotiate VERSION_1 only, set up queue 0 (2.7, 3.1.1). */
static bool virtio_init(struct pci_fn f, struct vdev *v) {
  uint32_t cmd = pci_read32(0, f.dev, f.fn, 4);
  pci_write32(0, f.dev, f.fn, 4, cmd | 0x6); /* memory decode, bus master */
  if (!check(find_structures(f, v), "virtio capabilities: common and notify")) return false;
  w8(v->common + 0x14, 0);
  if (!check(WAIT_UNTIL(r8(v->common + 0x14) == 0), "device status 0 after reset")) return false;
  w8(v->common + 0x14, STATUS_ACK | STATUS_DRIVER);
  mmio_write32(v->common + 0x00, 1);
  check(mmio_read32(v->common + 0x04) & 1, "VIRTIO_F_VERSION_1 offered");
  mmio_write32(v->common + 0x08, 0);
  mmio_write32(v->common + 0x0C, 0);
  mmio_write32(v->common + 0x08, 1);
  mmio_write32(v->common + 0x0C, 1);
  w8(v->common + 0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
  if (!check(r8(v->common + 0x14) & STATUS_FEATURES_OK, "FEATURES_OK accepted")) return false;
  w16(v->common + 0x16, 0);
  check(r16(v->common + 0x18) >= QSIZE, "queue 0 size %u", r16(v->common + 0x18));
  w16(v->common + 0x18, QSIZE);
  memset(&queue, 0, sizeof queue);
  mmio_write32(v->common + 0x20, (uint32_t)queue.desc);
  mmio_write32(v->common + 0x24, 0);
  mmio_write32(v->common + 0x28, (uint32_t)&queue.avail);
  mmio_write32(v->common + 0x2C, 0);
  mmio_write32(v->common + 0x30, (uint32_t)&queue.used);
  mmio_write32(v->common + 0x34, 0);
  v->notify_off = r16(v->common + 0x1E);
  w16(v->common + 0x1C, 1);
  w8(v->common + 0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  v->last_used = 0;
  return true;
}

/* Offers the chain at descriptor 0, notifies, and waits for it to come
 * back; returns the used length, or -1 if it never did. */
static int virtio_run(struct vdev *v) {
  queue.avail.ring[queue.avail.idx % QSIZE] = 0;
  __asm__ volatile("" : : : "memory");
  queue.avail.idx++;
  __asm__ volatile("" : : : "memory");
  w16(v->notify + v->notify_off * v->notify_mult, 0);
  if (!WAIT_UNTIL(*(volatile uint16_t *)&queue.used.idx != v->last_used)) return -1;
  v->last_used++;
  return (int)queue.used.ring[(v->last_used - 1) % QSIZE].len;
}

void check_virtio_rng(void) {
  struct pci_fn f;
  if (!check(pci_find(VIRTIO_VENDOR, 0x1044, 0x1005, &f), "virtio-rng on bus 0")) return;
  struct vdev v;
  if (!virtio_init(f, &v)) return;
  static uint8_t buf[64];
  memset(buf, 0, sizeof buf);
  queue.desc[0] = (struct desc){(uint32_t)buf, sizeof buf, DESC_WRITE, 0};
  int len = virtio_run(&v);
  if (!check(len > 0 && len <= (int)sizeof buf, "rng used length %d", len)) return;
  unsigned zeros = 0;
  for (int i = 0; i < len; i++) zeros += buf[i] == 0;
  check(zeros < (unsigned)len / 2 + 1, "rng bytes are not mostly zero (%u of %d)", zeros, len);
}

struct blk_header {
  uint32_t type, reserved;
  uint64_t sector;
};
enum { BLK_IN = 0, BLK_OUT = 1, BLK_FLUSH = 4, BLK_GET_ID = 8 };

static struct blk_header header;
static uint8_t data[512], status;

/* One request: header, optional data (device-writable for IN/GET_ID), status. */
static uint8_t blk_request(struct vdev *v, uint32_t type, uint64_t sector, uint32_t len) {
  header = (struct blk_header){type, 0, sector};
  status = 0xFF;
  queue.desc[0] = (struct desc){(uint32_t)&header, sizeof header, DESC_NEXT, 1};
  unsigned last = 1;
  if (len) {
    uint16_t dir = type == BLK_OUT ? 0 : DESC_WRITE;
    queue.desc[1] = (struct desc){(uint32_t)data, len, DESC_NEXT | dir, 2};
    last = 2;
  } else {
    queue.desc[0].next = 1;
  }
  queue.desc[last] = (struct desc){(uint32_t)&status, 1, DESC_WRITE, 0};
  if (virtio_run(v) < 0) return 0xFE;
  return status;
}

static bool sector_is(unsigned disk, uint32_t sector, const uint8_t *buf) {
  for (unsigned i = 0; i < 512; i++)
    if (buf[i] != disk_pattern(disk, sector, i)) return false;
  return true;
}

void check_virtio_blk(void) {
  struct pci_fn f;
  if (!check(pci_find(VIRTIO_VENDOR, 0x1042, 0x1001, &f), "virtio-blk on bus 0")) return;
  struct vdev v;
  if (!virtio_init(f, &v)) return;
  if (!check(v.device != 0, "virtio-blk device configuration capability")) return;
  uint32_t capacity = mmio_read32(v.device);
  check_eq(capacity, 64, "virtio-blk capacity in sectors");
  check_eq(blk_request(&v, BLK_IN, 7, 512), 0, "read sector 7: status");
  check(sector_is(0, 7, data), "sector 7 holds its pattern");
  for (unsigned i = 0; i < 512; i++) data[i] = disk_pattern(0, 9, i);
  check_eq(blk_request(&v, BLK_OUT, 5, 512), 0, "write sector 5: status");
  check_eq(blk_request(&v, BLK_FLUSH, 0, 0), 0, "flush: status");
  if (hold_after_flush) {
    printf("storage: flushed\n");
    for (;;) __asm__ volatile("sti\n\thlt");
  }
  memset(data, 0, sizeof data);
  check_eq(blk_request(&v, BLK_IN, 5, 512), 0, "read sector 5 back: status");
  check(sector_is(0, 9, data), "sector 5 reads back what was written");
  check_eq(blk_request(&v, BLK_IN, 64, 512), 1, "read past the end: VIRTIO_BLK_S_IOERR");
}
