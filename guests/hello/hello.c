/* hello: the first guest. Checks what the multiboot loader hands over
 * (Multiboot Specification 0.6.96, 3.2 and 3.3) against the RAM size QEMU's
 * fw_cfg reports, and reads its command line. It takes no exceptions, so
 * that it runs wherever a backend can run unpaged code at all. */
#include "guest.h"

#define MIB (1024u * 1024u)

static void check_memory_map(const struct multiboot_info *info) {
  const uint64_t upper_end = MIB + (uint64_t)info->mem_upper * 1024;
  const struct multiboot_mmap_entry *entry = (const void *)info->mmap_addr;
  const struct multiboot_mmap_entry *end = (const void *)(info->mmap_addr + info->mmap_length);
  bool covered = false;
  for (; entry < end; entry = multiboot_mmap_next(entry)) {
    printf("mmap %016llx-%016llx type %u\n", entry->addr, entry->addr + entry->len - 1,
           entry->type);
    covered |= entry->type == MULTIBOOT_MEMORY_AVAILABLE && entry->addr <= MIB &&
               entry->addr + entry->len >= upper_end;
  }
  check(covered, "no available mmap region covers 1 MiB..%llx", upper_end);
}

static void check_memory(const struct multiboot_info *info) {
  if (!check(info->flags & MULTIBOOT_INFO_MEMORY, "flags %x lack MEMORY", info->flags)) return;
  check(info->mem_lower == 639 || info->mem_lower == 640, "mem_lower %u, want 639 or 640",
        info->mem_lower);
  if (check(fw_cfg_present(), "fw_cfg signature is not QEMU")) {
    uint64_t ram = fw_cfg_read_u64(FW_CFG_RAM_SIZE);
    printf("RAM %llu MiB\n", ram / MIB);
    /* mem_upper is RAM above 1 MiB, less what firmware keeps at the top:
     * QEMU's multiboot ROM takes it from the e820 map, in which SeaBIOS
     * reserves the last 128 KiB. Allow up to 256 KiB. */
    uint32_t want = (uint32_t)((ram - MIB) / 1024);
    check(info->mem_upper <= want && info->mem_upper + 256 >= want,
          "mem_upper %u KiB, want %u KiB less at most 256", info->mem_upper, want);
  }
  if (check(info->flags & MULTIBOOT_INFO_MEM_MAP, "flags %x lack MEM_MAP", info->flags)) {
    check_memory_map(info);
  }
}

static void check_cmdline(const struct multiboot_info *info) {
  if (!check(info->flags & MULTIBOOT_INFO_CMDLINE, "flags %x lack CMDLINE", info->flags)) return;
  const char *cmdline = (const char *)info->cmdline;
  printf("command line: %s\n", cmdline);
  check(strstr(cmdline, "hello-arg") != 0, "command line lacks hello-arg");
}

/* The library's formatter, which every other guest's report relies on. */
static void check_printf(void) {
  char buf[64];
  snprintf(buf, sizeof buf, "%d %i %u %x %X", -42, 7, 4000000000u, 0xbeefu, 0xbeefu);
  check(strcmp(buf, "-42 7 4000000000 beef BEEF") == 0, "printf ints: %s", buf);
  snprintf(buf, sizeof buf, "[%08x] [%5d] [%-5d] [%05d]", 0x1234u, 42, 42, -42);
  check(strcmp(buf, "[00001234] [   42] [42   ] [-0042]") == 0, "printf widths: %s", buf);
  snprintf(buf, sizeof buf, "%llx %llu %lld", 0x123456789abcdefull, 18446744073709551615ull,
           -9000000000ll);
  check(strcmp(buf, "123456789abcdef 18446744073709551615 -9000000000") == 0, "printf ll: %s", buf);
  snprintf(buf, sizeof buf, "%s|%-4s|%3s|%c|%p|%%", "ab", "cd", "e", 'f', (void *)0x1000);
  check(strcmp(buf, "ab|cd  |  e|f|0x00001000|%") == 0, "printf misc: %s", buf);
  check_eq(snprintf(buf, 4, "%d", 123456), 6, "snprintf return when truncated");
  check(strcmp(buf, "123") == 0, "snprintf truncation: %s", buf);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  printf("hello from a transvisor guest\n");
  check_eq(magic, MULTIBOOT_BOOTLOADER_MAGIC, "multiboot magic");
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) return;
  printf("multiboot flags %08x mem_lower %u KiB mem_upper %u KiB\n", info->flags, info->mem_lower,
         info->mem_upper);
  check_memory(info);
  check_cmdline(info);
  check_printf();
}
