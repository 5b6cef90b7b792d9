#!/usr/bin/env python3
"""Drop files' pages from the page cache, so that the next read of them is cold.

    find DATA -type f -print0 | python3 bench/drop_pages.py -0      # drop, and say how much was resident
    python3 bench/drop_pages.py --check FILE...                      # only say how much is resident

For each file: fdatasync (dirty pages cannot be dropped), then
posix_fadvise(POSIX_FADV_DONTNEED) over the whole file. This needs no root and touches
only the files named, unlike `echo 3 > /proc/sys/vm/drop_caches`. What it cannot drop:
pages another process has mapped, and the directory entries and inodes (the walk of the
dataset stays warm; only the file data goes cold). How much of the files is resident
comes from util-linux `fincore` (mincore(2)), run over the files in batches through xargs.

bench/bench.py imports drop() and resident() from here, and both benchmarks recycle().
"""
import os
import subprocess
import sys


def resident(paths):
    """Bytes of these files now in the page cache (sum of fincore's RES), or None when
    fincore is missing. Files that vanished are skipped."""
    paths = [os.fsencode(p) for p in paths]
    if not paths:
        return 0
    try:
        p = subprocess.run(["xargs", "-0", "fincore", "--bytes", "--noheadings", "--raw"],
                           input=b"\0".join(paths), capture_output=True)
    except FileNotFoundError:
        return None
    if p.returncode == 127:  # xargs: fincore not found
        return None
    total = 0
    for line in p.stdout.splitlines():
        field = line.split(b" ", 1)[0]
        if field.isdigit():
            total += int(field)
    return total


def recycle(folder, megabytes):
    """Writes `megabytes` MiB to a scratch file in `folder`, removes it and syncs (the
    removal's journal; the scratch file's pages are dropped, not written back). The next
    run's page-cache pages are then ones just freed.

    Why: a virtual machine that reports its free memory to the host (virtio-balloon free
    page reporting, as on the VM these benchmarks were written on) has each page the
    kernel takes again faulted in by the host. Writing into the page cache cost 1.5-2.7
    s/GB there in such pages, against 0.19 s/GB in pages freed a moment before, so a run
    that followed one that wrote less (or a drop of fewer pages) paid for the difference.
    A long run on any machine, once its page cache is full, takes pages just freed."""
    piece = b"\x5a" * (1 << 20)
    scratch = os.path.join(folder, ".recycle.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(megabytes):
            os.write(fd, piece)
    finally:
        os.close(fd)
        os.unlink(scratch)
    os.sync()


def drop_only(paths):
    """fdatasync + POSIX_FADV_DONTNEED on every file; returns how many could not be opened."""
    failed = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            failed += 1
            continue
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            failed += 1
        finally:
            os.close(fd)
    return failed


def drop(paths):
    """Drops the files' pages; returns (resident bytes before, resident bytes after),
    either None when fincore is missing."""
    before = resident(paths)
    drop_only(paths)
    return before, resident(paths)


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a not in ("--check", "-0")]
    if "-0" in argv:
        args += [p for p in sys.stdin.buffer.read().split(b"\0") if p]
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0 if args else 2
    if check:
        r = resident(args)
        print(f"resident: {r / 1e6:.1f} MB of {len(args)} files" if r is not None else "fincore not found")
        return 0
    before, after = drop(args)
    if before is None:
        print(f"dropped {len(args)} files (fincore not found: resident bytes unknown)")
    else:
        print(f"{len(args)} files: resident before drop: {before / 1e6:.1f} MB, after: {after / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
