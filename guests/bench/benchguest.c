/* benchguest: the benchmark kernels (bench/kernels) as a multiboot guest,
 * for timing a backend against the same code run natively. Options come on
 * the command line: "iters=N only=NAME[,NAME...]|all|none". For each kernel
 * it prints "kernel NAME checksum HEX" and "kernel NAME cycles N" (the TSC
 * delta around the kernel), then "bench done", and exits with debug-exit
 * value 0; a bad option prints "bench: ..." and exits with 2. It is not
 * self-checking (no expect file): bench/run compares its checksums with the
 * native program's. */
#include "../../bench/kernels/kernels.h"
#include "guest.h"

#define MIB (1024u * 1024u)
#define EXIT_BAD_OPTIONS 2

/* The multiboot command line, copied before the scratch area may cover the
 * loader's information (QEMU puts it just past the image). */
static char cmdline[512];

static void copy_cmdline(const struct multiboot_info *info) {
  if (!(info->flags & MULTIBOOT_INFO_CMDLINE)) return;
  const char *from = (const char *)info->cmdline;
  size_t n = 0;
  for (; from[n] && n + 1 < sizeof cmdline; n++) cmdline[n] = from[n];
  cmdline[n] = '\0';
}

/* Scratch for the kernels: the RAM from the first MiB boundary past the
 * image and the loader's data, which all lie within a MiB of it. */
static void *scratch_area(const struct multiboot_info *info) {
  uint32_t start = ((uint32_t)__image_end + 2 * MIB - 1) & ~(MIB - 1);
  uint32_t end = MIB + info->mem_upper * 1024;
  uint32_t need = bench_scratch_bytes();
  if (!(info->flags & MULTIBOOT_INFO_MEMORY) || end < start || end - start < need) {
    printf("bench: need %u KiB of RAM from %x, have up to %x\n", need / 1024, start, end);
    exit_guest(EXIT_BAD_OPTIONS);
  }
  /* Touch it all up front, in every run including only=none, so that a
   * VMM's cost of first touches falls into bench/run's baseline run and
   * not into whichever kernel comes first. */
  memset((void *)start, 0, need);
  return (void *)start;
}

static void run_kernel(const struct bench_kernel *kernel, void *scratch, uint32_t iters) {
  uint64_t t0 = bench_rdtsc();
  uint32_t sum = bench_run(kernel, scratch, iters);
  uint64_t t1 = bench_rdtsc();
  printf("kernel %s checksum %08x\n", kernel->name, sum);
  printf("kernel %s cycles %llu\n", kernel->name, t1 - t0);
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    printf("bench: not started by a multiboot loader (magic %x)\n", magic);
    exit_guest(EXIT_BAD_OPTIONS);
  }
  copy_cmdline(info);
  struct bench_args args;
  char error[128];
  if (!bench_parse_args(cmdline, &args, error, sizeof error)) {
    printf("bench: %s\n", error);
    exit_guest(EXIT_BAD_OPTIONS);
  }
  void *scratch = scratch_area(info);
  printf("bench iters %u\n", args.iters);
  for (unsigned i = 0; i < bench_kernel_count; i++) {
    if (args.selected[i]) run_kernel(bench_kernels[i], scratch, args.iters);
  }
  printf("bench done\n");
  exit_guest(EXIT_PASS);
}
