#!/usr/bin/env python3
"""The benchmark: mriprep against the notebook pipeline, dcm2niix, the peers users pick
(MONAI) and the read limit, warm and cold, in one run.

Run with /usr/bin/python3 (bench/run.sh and `make bench` do):
    bench.py [--files 4000] [--size 512] [--repeat 3] [--data bench/data] [--skip-notebook]
             [--scan-files 5000] [--warm-only | --cold-only]
    BENCH_PEERS=1 bench.py ...       also the peers (bench/peers/), in bench/.peers-venv

Generates (or reuses) a dataset of 512x512 series with scripts/make_dataset.py, then
times each contender `--repeat` times and reports the median, in two tables:

warm: the page cache holds the dataset (warmed with one `cat` first). What a rerun on
  the same files sees; it measures the CPU work.
  cat            every input file to /dev/null, 1 stream (the read limit)
  decode only    every file decoded with dcmtk, all threads, nothing else (build/bench/decode_only)
  mriprep 1t     mriprep run --threads 1; also --threads 2 when there are more than 2 cores
  mriprep all    mriprep run (all cores), on the CPU
  mriprep cuda   mriprep run --device cuda, when `mriprep devices` lists a device: with
                 its stage times (upload, stats, resize, z-score, download) and the overlap
                 achieved (how much of decode, device work and write ran at the same time)
  notebook       tests/reference/notebook_pipeline.py (pydicom + OpenCV + numpy, 1 process)
  dcm2niix       Debian's dcm2niix converting the same series to NIfTI (uncompressed)
  MONAI          bench/peers/monai_pipeline.py, with BENCH_PEERS=1
  mriprep scan   headers only, on the same files
both: before each timed run, --recycle MB (default 4096; 0: none) are written to a scratch
  file and removed (bench/drop_pages.py recycle()): on a VM that reports its free memory
  to the host, the page cache's pages cost the host's faults when the kernel takes them
  again (writing into them 1.5-2.7 s/GB here, against 0.19 s/GB into pages just freed);
  without it a run that followed one that wrote less, or a smaller drop, paid for that.
cold: before each run every file of the dataset is dropped from the page cache
  (bench/drop_pages.py: fdatasync + posix_fadvise DONTNEED per file, no root; directory
  entries and inodes stay cached, so only the file data is cold), and util-linux
  `fincore` says how many bytes were resident before the drop and after it. What a real
  dataset, which never fits in RAM, always sees: throughput comes from how many reads
  are in flight, so the read limit is `cat` over 1, 8 and 32 parallel streams
  (`xargs -0 -P 8 -n 64 cat`), and each row's "% of limit" is against 8 streams;
  mriprep scan's limit is `head -c 4096` over 8 streams (the kernel's readahead still
  reads more than those 4 KiB of each file). A run must also write its outputs, which
  share the storage and the page cache with its reads: the I/O floor row reads as the
  8 streams do while one stream writes files of the sizes a default run writes (from one
  run before the table), from /dev/zero with dd in 1 MiB writes; the lines under the table give each mriprep
  row's time as a multiple of the read limit and of that floor. Rows: mriprep run (all cores, default
  options), with `--readahead 0` (left out with a note when the build has no such
  option), with --threads 1; the notebook; dcm2niix; MONAI (BENCH_PEERS=1); mriprep scan.
  Programs and libraries (Python, torch) are not dropped: only the dataset is cold.

Then, on a second generated dataset of --scan-files files with every defect the
generator plants (--problems --broken), `mriprep scan`'s files/s (warm) and whether it
reported them all.

Memory, two columns per row: "peak MB" is /usr/bin/time -v's maximum resident set size,
that of the largest single process; "tree MB" is the peak of the summed RSS of the whole
process tree (xargs' cats, DataLoader workers), sampled from /proc every 50 ms by this
script and never below "peak MB": a sample can miss a short-lived process or the moment
of a peak, and pages shared by forked processes (a DataLoader worker's copy of torch)
count once per process, so for those it is an upper bound.

Peers (BENCH_PEERS=1): bench/peers/setup_venv.sh makes bench/.peers-venv once (pyenv's
python3; torch, monai, pydicom, numpy; several GB because PyPI's torch brings CUDA
libraries) and bench/peers/monai_pipeline.py runs MONAI's LoadImage (PydicomReader, a
series folder as one volume) + CropForeground + Resize(mode="area") + NormalizeIntensity
in a DataLoader with 2 workers: a peer for speed, not an oracle (its docstring lists how
it differs from mriprep's semantics). Without BENCH_PEERS=1 it is skipped with a note.

build/mriprep and build/bench/decode_only are copied to a temporary folder first and
run from there: a rebuild during the run changes nothing (the version is in the title).

Prints both tables and mriprep's time per stage (run.json), and writes
bench/results/<date>-<host>.json: "warm" and "cold" (the rows of each table; a row of
mriprep run also holds its stage_seconds, a cold row the resident MB before and after
each drop), "results" (the warm rows, as before), "mriprep_stage_seconds" (warm),
"scan", "peers". Timings on shared machines are noisy: compare the ratios within one
run, not figures across runs.
"""
import argparse
import atexit
import dataclasses
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
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import drop_pages  # noqa: E402  (bench/drop_pages.py)

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
PEERS_VENV = ROOT / "bench" / ".peers-venv"
NOTEBOOK = "notebook pipeline (Python)"
DCM2NIIX = "dcm2niix (NIfTI, uncompressed)"
CAT1 = "cat (read limit)"          # the warm table's reference (its name as before)
CAT8 = "cat, 8 streams (read limit)"  # the cold table's reference
HEAD8 = "head -c 4096, 8 streams (scan's limit)"
IO_FLOOR = "I/O floor: cat 8 streams + the run's writes"


