/* The guest runner: a multiboot kernel that runs the case file handed to
 * it as the first multiboot module (Multiboot Specification 0.6.96, 3.3,
 * mods_addr) and prints the same report lines as the native runner on
 * COM1. With paging off all RAM is writable and executable, so each case
 * runs from its own slot in the RAM past the image and the modules. */
#include "diff_runner.h"
#include "guest.h"

#define PAGE_SIZE 4096u
#define MIB (1024u * 1024u)

static uint32_t align_up(uint32_t value) { return (value + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

static void emit(const char *line) { printf("%s\n", line); }

/* The first free byte past the image and every module. */
static uint32_t free_ram_start(const struct multiboot_info *info) {
  uint32_t start = (uint32_t)(uintptr_t)__image_end;
  const struct multiboot_module *mods = (const void *)(uintptr_t)info->mods_addr;
  for (uint32_t i = 0; i < info->mods_count; ++i) {
    if (mods[i].mod_end > start) start = mods[i].mod_end;
  }
  return align_up(start);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  descriptor_tables_init(); /* a stray fault reports itself instead of resetting */
  if (!check_eq(magic, MULTIBOOT_BOOTLOADER_MAGIC, "multiboot magic")) return;
  if (!check((info->flags & MULTIBOOT_INFO_MODS) && info->mods_count >= 1,
             "no case file: pass it as a multiboot module (initrd)")) {
    return;
  }
  const struct multiboot_module *mod = (const void *)(uintptr_t)info->mods_addr;
  const void *file = (const void *)(uintptr_t)mod->mod_start;
  const char *error = "";
  const int count = diff_check_file(file, mod->mod_end - mod->mod_start, &error);
  if (!check(count >= 0, "case file: %s", error)) return;

  if (!check(info->flags & MULTIBOOT_INFO_MEMORY, "no memory size from the loader")) return;
  const uint32_t area = free_ram_start(info);
  const uint32_t ram_end = MIB + info->mem_upper * 1024u;
  if (!check(area + (uint32_t)count * DIFF_SLOT_SIZE + 1 <= ram_end,
             "%d cases need more RAM than ends at 0x%x", count, ram_end)) {
    return;
  }
  diff_run_all(file, (uint8_t *)(uintptr_t)area, emit);
  printf("diff: %d cases\n", count);
}
