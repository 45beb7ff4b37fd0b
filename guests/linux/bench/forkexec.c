/* forkexec: process creation in the Linux guest. Forks N children that
 * each exec this same static program (argv[1] == "child", exit 0 at once)
 * and waits for each; prints the count and the time per fork+exec+wait.
 * Under a VMM this is page-table, TLB and exception work: fork copies the
 * page tables, exec builds new ones, and every first touch faults.
 * Usage: forkexec [N]   (default 100) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* One fork + exec + wait; returns 0 if the child ran and exited 0. */
static int spawn(const char *self) {
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "forkexec: fork: %s\n", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    char *argv[] = {(char *)self, "child", NULL};
    execv(self, argv);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "child") == 0) return 0;
  long n = bench_rounds("forkexec", argc, argv, 100);
  if (n == 0) return 2;
  double start = bench_now();
  for (long i = 0; i < n; i++) {
    if (spawn("/proc/self/exe") != 0) {
      printf("forkexec failed at %ld\n", i);
      return 1;
    }
  }
  bench_report("forkexec", n, bench_now() - start, "us", 1e6);
  return 0;
}
