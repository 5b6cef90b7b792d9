#!/usr/bin/env python3
"""What each option costs: mriprep run with each volumetric option alone, the volumetric
preset and the output formats, against the default preset, on the bench data (warm).

Run with /usr/bin/python3 (or `bench/run.sh --options [options]`):
    bench_options.py [--data bench/data] [--repeat 3] [--threads 0] [--only SUBSTRING]
                     [--json FILE] [--mriprep PROGRAM] [--baseline PROGRAM] [--recycle MB]

The dataset is bench/data, made by `make bench` (bench/bench.py: 512x512 series). Every
file is read once first, so the page cache holds them (a warm run: the CPU work). Each
repeat runs every option set once, in turn (interleaved, so a slow minute of a shared
machine hits every row alike; each repeat starts one set further on), into a fresh OUT
that is removed after (and the disk synced, untimed); the table gives
the medians: wall seconds, user and system CPU seconds (of the mriprep process), the
ratio of wall time to the default preset's, the bytes written, and run.json's stage
seconds (decode, stats, resize, zscore: summed over threads; write: wall time of the
writer). Timings on shared machines are noisy (up to 2x run to run): compare the ratios
within one run. --baseline OLD adds each option set run by another build (e.g. the
previous commit's, copied aside) as a row of its own, in the same interleaved repeats.

Before each timed run, a scratch file of --recycle MB (default 4096; 0: none) is written
beside OUT and removed, untimed (bench/drop_pages.py recycle(): on a VM that reports its
free memory to the host, writing into pages the kernel takes again cost 1.5-2.7 s/GB,
against 0.19 s/GB into pages just freed). Without it, a run that follows one that wrote
less paid for the difference, and the table measured the order of the sets. The column
"GB on disk" is the outputs' allocated blocks (holes not counted): what passes through
the page cache.
"""
import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import drop_pages  # noqa: E402  (bench/drop_pages.py: recycle())

ROOT = pathlib.Path(__file__).resolve().parent.parent
MRIPREP = ROOT / "build" / "mriprep"

# (name, options); every set writes .npy unless it is about the format.
OPTION_SETS = [
    ("default (notebook preset)", []),
    ("--order position", ["--order", "position"]),
    ("--reorient", ["--reorient"]),
    ("--crop volume", ["--crop", "volume"]),
    ("--intensity raw", ["--intensity", "raw"]),
    ("--norm nonzero", ["--norm", "nonzero"]),
    ("--depth pad", ["--depth", "pad"]),
    ("--center largest", ["--center", "largest"]),
    ("--format nii", ["--format", "nii"]),
    ("--format nii.gz", ["--format", "nii.gz"]),
    ("--preset volumetric --format npy", ["--preset", "volumetric", "--format", "npy"]),
    ("--preset volumetric (nii.gz)", ["--preset", "volumetric"]),
]


def warm(data):
    total = 0
    for p in sorted(data.rglob("*.dcm")):
        total += len(p.read_bytes())
    return total


def run_once(program, data, opts, threads, recycle_mb):
    """One run into a fresh OUT: (wall s, user s, sys s, bytes written, stage seconds,
    bytes on disk)."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="mriprep-options-")) / "out"
    if recycle_mb:
        drop_pages.recycle(out.parent, recycle_mb)
    argv = [str(program), "run", str(data), str(out), "-q", "--progress", "none", *opts]
    if threads:
        argv += ["--threads", str(threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 3):
        sys.exit(f"{' '.join(argv)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    rj = json.loads((out / "run.json").read_text())
    on_disk = sum(p.stat().st_blocks * 512 for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out.parent)
    os.sync()  # the removal's journal commit (and discards) before the next timed run, untimed
    stages = {k: v for k, v in rj.get("stage_seconds", {}).items() if isinstance(v, (int, float))}
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            rj["totals"]["bytes_written"], stages, on_disk)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "bench" / "data")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="--threads for mriprep (0: all cores)")
    ap.add_argument("--only", help="only option sets whose name holds this (the default is always run)")
    ap.add_argument("--json", type=pathlib.Path, help="also write the medians here")
    ap.add_argument("--mriprep", type=pathlib.Path, default=MRIPREP, help="the program timed (build/mriprep)")
    ap.add_argument("--baseline", type=pathlib.Path, help="another build, timed on the same sets as extra rows")
    ap.add_argument("--recycle", type=int, default=4096, metavar="MB",
                    help="MiB written and removed before each timed run (0: none; see above)")
    args = ap.parse_args()
    if not (args.data / "train").is_dir() and not any(args.data.iterdir()):
        sys.exit(f"{args.data}: no dataset (make bench makes bench/data)")
    if not args.mriprep.exists():
        sys.exit(f"{args.mriprep} is missing: run make first")
    sets = [(name, opts, args.mriprep) for name, opts in OPTION_SETS
            if not args.only or name == OPTION_SETS[0][0] or args.only in name]
    if args.baseline:
        sets += [(f"{name} [baseline]", opts, args.baseline) for name, opts, _ in sets]
    n_bytes = warm(args.data)
    files = sum(1 for _ in args.data.rglob("*.dcm"))
    print(f"data: {args.data} ({files} files, {n_bytes / 1e9:.2f} GB, warm); {args.repeat} interleaved repeats; "
          f"threads {args.threads or os.cpu_count()}; {args.recycle} MiB recycled before each run", flush=True)
    runs = {name: [] for name, _, _ in sets}
    for r in range(args.repeat):
        # Each repeat starts at another set, so no set is always first after the warm-up.
        for name, opts, program in sets[r % len(sets):] + sets[:r % len(sets)]:
            runs[name].append(run_once(program, args.data, opts, args.threads, args.recycle))
        print(f"repeat {r + 1} of {args.repeat} done", file=sys.stderr, flush=True)

    def median(name, i):
        return statistics.median(x[i] for x in runs[name])

    base = median(sets[0][0], 0)
    stage_names = ["decode", "stats", "resize", "zscore", "write"]
    header = ["option set", "wall s", "x default", "user s", "sys s", "GB written", "GB on disk",
              *[f"{s} s" for s in stage_names]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    table = []
    for name, _, _ in sets:
        stages = {s: statistics.median(x[4].get(s, 0.0) for x in runs[name]) for s in stage_names}
        row = {"name": name, "wall_s": median(name, 0), "ratio": median(name, 0) / base, "user_s": median(name, 1),
               "sys_s": median(name, 2), "bytes_written": median(name, 3), "bytes_on_disk": median(name, 5),
               "stage_seconds": stages}
        table.append(row)
        print(f"| {name} | {row['wall_s']:.2f} | {row['ratio']:.2f} | {row['user_s']:.2f} | {row['sys_s']:.2f} | "
              f"{row['bytes_written'] / 1e9:.2f} | {row['bytes_on_disk'] / 1e9:.2f} | " +
              " | ".join(f"{stages[s]:.2f}" for s in stage_names) + " |")
    if args.json:
        args.json.write_text(json.dumps({"data": str(args.data), "files": files, "repeat": args.repeat,
                                         "threads": args.threads, "recycle_mib": args.recycle, "rows": table},
                                        indent=1))


if __name__ == "__main__":
    main()
