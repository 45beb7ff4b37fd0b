#!/usr/bin/env python3
"""Drives a virtual machine's serial console as a person at it would: runs
a VMM whose stdin and stdout are the guest's console, waits for each
expected pattern in turn and types the text given after it, then waits for
the VMM to exit. Copies everything the guest prints to stdout and says on
stderr when each pattern matched, in seconds since the start.

Usage: console.py [--timeout SECONDS] [--fail REGEX]... [--expect REGEX | --send TEXT]...
                  -- COMMAND [ARG]...
  --expect REGEX  wait for REGEX in what the guest printed after the
                  previous match
  --fail REGEX    stop at once, status 125, when the guest prints REGEX
  --send TEXT     type TEXT; \\n in it is Enter. Typed a character at a
                  time, as a UART with a 16-byte FIFO can take it
  --timeout       for the whole run, patterns and exit (default 300)
Exit status: the VMM's, 124 when a pattern or the exit did not come in
time, 125 on a --fail pattern (the VMM is killed in both cases; the
message names the pattern).
"""
import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time

TYPE_DELAY = 0.005  # seconds between typed characters


def parse():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--fail", action="append", default=[])
    p.add_argument("--expect", dest="steps", action="append", type=lambda s: ("expect", s))
    p.add_argument("--send", dest="steps", action="append", type=lambda s: ("send", s))
    p.add_argument("command", nargs="+")
    return p.parse_args()


class Console:
    def __init__(self, command, deadline, fail):
        self.fail = [re.compile(f.encode()) for f in fail]
        self.failed = None  # the --fail pattern the guest printed
        self.tail = b""  # the last bytes printed, for --fail patterns across reads
        self.start = time.monotonic()
        self.deadline = self.start + deadline
        # A session of its own, so a timeout kills the VMM and its children.
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.seen = b""  # output after the last match
        self.eof = False

    def elapsed(self):
        return time.monotonic() - self.start

    def read_some(self):
        """Reads what the guest printed; False at the deadline or a --fail."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.failed:
            return False
        if self.sel.select(timeout=left):
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                self.eof = True
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            self.seen += data
            self.tail = self.tail[-256:] + data
            self.failed = next((f.pattern.decode() for f in self.fail if f.search(self.tail)), None)
        return not self.failed

    def expect(self, pattern):
        regex = re.compile(pattern.encode())
        while True:
            m = regex.search(self.seen)
            if m:
                self.seen = self.seen[m.end():]
                print(f"console.py: '{pattern}' after {self.elapsed():.1f}s", file=sys.stderr)
                return True
            if self.eof or not self.read_some():
                return False

    def send(self, text):
        try:
            for ch in text.replace("\\n", "\n").encode():
                self.proc.stdin.write(bytes([ch]))
                self.proc.stdin.flush()
                time.sleep(TYPE_DELAY)
        except BrokenPipeError:
            pass  # the VMM is gone; the next expect or the exit says so

    def wait_exit(self):
        while not self.eof:
            if not self.read_some():
                return None
        left = max(self.deadline - time.monotonic(), 0.1)
        try:
            return self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def main():
    args = parse()
    command = args.command[1:] if args.command[0] == "--" else args.command
    con = Console(command, args.timeout, args.fail)
    for kind, value in args.steps or []:
        if kind == "send":
            con.send(value)
        elif not con.expect(value):
            break
    else:
        status = con.wait_exit()
        if status is not None:
            print(f"console.py: exit status {status} after {con.elapsed():.1f}s", file=sys.stderr)
            return status
        value = "the VMM to exit"
    con.kill()
    if con.failed:
        print(f"\nconsole.py: the guest printed '{con.failed}' waiting for '{value}'",
              file=sys.stderr)
        return 125
    why = "the VMM exited" if con.eof else f"timed out after {args.timeout:.0f}s"
    print(f"\nconsole.py: {why} waiting for '{value}'", file=sys.stderr)
    return 124


if __name__ == "__main__":
    sys.exit(main())
