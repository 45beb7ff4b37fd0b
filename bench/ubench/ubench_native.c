/* ubench_native: the native 32-bit Linux counterparts of ubenchguest's
 * microbenchmarks (guests/ubench), for bench/run_ubench's ratios. Built
 * with gcc -m32 -O2 -static. Options as the guest's, as arguments:
 * "bench=NAME iters=N" with NAME one of
 *   syscall_int80     getppid() through INT 0x80 (inline assembly)
 *   syscall_sysenter  getppid() through libc (the vDSO's SYSENTER entry)
 *   pagefault         write one dword to each of N fresh anonymous pages,
 *                     mmap'ing a 4 MiB window and munmap'ing it when used
 *   ctxswitch         N round trips of a byte over two pipes between two
 *                     processes pinned to one CPU, each writing 4 of its
 *                     pages per turn
 *   none, all         nothing / each in turn
 * Each prints "ubench NAME iterations N seconds S" (the timed loop only).
 * Exit status 0, 1 on a failed system call or check, 2 on bad options. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WINDOW_PAGES 1024u
#define TOUCH_PAGES 4u

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
  fprintf(stderr, "ubench_native: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void report(const char *name, uint32_t iters, double seconds) {
  printf("ubench %s iterations %u seconds %.6f\n", name, iters, seconds);
  fflush(stdout);
}

static long getppid_int80(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(SYS_getppid) : "memory");
  return r;
}

static void bench_int80(uint32_t iters) {
  long want = getppid(), wrong = 0;
  double t0 = now();
  for (uint32_t i = 0; i < iters; i++) wrong += getppid_int80() != want;
  report("syscall_int80", iters, now() - t0);
  if (wrong) {
    fprintf(stderr, "ubench_native: int 0x80 getppid wrong %ld times\n", wrong);
    exit(1);
  }
}

static void bench_sysenter(uint32_t iters) {
  volatile long sink = 0;
  double t0 = now();
  for (uint32_t i = 0; i < iters; i++) sink += getppid();
  report("syscall_sysenter", iters, now() - t0);
  (void)sink;
}

static void bench_pagefault(uint32_t iters) {
  double t0 = now();
  for (uint32_t done = 0; done < iters;) {
    char *w =
        mmap(NULL, WINDOW_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) die("mmap");
    uint32_t n = iters - done < WINDOW_PAGES ? iters - done : WINDOW_PAGES;
    for (uint32_t i = 0; i < n; i++) *(volatile uint32_t *)(w + i * PAGE) = i;
    if (munmap(w, WINDOW_PAGES * PAGE) != 0) die("munmap");
    done += n;
  }
  report("pagefault", iters, now() - t0);
}

static void touch(volatile uint32_t *pages) {
  for (uint32_t k = 0; k < TOUCH_PAGES; k++) pages[k * PAGE / 4]++;
}

static void xfer(int rfd, int wfd, int read_first) {
  char c = 'x';
  if (read_first && read(rfd, &c, 1) != 1) die("read");
  if (write(wfd, &c, 1) != 1) die("write");
  if (!read_first && read(rfd, &c, 1) != 1) die("read");
}

static void bench_ctxswitch(uint32_t iters) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) die("sched_setaffinity");
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) die("pipe");
  static uint32_t pages[TOUCH_PAGES * PAGE / 4] __attribute__((aligned(4096)));
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (uint32_t i = 0; i < iters; i++) {
      touch(pages);
      xfer(to_child[0], to_parent[1], 1);
    }
    _exit(pages[0] == iters ? 0 : 1);
  }
  double t0 = now();
  for (uint32_t i = 0; i < iters; i++) {
    touch(pages);
    xfer(to_parent[0], to_child[1], 0);
  }
  double t1 = now();
  int status;
  if (waitpid(child, &status, 0) != child) die("waitpid");
  report("ctxswitch", iters, t1 - t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || pages[0] != iters) {
    fprintf(stderr, "ubench_native: ctxswitch: pages not written %u times\n", iters);
    exit(1);
  }
}

static const struct {
  const char *name;
  void (*run)(uint32_t iters);
} benches[] = {
    {"syscall_int80", bench_int80},
    {"syscall_sysenter", bench_sysenter},
    {"pagefault", bench_pagefault},
    {"ctxswitch", bench_ctxswitch},
};
#define NBENCHES (sizeof benches / sizeof benches[0])

static void usage(const char *why, const char *what) {
  fprintf(stderr, "ubench_native: %s '%s' (bench=NAME iters=N; NAME none, all", why, what);
  for (unsigned i = 0; i < NBENCHES; i++) fprintf(stderr, ", %s", benches[i].name);
  fprintf(stderr, ")\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *name = "none";
  uint32_t iters = 1000;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "bench=", 6) == 0) {
      name = argv[i] + 6;
    } else if (strncmp(argv[i], "iters=", 6) == 0) {
      char *end;
      unsigned long n = strtoul(argv[i] + 6, &end, 10);
      if (*end || n == 0 || n > 100000000) usage("bad iters", argv[i]);
      iters = (uint32_t)n;
    } else {
      usage("unknown option", argv[i]);
    }
  }
  int all = strcmp(name, "all") == 0, found = all || strcmp(name, "none") == 0;
  for (unsigned i = 0; i < NBENCHES; i++) {
    if (all || strcmp(name, benches[i].name) == 0) {
      benches[i].run(iters);
      found = 1;
    }
  }
  if (!found) usage("unknown bench", name);
  return 0;
}