def output_sizes(data, scratch):
    """The sizes of the files a default `mriprep run` writes (volumes, manifest, run.json),
    from one run into scratch: what the I/O floor row writes while it reads."""
    probe = scratch / "floor-probe"
    subprocess.run([MRIPREP, "run", data, probe, "-q", "--device", "cpu"], check=True)
    sizes = [p.stat().st_size for p in sorted(probe.rglob("*")) if p.is_file()]
    shutil.rmtree(probe)
    return sizes


def io_floor(list_file, sizes, scratch):
    """The least a cold run can take on this storage: every input read over 8 streams
    (the read limit) while the run's output bytes are written beside it, one file after
    another from one stream (as mriprep's writer thread does), through the page cache.
    No decoding, no computing: a run that takes this long does nothing but move bytes."""
    sizes_file = scratch / "floor-sizes.txt"
    sizes_file.write_text("".join(f"{s}\n" for s in sizes))
    out = scratch / "floor"
    script = (f"mkdir -p '{out}' && {{ xargs -0 -P 8 -n 64 cat < '{list_file}' > /dev/null & "
              f"i=0; while read s; do i=$((i+1)); dd if=/dev/zero of='{out}'/f$i bs=1M count=\"$s\" iflag=count_bytes status=none; done < '{sizes_file}'; "
              f"wait; }}")
    return Contender(IO_FLOOR, ["sh", "-c", script], out)


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


