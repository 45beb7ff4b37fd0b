/* syscall: the cost of a system call in the Linux guest. Calls getppid()
 * N times (through libc and, on i386, the vDSO's __kernel_vsyscall, which
 * uses SYSENTER) and prints the time per call. The parent's pid is the
 * checksum: the same value every call.
 * Usage: syscall [N]   (default 1000000) */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv) {
  long n = bench_rounds("syscall", argc, argv, 1000000);
  if (n == 0) return 2;
  pid_t want = getppid();
  double start = bench_now();
  for (long i = 0; i < n; i++) {
    /* syscall() rather than getppid(): libc must not cache the answer. */
    if ((pid_t)syscall(SYS_getppid) != want) {
      printf("syscall: getppid changed at %ld\n", i);
      return 1;
    }
  }
  bench_report("syscall", n, bench_now() - start, "ns", 1e9);
  return 0;
}
