#!/usr/bin/env python3
"""First benchmark: mriprep against the notebook pipeline and the read limit, one run.

Run with /usr/bin/python3 (bench/run.sh and `make bench` do):
    bench.py [--files 4000] [--size 512] [--repeat 3] [--data bench/data] [--skip-notebook]

Generates (or reuses) a dataset of 512x512 series with scripts/make_dataset.py, warms
the page cache, then times each contender `--repeat` times and reports the median:
  cat            every input file to /dev/null (the read limit)
  decode only    every file decoded with dcmtk, all threads, nothing else (build/bench/decode_only)
  mriprep 1t     mriprep run --threads 1
  mriprep all    mriprep run (all cores), on the CPU
  mriprep cuda   mriprep run --device cuda, when `mriprep devices` lists a device: with
                 its stage times (upload, stats, resize, z-score, download) and the overlap
                 achieved (how much of decode, device work and write ran at the same time)
  notebook       tests/reference/notebook_pipeline.py (pydicom + OpenCV + numpy, 1 process)
  dcm2niix       Debian's dcm2niix converting the same series to NIfTI (uncompressed)
  mriprep scan   headers only, on the same files
and, on a second generated dataset of --scan-files files with every defect the generator
plants (--problems --broken), `mriprep scan`'s files/s and whether it reported them all.
Peak memory comes from /usr/bin/time -v. Prints a table and writes
bench/results/<date>-<host>.json. Timings on shared machines are noisy: compare the
ratios within one run, not figures across runs.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"


def dataset(path, files, size, seed=1, quiet=False):
    """A generated dataset of about `files` files of size x size in `path`, reused when
    the stamp says it was made with these parameters (also by bench/bench_binding.py)."""
    stamp = path / ".bench-params"
    want = f"files={files} size={size}" + (f" seed={seed}" if seed != 1 else "")
    if stamp.exists() and stamp.read_text() == want:
        return
    if path.exists():
        shutil.rmtree(path)
    subprocess.run([PY, ROOT / "scripts" / "make_dataset.py", path, "--target-files", str(files), "--size", str(size),
                    "--test-patients", "0", "--seed", str(seed)], check=True,
                   stdout=subprocess.DEVNULL if quiet else None)
    stamp.write_text(want)


def input_files(path):
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".dcm")


def timed(cmd, out_dir=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MB)."""
    if out_dir and out_dir.exists():
        shutil.rmtree(out_dir)
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode not in (0, 3):
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return seconds, (int(m.group(1)) / 1024 if m else float("nan"))


# What make_dataset.py --problems --broken plants, as scan problem kinds.
PLANTED = {"missing_modality", "empty_series", "unreadable_file", "not_dicom", "non_dcm_file", "label_without_images",
           "missing_instance"}