class TreeRSS:
    """Peak of the summed RSS of a process and all its descendants, sampled from /proc
    every `interval` seconds in a thread. The parent of each pid is read once (a pid is
    not reused within a run in practice), so a sample costs one listing of /proc and one
    read of /proc/PID/statm per process of the tree."""

    def __init__(self, root_pid, interval=0.05):
        self.root, self.interval, self.peak = root_pid, interval, 0
        self.parent = {}
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _sample(self):
        pids = {int(d) for d in os.listdir("/proc") if d.isdigit()}
        for pid in list(self.parent):
            if pid not in pids:
                del self.parent[pid]
        for pid in pids - self.parent.keys():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    self.parent[pid] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
        children = {}
        for pid, ppid in self.parent.items():
            children.setdefault(ppid, []).append(pid)
        total, todo = 0, [self.root]
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            try:
                with open(f"/proc/{pid}/statm", "rb") as f:
                    total += int(f.read().split()[1]) * self.page
            except (OSError, IndexError, ValueError):
                pass
        self.peak = max(self.peak, total)

    def _loop(self):
        while not self.stop.is_set():
            self._sample()
            self.stop.wait(self.interval)

    def finish(self):
        """Stops sampling; returns the peak in MB."""
        self.stop.set()
        self.thread.join()
        return self.peak / 2**20


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS of the largest process
    in MB, peak summed RSS of the process tree in MB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-v", *map(str, cmd)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    tree = TreeRSS(p.pid)
    stdout, stderr = p.communicate()
    seconds = time.perf_counter() - t0
    tree_mb = tree.finish()
    if p.returncode not in (0, 3):
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{stdout[-1000:]}\n{stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    peak_mb = int(m.group(1)) / 1024 if m else float("nan")
    return seconds, peak_mb, max(tree_mb, peak_mb)   # a sample can miss the moment of the peak


@dataclasses.dataclass
class Contender:
    name: str
    cmd: list
    out: pathlib.Path = None   # output folder: removed before each run, run.json read after
    limit: str = CAT8          # the cold table compares the row to this one


def measure(c, repeat, n_files, n_bytes, cold_files=None, recycle=(None, 0)):
    """Times contender c `repeat` times, warm, or cold when cold_files (every file of the
    dataset) is given: then those files' pages are dropped before each run, and the
    resident bytes before and after each drop go into the row. recycle = (folder, MiB):
    written and removed there before each run, after the drop (drop_pages.recycle).
    Returns the table row: medians of time and speed, the largest peaks of memory."""
    mode = "cold" if cold_files is not None else "warm"
    print(f"  {mode}: {c.name} ...", end="", flush=True)
    runs, before, after = [], [], []
    for _ in range(repeat):
        if c.out and c.out.exists():
            shutil.rmtree(c.out)
        if cold_files is not None:
            b, a = drop_pages.drop(cold_files)
            before.append(b / 1e6 if b is not None else None)
            after.append(a / 1e6 if a is not None else None)
        if recycle[1]:
            drop_pages.recycle(*recycle)
        runs.append(timed(c.cmd))
    secs = statistics.median(r[0] for r in runs)
    row = {"name": c.name, "seconds": secs, "runs": [r[0] for r in runs], "files_per_s": n_files / secs,
           "mb_per_s": n_bytes / 1e6 / secs, "peak_mb": max(r[1] for r in runs),
           "tree_peak_mb": max(r[2] for r in runs)}
    if cold_files is not None:
        row["limit"] = c.limit
        row["resident_before_mb"], row["resident_after_mb"] = before, after
        mb = "fincore not found" if None in before else \
            f"resident before drop: {', '.join(f'{x:.0f}' for x in before)} MB, " \
            f"after: {', '.join(f'{x:.1f}' for x in after)} MB"
        print(f" {secs:.2f} s; {mb}")
    else:
        print(f" {secs:.2f} s")
    if c.out and (c.out / "run.json").exists():
        rj = json.loads((c.out / "run.json").read_text())
        st = rj["stage_seconds"]
        st["elapsed"] = rj["elapsed_s"]
        st["threads"] = rj["threads"]
        row["stage_seconds"] = st
    return row


def print_table(title, rows, limit_of):
    """Prints one table and adds its ratio fields to the rows: x_notebook, x_dcm2niix and
    pct_of_limit, the percentage of the files/s of the read-limit row limit_of(row) names."""
    by = {r["name"]: r for r in rows}
    notebook, d2n = by.get(NOTEBOOK), by.get(DCM2NIIX)
    print(f"\n{title}")
    print(f"{'contender':42} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'x notebook':>11} {'% of limit':>10} "
          f"{'x dcm2niix':>10} {'peak MB':>8} {'tree MB':>8}")
    for r in rows:
        limit = by.get(limit_of(r))
        r["x_notebook"] = r["files_per_s"] / notebook["files_per_s"] if notebook else None
        r["x_dcm2niix"] = r["files_per_s"] / d2n["files_per_s"] if d2n else None
        r["pct_of_limit"] = 100 * r["files_per_s"] / limit["files_per_s"] if limit else None
        vs_nb = f"{r['x_notebook']:.1f}" if notebook else "-"
        vs_d2n = f"{r['x_dcm2niix']:.1f}" if d2n else "-"
        vs_limit = f"{r['pct_of_limit']:.0f}%" if limit else "-"
        print(f"{r['name']:42} {r['seconds']:8.2f} {r['files_per_s']:9.0f} {r['mb_per_s']:8.0f} {vs_nb:>11} "
              f"{vs_limit:>10} {vs_d2n:>10} {r['peak_mb']:8.0f} {r['tree_peak_mb']:8.0f}")


def print_stages(rows, mode):
    for r in rows:
        st = r.get("stage_seconds")
        if not st:
            continue
        print(f"{r['name']} ({mode}) stages (s; {st['note']}): " +
              ", ".join(f"{k} {v:.2f}" for k, v in st.items() if k not in ("note", "elapsed", "threads")))
        if "upload" in st:
            # Serial sum of the stages (decode per thread) against the wall time: what ran at once.
            serial = st["decode"] / max(st["threads"], 1) + st["upload"] + st["stats"] + st["resize"] + \
                st["zscore"] + st["download"] + st["write"]
            print(f"  overlap: stages add up to {serial:.2f} s of work in {st['elapsed']:.2f} s wall "
                  f"({100 * max(0.0, 1 - st['elapsed'] / serial):.0f}% hidden)")


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
          f"(median of {len(speeds)}, {result['threads']} threads, warm); planted kinds reported: "
          f"{'all' if not result['planted_missing'] else 'MISSING ' + ', '.join(result['planted_missing'])}")
    return result


