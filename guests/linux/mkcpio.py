#!/usr/bin/env python3
"""Writes a gzip-compressed newc cpio archive from a gen_init_cpio-style
list, so device nodes need no mknod and the archive is reproducible (owner
root, mtime 0). The format is the kernel's: Documentation/driver-api/
early-userspace/buffer-format.rst. Usage: mkcpio.py OUTPUT < LIST

LIST lines (archive names without the leading slash are fine):
  dir   NAME MODE
  file  NAME SOURCE MODE
  slink NAME TARGET
  nod   NAME MODE c|b MAJOR MINOR
Parent directories must come before what they hold (the kernel does not
create them).
"""
import gzip
import stat
import sys


class Writer:
    def __init__(self, out):
        self.out = out
        self.ino = 1
        self.offset = 0

    def _put(self, data):
        self.out.write(data)
        self.offset += len(data)

    def _pad(self):
        self._put(b"\0" * (-self.offset % 4))

    def entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name = name.lstrip("/").encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name), 0]
        self.ino += 1
        self._put(b"070701" + b"".join(b"%08X" % f for f in fields))
        self._put(name)
        self._pad()
        self._put(data)
        self._pad()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkcpio.py OUTPUT < LIST")
    with open(sys.argv[1], "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        w = Writer(gz)
        for lineno, line in enumerate(sys.stdin, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            kind, name = words[0], words[1]
            if kind == "dir":
                w.entry(name, stat.S_IFDIR | int(words[2], 8), nlink=2)
            elif kind == "file":
                with open(words[2], "rb") as f:
                    w.entry(name, stat.S_IFREG | int(words[3], 8), f.read())
            elif kind == "slink":
                w.entry(name, stat.S_IFLNK | 0o777, words[2].encode())
            elif kind == "nod":
                kind_bits = stat.S_IFCHR if words[3] == "c" else stat.S_IFBLK
                w.entry(name, kind_bits | int(words[2], 8), rdev=(int(words[4]), int(words[5])))
            else:
                sys.exit(f"mkcpio.py: line {lineno}: unknown entry '{kind}'")
        w.entry("TRAILER!!!", 0)


if __name__ == "__main__":
    main()
