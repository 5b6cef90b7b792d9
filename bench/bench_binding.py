#!/usr/bin/env python3
"""On the fly vs stored: patients/s a training loop gets from each way of feeding volumes.

Run with /usr/bin/python3 (or `bench/run.sh --binding [options]`):
    bench_binding.py [--files 2000] [--size 512] [--repeat 3] [--data build/bench-binding/data]
                     [--out-size 256] [--slices 128] [--threads 0] [--skip-notebook] [--json F]

Generates (or reuses) a dataset with scripts/make_dataset.py (4 modalities per patient),
warms the page cache, then reads every patient once per repeat, as a training epoch
would, and reports the median:
  binding        mriprep.Dataset(DATA, ...)[i] for every patient: libmriprep through the
                 Python binding (scripts/mriprep.py), one process, all threads
  binding 1t     the same with threads=1 (what each DataLoader worker would use)
  notebook       tests/reference/notebook_pipeline.process_series per series (pydicom +
                 OpenCV + numpy, one process): the on-the-fly option before the binding
  np.load        the .npy volumes `mriprep run` wrote beforehand (untimed; its time and
                 the disk it took are printed), loaded per patient from the page cache
Prints a table (seconds per epoch, patients/s, files/s, ratio to the notebook). Timings on
shared machines are noisy: compare the ratios within one run.
"""
import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import time
import types

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "reference"))
sys.path.insert(0, str(ROOT / "bench"))
from bench import dataset  # noqa: E402  (the same generated-dataset cache)


def warm(path):
    """Reads every file once so every contender starts from the page cache."""
    total = 0
    for p in path.rglob("*.dcm"):
        total += len(p.read_bytes())
    return total


def median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000, help="about this many .dcm files (2000: about 12 patients)")
    ap.add_argument("--size", type=int, default=512, help="rows and columns of most input series")
    ap.add_argument("--out-size", type=int, default=256, help="--size of the volumes (256)")
    ap.add_argument("--slices", type=int, default=128, help="--slices of the volumes (128)")
    ap.add_argument("--threads", type=int, default=0, help="threads of the binding and mriprep run (0 = all)")
    ap.add_argument("--repeat", type=int, default=3, help="epochs per contender; the median is reported")
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "build" / "bench-binding" / "data")
    ap.add_argument("--skip-notebook", action="store_true", help="leave out the (slow) Python pipeline")
    ap.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    args = ap.parse_args()

    import mriprep  # scripts/mriprep.py, after argparse so --help works without the library

    dataset(args.data, args.files, args.size, seed=2, quiet=True)
    input_bytes = warm(args.data)
    opts = dict(size=args.out_size, slices=args.slices)
    ds = mriprep.Dataset(args.data, threads=args.threads, **opts)
    n_patients = len(ds)
    n_files = sum(s[4] for p in ds.patients for s in p["series"])
    print(f"data: {args.data} ({n_patients} patients, {n_files} files, {input_bytes / 1e6:.0f} MB), "
          f"volumes {args.out_size}x{args.out_size}, at most {args.slices} slices, float32; "
          f"library {mriprep.library_path()}, {ds.context().device}, {ds.context().threads} threads")

    rows = []

    def epoch_binding(d):
        def go():
            for i in range(len(d)):
                d[i]
        return go

    rows.append(("binding (libmriprep via scripts/mriprep.py)", median_seconds(epoch_binding(ds), args.repeat)))
    ds1 = mriprep.Dataset(args.data, threads=1, **opts)
    rows.append(("binding, threads=1 (one DataLoader worker)", median_seconds(epoch_binding(ds1), args.repeat)))

    if not args.skip_notebook:
        import notebook_pipeline
        nb_opts = types.SimpleNamespace(size=(args.out_size, args.out_size), slices=args.slices, dark=0.01, margin=0,
                                        layout="hwd", dtype="float32")
        folders = [s[1] for p in ds.patients for s in p["series"]]

        def epoch_notebook():
            for f in folders:
                notebook_pipeline.process_series(f, nb_opts)
        rows.append(("notebook pipeline (pydicom + OpenCV + numpy)",
                     median_seconds(epoch_notebook, max(1, min(args.repeat, 2)))))

    out = args.data.parent / (args.data.name + "-out")
    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    subprocess.run([MRIPREP, "run", args.data, out, "--size", str(args.out_size), "--slices", str(args.slices),
                    "--threads", str(args.threads), "--progress", "none", "-q"], check=True)
    run_seconds = time.perf_counter() - t
    npy = [[out / p["split"] / p["id"] / f"{s[0]}.npy" for s in p["series"]] for p in ds.patients]
    stored = sum(f.stat().st_size for fs in npy for f in fs if f.exists())

    def epoch_load():
        for fs in npy:
            [np.load(f) for f in fs if f.exists()]
    epoch_load()  # the volumes into the page cache
    rows.append(("np.load of stored .npy (page cache warm)", median_seconds(epoch_load, args.repeat)))

    nb = next((s for name, s in rows if name.startswith("notebook")), None)
    print()
    print(f"| {'contender':<46} | seconds | patients/s | files/s | x notebook |")
    print(f"|{'-' * 48}|---------|------------|---------|------------|")
    figures = []
    for name, seconds in rows:
        ratio = f"{nb / seconds:.1f}" if nb else "-"
        print(f"| {name:<46} | {seconds:7.2f} | {n_patients / seconds:10.2f} | {n_files / seconds:7.0f} | {ratio:>10} |")
        figures.append({"contender": name, "seconds": seconds, "patients_per_s": n_patients / seconds,
                        "files_per_s": n_files / seconds})
    print(f"\nthe stored volumes: `mriprep run` took {run_seconds:.2f} s once and {stored / 1e6:.0f} MB of disk "
          f"({stored / n_patients / 1e6:.1f} MB per patient)")
    if args.json:
        args.json.write_text(json.dumps({"data": str(args.data), "patients": n_patients, "files": n_files,
                                         "input_bytes": input_bytes, "out_size": args.out_size,
                                         "slices": args.slices, "threads": args.threads,
                                         "run_seconds": run_seconds, "stored_bytes": stored,
                                         "results": figures}, indent=1))
    shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
