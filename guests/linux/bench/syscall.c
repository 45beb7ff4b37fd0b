/* syscall: the cost of a system call in the Linux guest. Calls getppid()
 * N times (through libc and, on i386, the vDSO's __kernel_vsyscall, which
 * uses SYSENTER) and prints the time per call. The parent's pid is the
 * checksum: the same value every call.
 * Usage: syscall [N]   (default 1000000) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
  if (n <= 0) {
    fprintf(stderr, "usage: syscall [N > 0]\n");
    return 2;
  }
  pid_t want = getppid();
  double start = now_seconds();
  for (long i = 0; i < n; i++) {
    /* syscall() rather than getppid(): libc must not cache the answer. */
    if ((pid_t)syscall(SYS_getppid) != want) {
      printf("syscall: getppid changed at %ld\n", i);
      return 1;
    }
  }
  double seconds = now_seconds() - start;
  printf("syscall %ld ok\n", n);
  printf("syscall seconds %.6f (%.1f ns each)\n", seconds, seconds * 1e9 / (double)n);
  return 0;
}