def readahead_option(data, scratch):
    """Whether this build's `mriprep run` takes --readahead (being added): a dry run with
    --readahead 0; a usage error (exit 1) means no. Returns (bool, why not)."""
    p = subprocess.run([MRIPREP, "run", data, scratch / "probe", "--dry-run", "-q", "--readahead", "0"],
                       capture_output=True, text=True)
    shutil.rmtree(scratch / "probe", ignore_errors=True)
    return p.returncode != 1, (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[0]


def peers(data, scratch, nb_args):
    """The peer contenders (bench/peers/), when BENCH_PEERS=1: makes bench/.peers-venv
    once, then returns ([Contender], versions). Otherwise ([], None) with a note."""
    if os.environ.get("BENCH_PEERS") != "1":
        print("peers (MONAI): skipped; BENCH_PEERS=1 bench/run.sh includes them (the first time, "
              "bench/peers/setup_venv.sh installs torch and monai into bench/.peers-venv: several GB, minutes)")
        return [], None
    if subprocess.run(["bash", ROOT / "bench" / "peers" / "setup_venv.sh"]).returncode != 0:
        print("peers (MONAI): bench/peers/setup_venv.sh failed (above): left out")
        return [], None
    vpy = PEERS_VENV / "bin" / "python"
    versions = json.loads(subprocess.run(
        [vpy, "-c", "import json, monai, torch, pydicom, numpy; print(json.dumps({m.__name__: m.__version__ "
                    "for m in (monai, torch, pydicom, numpy)}))"], capture_output=True, text=True, check=True).stdout)
    print("peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f" ({PEERS_VENV.relative_to(ROOT)})")
    return [Contender("MONAI (LoadImage+DataLoader, 2 workers)",
                      [vpy, ROOT / "bench" / "peers" / "monai_pipeline.py", data, scratch / "monai", *nb_args],
                      scratch / "monai")], versions


def snapshot_binaries(scratch):
    """Copies build/mriprep and build/bench/decode_only into scratch and points MRIPREP
    there, so that a rebuild while the benchmark runs neither breaks it nor mixes two
    builds in one set of results. Returns the path of decode_only's copy (None if absent)."""
    global MRIPREP
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    for attempt in range(12):  # a build that is linking right now: wait for it
        try:
            MRIPREP = pathlib.Path(shutil.copy2(ROOT / "build" / "mriprep", bin_dir / "mriprep"))
            if subprocess.run([MRIPREP, "--version"], capture_output=True).returncode == 0:
                break
        except OSError:
            pass
        time.sleep(5)
    else:
        sys.exit("build/mriprep does not run (`make all`?)")
    decode_only = ROOT / "build" / "bench" / "decode_only"
    return pathlib.Path(shutil.copy2(decode_only, bin_dir / "decode_only")) if decode_only.exists() else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000, help="about this many .dcm files (4000 = ~2 GB at 512)")
    ap.add_argument("--size", type=int, default=512, help="rows and columns of most series")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "bench" / "data")
    ap.add_argument("--skip-notebook", action="store_true", help="leave out the (slow) Python pipeline")
    ap.add_argument("--scan-files", type=int, default=5000, help="files of the scan benchmark's dataset (0: skip)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--warm-only", "--warm", action="store_true", help="only the warm table (and the scan dataset)")
    which.add_argument("--cold-only", "--cold", action="store_true", help="only the cold table")
    ap.add_argument("--recycle", type=int, default=4096, metavar="MB",
                    help="MiB written and removed before each timed run, so that every run's page-cache pages "
                         "are ones just freed (0: none; bench/drop_pages.py recycle())")
    args = ap.parse_args()
    args.data = args.data.resolve()

    dataset(args.data, args.files, args.size)
    files = input_files(args.data)
    n_files = len(files)
    n_bytes = sum(f.stat().st_size for f in files)
    every_file = sorted(p for p in args.data.rglob("*") if p.is_file())   # what a cold run drops
    list_file = pathlib.Path(tempfile.mkstemp(prefix="mriprep-bench-", suffix=".txt")[1])
    list_file.write_text("\0".join(map(str, files)))
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="mriprep-bench-out-"))
    atexit.register(shutil.rmtree, scratch, True)   # also when a contender fails
    atexit.register(list_file.unlink, True)
    cores = os.cpu_count() or 1
    decode_only = snapshot_binaries(scratch)
    version = subprocess.run([MRIPREP, "--version"], capture_output=True, text=True).stdout.splitlines()

    def xargs(streams, tool="cat"):
        parallel = f"-P {streams} -n 64 " if streams > 1 else ""
        return ["sh", "-c", f"xargs -0 {parallel}{tool} < '{list_file}' > /dev/null"]

    def run(name, out, *options):
        return Contender(name, [MRIPREP, "run", args.data, scratch / out, "-q", *options], scratch / out)

    gpu = [line for line in subprocess.run([MRIPREP, "devices"], capture_output=True, text=True).stdout.splitlines()
           if line.startswith("cuda:")]
    all_cores = run(f"mriprep run, {cores} threads", "tn", "--device", "cpu")
    one = run("mriprep run, 1 thread", "t1", "--threads", "1", "--device", "cpu")
    cuda = [run(f"mriprep run, cuda ({cores} decode threads)", "gpu", "--device", "cuda")] if gpu else []
    others = []
    if not args.skip_notebook:
        others.append(Contender(NOTEBOOK, [PY, ROOT / "tests" / "reference" / "notebook_pipeline.py", args.data,
                                           scratch / "nb", "-q"], scratch / "nb"))
    if shutil.which("dcm2niix"):
        d2n = scratch / "d2n"
        others.append(Contender(DCM2NIIX, ["sh", "-c", f"mkdir -p '{d2n}' && dcm2niix -z n -b n -v 0 -f %i_%s "
                                                       f"-o '{d2n}' '{args.data}' > /dev/null"], d2n))
    peer_contenders, peer_versions = peers(args.data, scratch, ["-q"])
    others += peer_contenders
    scan = Contender("mriprep scan (headers)", [MRIPREP, "scan", args.data, "-q", "--json", scratch / "scan.json"],
                     limit=HEAD8)

    warm_rows, cold_rows = [], []
    if not args.cold_only:
        warm = [Contender(CAT1, xargs(1)), one]
        if decode_only:
            warm.insert(1, Contender(f"decode only (dcmtk, {cores} threads)", [decode_only, args.data]))
        if cores > 2:
            warm.append(run("mriprep run, 2 threads", "t2", "--threads", "2", "--device", "cpu"))
        warm += [all_cores, *cuda, *others, scan]
        print(f"warm: {len(warm)} contenders, {args.repeat} runs each")
        timed(warm[0].cmd)  # warm the page cache
        warm_rows = [measure(c, args.repeat, n_files, n_bytes, recycle=(scratch, args.recycle)) for c in warm]

    if not args.warm_only:
        cold = [Contender("cat, 1 stream", xargs(1)), Contender(CAT8, xargs(8)),
                Contender("cat, 32 streams", xargs(32)), io_floor(list_file, output_sizes(args.data, scratch), scratch),
                all_cores]
        has_readahead, why = readahead_option(args.data, scratch)
        if has_readahead:
            cold.append(run(f"mriprep run, {cores} threads, --readahead 0", "ra0", "--device", "cpu",
                            "--readahead", "0"))
        else:
            print(f"cold: no `mriprep run --readahead 0` row: this build does not take --readahead ({why})")
        cold += [one, *cuda, *others, Contender(HEAD8, xargs(8, "head -q -c 4096"), limit=HEAD8), scan]
        print(f"cold: {len(cold)} contenders, {args.repeat} runs each, {len(every_file)} files dropped before each")
        cold_rows = [measure(c, args.repeat, n_files, n_bytes, cold_files=every_file, recycle=(scratch, args.recycle))
                     for c in cold]

    head = (f"{version[0] if version else 'mriprep'}; {n_files} files, {n_bytes / 1e9:.2f} GB, "
            f"{args.size}x{args.size} mostly; {cores} cores; median of {args.repeat}; "
            f"{args.recycle} MiB recycled before each run")
    if warm_rows:
        print_table(f"mriprep benchmark, warm (page cache holds the dataset): {head}; "
                    f"% of limit = of `{CAT1}`", warm_rows, lambda r: CAT1)
        for r in warm_rows:
            r["pct_of_cat"] = r["pct_of_limit"]   # the key of earlier results files
        print_stages(warm_rows, "warm")
    if cold_rows:
        print_table(f"mriprep benchmark, cold (dataset dropped from the page cache before each run): {head}; "
                    f"% of limit = of `{CAT8}` (scan: of `{HEAD8}`)", cold_rows, lambda r: r["limit"])
        cat8 = next(r for r in cold_rows if r["name"] == CAT8)
        floor = next(r for r in cold_rows if r["name"] == IO_FLOOR)
        for r in cold_rows:
            r["pct_of_cat8"] = 100 * r["files_per_s"] / cat8["files_per_s"]
            r["x_io_floor"] = r["seconds"] / floor["seconds"]
        print("time against the read limit (cat, 8 streams) and against the I/O floor (the same reads while the "
              "run's outputs are written):")
        for r in cold_rows:
            if r["name"].startswith("mriprep run") or r["name"] == IO_FLOOR:
                print(f"  {r['name']:42} {r['seconds'] / cat8['seconds']:5.2f}x read limit  "
                      f"{r['x_io_floor']:5.2f}x I/O floor")
        print_stages(cold_rows, "cold")
    print("peak MB: the largest process (/usr/bin/time -v); tree MB: the peak of the summed RSS of the process "
          "tree, sampled from /proc every 50 ms, at least peak MB (pages shared by forked processes count once per "
          "process)")

    scan_result = scan_benchmark(args) if args.scan_files and not args.cold_only else None

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    host = socket.gethostname().split(".")[0]
    out = results / f"{datetime.date.today().isoformat()}-{host}.json"
    out.write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "host": host,
        "machine": {"cores": cores, "cpu": platform.processor() or platform.machine(), "system": platform.platform()},
        "dataset": {"files": n_files, "bytes": n_bytes, "size": args.size, "path": str(args.data)},
        "repeat": args.repeat, "gpu": gpu, "mriprep_version": version,
        "warm": warm_rows, "cold": cold_rows, "results": warm_rows,
        "mriprep_stage_seconds": {r["name"]: r["stage_seconds"] for r in warm_rows if "stage_seconds" in r},
        "scan": scan_result, "peers": peer_versions,
        "notes": {"cold": "before each run: fdatasync + posix_fadvise(POSIX_FADV_DONTNEED) on every file of the "
                          "dataset (bench/drop_pages.py); resident bytes from fincore before and after",
                  "recycle_mib": args.recycle,
                  "recycle": "MiB written and removed before each timed run, warm and cold, after the drop: the "
                             "run's page-cache pages are ones just freed (drop_pages.recycle)",
                  "peak_mb": "/usr/bin/time -v maximum resident set size (the largest process)",
                  "tree_peak_mb": "peak of the summed RSS of the process tree, sampled from /proc every 50 ms, "
                                  "at least peak_mb; pages shared by forked processes count once per process"}},
        indent=1))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