def scan_benchmark(args):
    """mriprep scan on a dataset with planted defects: files/s (median) and the kinds found."""
    data = args.data.parent / "data-scan"
    stamp = data / ".bench-params"
    want = f"files={args.scan_files} size=256 problems"
    if not (stamp.exists() and stamp.read_text() == want):
        if data.exists():
            shutil.rmtree(data)
        subprocess.run([PY, ROOT / "scripts" / "make_dataset.py", data, "--target-files", str(args.scan_files),
                        "--size", "256", "--test-patients", "0", "--problems", "--broken", "--seed", "2"], check=True)
        stamp.write_text(want)
    out = pathlib.Path(tempfile.mkstemp(prefix="mriprep-scan-", suffix=".json")[1])
    subprocess.run(["sh", "-c", f"find '{data}' -type f -name '*.dcm' -print0 | xargs -0 cat > /dev/null"])
    speeds = []
    for _ in range(max(args.repeat, 3)):
        subprocess.run([MRIPREP, "scan", data, "-q", "--json", out], check=True)
        report = json.loads(out.read_text())
        speeds.append(report["totals"]["files_per_s"])
    out.unlink()
    kinds = {p["kind"] for p in report["problems"]}
    result = {"files": report["totals"]["files"], "files_per_s": statistics.median(speeds), "runs": speeds,
              "threads": report["totals"]["threads"], "problem_kinds": sorted(kinds),
              "planted_missing": sorted(PLANTED - kinds)}
    print(f"\nmriprep scan: {result['files']} files with planted defects, {result['files_per_s']:.0f} files/s "
          f"(median of {len(speeds)}, {result['threads']} threads); planted kinds reported: "
          f"{'all' if not result['planted_missing'] else 'MISSING ' + ', '.join(result['planted_missing'])}")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000, help="about this many .dcm files (4000 = ~2 GB at 512)")
    ap.add_argument("--size", type=int, default=512, help="rows and columns of most series")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "bench" / "data")
    ap.add_argument("--skip-notebook", action="store_true", help="leave out the (slow) Python pipeline")
    ap.add_argument("--scan-files", type=int, default=5000, help="files of the scan benchmark's dataset (0: skip)")
    args = ap.parse_args()

    dataset(args.data, args.files, args.size)
    files = input_files(args.data)
    n_files = len(files)
    n_bytes = sum(f.stat().st_size for f in files)
    list_file = pathlib.Path(tempfile.mkstemp(prefix="mriprep-bench-", suffix=".txt")[1])
    list_file.write_text("\0".join(map(str, files)))
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="mriprep-bench-out-"))
    cores = os.cpu_count() or 1

    contenders = [
        ("cat (read limit)", ["sh", "-c", f"xargs -0 cat < '{list_file}' > /dev/null"], None),
        ("mriprep run, 1 thread", [MRIPREP, "run", args.data, scratch / "t1", "-q", "--threads", "1",
                                   "--device", "cpu"], scratch / "t1"),
        (f"mriprep run, {cores} threads", [MRIPREP, "run", args.data, scratch / "tn", "-q", "--device", "cpu"],
         scratch / "tn"),
    ]
    decode_only = ROOT / "build" / "bench" / "decode_only"
    if decode_only.exists():
        contenders.insert(1, (f"decode only (dcmtk, {cores} threads)", [decode_only, args.data], None))
    gpu = [line for line in subprocess.run([MRIPREP, "devices"], capture_output=True, text=True).stdout.splitlines()
           if line.startswith("cuda:")]
    if gpu:
        contenders.append((f"mriprep run, cuda ({cores} decode threads)",
                           [MRIPREP, "run", args.data, scratch / "gpu", "-q", "--device", "cuda"], scratch / "gpu"))
    if not args.skip_notebook:
        contenders.append(("notebook pipeline (Python)", [PY, ROOT / "tests" / "reference" / "notebook_pipeline.py",
                                                          args.data, scratch / "nb", "-q"], scratch / "nb"))
    if shutil.which("dcm2niix"):
        contenders.append(("dcm2niix (NIfTI, uncompressed)",
                           ["sh", "-c", f"mkdir -p '{scratch / 'd2n'}' && dcm2niix -z n -b n -v 0 -f %i_%s "
                                        f"-o '{scratch / 'd2n'}' '{args.data}' > /dev/null"], scratch / "d2n"))
    contenders.append(("mriprep scan (headers)", [MRIPREP, "scan", args.data, "-q", "--json", scratch / "scan.json"],
                       None))
    timed(contenders[0][1])  # warm the page cache
    rows = []
    for name, cmd, out in contenders:
        runs = [timed(cmd, out) for _ in range(args.repeat)]
        secs = statistics.median(r[0] for r in runs)
        rows.append({"name": name, "seconds": secs, "runs": [r[0] for r in runs],
                     "files_per_s": n_files / secs, "mb_per_s": n_bytes / 1e6 / secs,
                     "peak_mb": max(r[1] for r in runs)})
    stages = {}
    for name, _, out in contenders:
        if out and (out / "run.json").exists():
            rj = json.loads((out / "run.json").read_text())
            st = rj["stage_seconds"]
            st["elapsed"] = rj["elapsed_s"]
            st["threads"] = rj["threads"]
            stages[name] = st
    shutil.rmtree(scratch, ignore_errors=True)
    list_file.unlink()

    by = {r["name"]: r for r in rows}
    cat = rows[0]
    notebook = by.get("notebook pipeline (Python)")
    d2n = by.get("dcm2niix (NIfTI, uncompressed)")
    print(f"\nmriprep benchmark: {n_files} files, {n_bytes / 1e9:.2f} GB, {args.size}x{args.size} mostly; "
          f"{cores} cores; median of {args.repeat}")
    print(f"{'contender':34} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'x notebook':>11} {'% of cat':>9} "
          f"{'x dcm2niix':>10} {'peak MB':>8}")
    for r in rows:
        r["x_notebook"] = r["files_per_s"] / notebook["files_per_s"] if notebook else None
        r["x_dcm2niix"] = r["files_per_s"] / d2n["files_per_s"] if d2n else None
        r["pct_of_cat"] = 100 * r["files_per_s"] / cat["files_per_s"]
        vs_nb = f"{r['x_notebook']:.1f}" if notebook else "-"
        vs_d2n = f"{r['x_dcm2niix']:.1f}" if d2n else "-"
        print(f"{r['name']:34} {r['seconds']:8.2f} {r['files_per_s']:9.0f} {r['mb_per_s']:8.0f} {vs_nb:>11} "
              f"{r['pct_of_cat']:8.0f}% {vs_d2n:>10} {r['peak_mb']:8.0f}")
    for name, st in stages.items():
        print(f"{name} stages (s; {st['note']}): " +
              ", ".join(f"{k} {v:.2f}" for k, v in st.items() if k not in ("note", "elapsed", "threads")))
        if "upload" in st:
            # Serial sum of the stages (decode per thread) against the wall time: what ran at once.
            serial = st["decode"] / max(st["threads"], 1) + st["upload"] + st["stats"] + st["resize"] + \
                st["zscore"] + st["download"] + st["write"]
            print(f"  overlap: stages add up to {serial:.2f} s of work in {st['elapsed']:.2f} s wall "
                  f"({100 * max(0.0, 1 - st['elapsed'] / serial):.0f}% hidden)")

    scan_result = scan_benchmark(args) if args.scan_files else None

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    host = socket.gethostname().split(".")[0]
    out = results / f"{datetime.date.today().isoformat()}-{host}.json"
    out.write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "host": host,
        "machine": {"cores": cores, "cpu": platform.processor() or platform.machine(), "system": platform.platform()},
        "dataset": {"files": n_files, "bytes": n_bytes, "size": args.size}, "repeat": args.repeat,
        "gpu": gpu, "results": rows, "mriprep_stage_seconds": stages, "scan": scan_result}, indent=1))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
