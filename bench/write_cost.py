#!/usr/bin/env python3
"""What writing a run's volumes costs the kernel, apart from computing them.

    /usr/bin/python3 bench/write_cost.py [--data DIR] [--repeat N] [--recycle MB] [-- OPTIONS...]

Runs `mriprep run` once with OPTIONS (default: the notebook preset, then `--preset
volumetric --format npy`), reads back where each output file holds data (SEEK_DATA /
SEEK_HOLE: the holes the sparse writer left), and writes the same extents again from one
thread, the way the writer does (one pwrite a run of data, the size set at the end):

  as written     the same data extents and holes;
  holes <4 blk   zero runs shorter than 4 blocks (16 KiB) written as zeros;
  dense          every byte written, in 1 MiB pieces, no holes;
  sized first    as written, but the file's size set (ftruncate) before its data;
  mmap           as written, through a shared mapping of the sized file (memcpy, not
                 pwrite).

Each pass writes into a scratch folder beside OUT after 4 GiB are written and removed
(--recycle, as bench/bench.py does: pages just freed, see bench/drop_pages.py), and is
timed by its own system and wall time. The bytes are not the run's (a constant pattern);
the page cache's copy and the file system's block accounting do not look at them. The
median of --repeat passes is printed per variant, for each option set, so the cost of a
preset's bytes can be told from the cost of computing them.
"""
import argparse
import mmap
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import drop_pages  # noqa: E402

BLOCK = 4096


def extents(path):
    """[(offset, length)] of the data of `path`, and its size."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        out, at = [], 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole to the end
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end - start))
            at = end
        return out, size
    finally:
        os.close(fd)


def merged(runs, gap_blocks):
    """Data runs with the holes shorter than gap_blocks blocks written as zeros."""
    out = []
    for off, n in runs:
        if out and off - (out[-1][0] + out[-1][1]) < gap_blocks * BLOCK:
            out[-1] = (out[-1][0], off + n - out[-1][0])
        else:
            out.append((off, n))
    return out


def replay(files, variant, scratch):
    """Writes every file's extents as `variant` says; (wall s, system s, calls, bytes)."""
    piece = memoryview(bytes([0x5A]) * (64 << 20))
    calls = written = 0
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i, (runs, size) in enumerate(files):
        if variant == "dense":
            runs = [(off, min(1 << 20, size - off)) for off in range(0, size, 1 << 20)]
        elif variant == "holes <4 blk":
            runs = merged(runs, 4)
        fd = os.open(os.path.join(scratch, f"v{i}"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if variant in ("sized first", "mmap"):
                os.ftruncate(fd, size)
            if variant == "mmap":
                with mmap.mmap(fd, size) as m:
                    for off, n in runs:
                        for at in range(off, off + n, len(piece)):
                            k = min(off + n - at, len(piece))
                            m[at:at + k] = piece[:k]
                            calls += 1
                        written += n
                continue
            for off, n in runs:
                done = 0
                while done < n:
                    done += os.pwrite(fd, piece[:min(n - done, len(piece))], off + done)
                    calls += 1
                written += n
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return wall, r1.ru_stime - r0.ru_stime, calls, written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "bench" / "data")
    ap.add_argument("--mriprep", type=pathlib.Path, default=ROOT / "build" / "mriprep")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--recycle", type=int, default=4096, metavar="MB")
    ap.add_argument("options", nargs="*", help="one option set (after --); default: the notebook preset and "
                    "--preset volumetric --format npy")
    args = ap.parse_args()
    sets = [args.options] if args.options else [[], ["--preset", "volumetric", "--format", "npy"]]
    variants = ["as written", "holes <4 blk", "dense", "sized first", "mmap"]
    work = pathlib.Path(tempfile.mkdtemp(prefix="mriprep-writecost-", dir=ROOT / "bench"))
    try:
        print(f"{'option set':40s} {'variant':13s} {'GB':>5s} {'calls':>7s} {'sys s':>6s} {'wall s':>6s}  "
              f"(median of {args.repeat}, {args.recycle} MiB recycled before each)")
        for opts in sets:
            out = work / "out"
            p = subprocess.run([str(args.mriprep), "run", str(args.data), str(out), "-q", "--progress", "none",
                                *opts], capture_output=True, text=True)
            if p.returncode not in (0, 3):
                sys.exit(f"mriprep run {' '.join(opts)}: exit {p.returncode}\n{p.stderr[-2000:]}")
            files = [extents(f) for f in sorted(out.rglob("*")) if f.is_file() and f.suffix in (".npy", ".nii")]
            shutil.rmtree(out)
            times = {v: [] for v in variants}
            for r in range(args.repeat):
                for v in variants[r % len(variants):] + variants[:r % len(variants)]:
                    scratch = work / "scratch"
                    scratch.mkdir()
                    if args.recycle:
                        drop_pages.recycle(str(work), args.recycle)
                    times[v].append(replay(files, v, str(scratch)))
                    shutil.rmtree(scratch)
                    os.sync()
            for v in variants:
                wall, sys_s = (statistics.median(t[k] for t in times[v]) for k in (0, 1))
                calls, nbytes = times[v][0][2], times[v][0][3]
                print(f"{' '.join(opts) or 'default (notebook preset)':40s} {v:13s} {nbytes / 1e9:5.2f} {calls:7d} "
                      f"{sys_s:6.3f} {wall:6.3f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
