#!/usr/bin/env python3
"""Reliability: killed runs resume to the same bytes, write failures leave nothing
partial, hostile input never crashes or hangs, memory does not grow with the dataset.

Run with /usr/bin/python3:  tests/e2e/test_reliability.py [--results F.json] [-k NAME]

The oracle for every resumed tree is an uninterrupted run of the same build on the same
data (volumes byte for byte, manifests column for column but for the time column); the
hostile corpus is pydicom's own test files plus the broken files of
tests/oracle/make_dicom_oracle.py, each with what pydicom (or the DICOM rules) say it is.
"""
import csv
import json
import os
import pathlib
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import Failure, GeneratedData, Skip, Suite, check, run  # noqa: E402

PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
MODALITIES = ["FLAIR", "T1w", "T1wCE", "T2w"]
suite = Suite("reliability", __doc__)


class Work(GeneratedData):
    _cache = {}

    @classmethod
    def medium(cls):
        # about 2,000 files of 256x256: a run of a few seconds, long enough to kill
        return cls.dataset("medium", "--patients", "14", "--test-patients", "1", "--size", "256", "--seed", "5",
                           "--problems", "--broken")


def manifest_rows(out):
    with open(pathlib.Path(out) / "manifest.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def tree(out):
    """{relative path: bytes} of every file in OUT but the run record and manifests."""
    out = pathlib.Path(out)
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and p.name not in ("run.json", "manifest.csv")}


def leftovers(out):
    """Anything in OUT that is neither a volume nor a manifest nor the run record."""
    out = pathlib.Path(out)
    return [str(p.relative_to(out)) for p in out.rglob("*")
            if p.is_file() and p.suffix != ".npy" and p.name not in ("run.json", "manifest.csv")]


def same_as_clean(clean, out, what):
    check(manifest_rows(clean) == manifest_rows(out), f"{what}: the manifest differs from an uninterrupted run's")
    a, b = tree(clean), tree(out)
    check(sorted(a) == sorted(b), f"{what}: other files: {sorted(set(a) ^ set(b))[:5]}")
    differ = [k for k in a if a[k] != b[k]]
    check(not differ, f"{what}: volumes differ: {differ[:5]}")
    check(not leftovers(out), f"{what}: left in OUT: {leftovers(out)}")
    state = json.loads((pathlib.Path(out) / "run.json").read_text())["state"]
    check(state == "complete", f"{what}: run.json state {state}")


def clean_run(data, name, *opts):
    out = Work.tmp / name
    if not out.exists():
        run([MRIPREP, "run", data, out, "--progress", "none", "-q", *opts])
    return out


def elapsed_of(out):
    return json.loads((pathlib.Path(out) / "run.json").read_text())["elapsed_s"]


@suite.test
def kill_9_at_random_moments_then_resume_gives_the_same_tree():
    data = Work.medium()
    clean = clean_run(data, "clean")
    duration = max(elapsed_of(clean), 0.3)
    rng = random.Random(20261123)
    kills = 0
    for attempt in range(4):
        out = Work.tmp / f"killed{attempt}"
        # Several kills per attempt: each rerun resumes what the last one left.
        for k in range(1 + attempt):
            p = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "--progress", "none", "-q"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # later kills come sooner: each resume has less left to do
            time.sleep(rng.uniform(0.02, 0.6 * duration / (k + 1)))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
        p = run([MRIPREP, "run", data, out, "--progress", "none"])
        check(p.returncode == 3, f"the resumed run exited {p.returncode}: {p.stderr[-1000:]}")
        same_as_clean(clean, out, f"attempt {attempt}")
    if kills == 0:
        raise Skip("every run finished before its kill: this machine is too fast for the dataset")
    return f"{kills} kill -9s, 4 resumed trees identical to the clean run"


@suite.test
def sigint_finishes_the_series_in_flight_and_exits_130():
    data = Work.medium()
    clean = clean_run(data, "clean")
    duration = max(elapsed_of(clean), 0.3)
    out = Work.tmp / "sigint"
    p = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "--progress", "none"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Signal once the first row is written (a fixed share of the clean run's time sent it
    # before any series had started on a loaded machine: 0 rows), or at 0.4 x the clean
    # run's time if the partial manifest never shows one.
    partial, deadline = out / "manifest.csv.partial", time.monotonic() + max(60.0, 10 * duration)
    while p.poll() is None and time.monotonic() < deadline:
        if partial.is_file() and partial.read_text(errors="replace").count("\n") >= 2:
            break
        time.sleep(0.005)
    else:
        time.sleep(0.4 * duration)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=120)[1]
    if p.returncode != 130:
        raise Skip(f"the run ended before the signal (exit {p.returncode}); machine too fast for this dataset")
    check("interrupted" in err, f"no message: {err}")
    rj = json.loads((out / "run.json").read_text())
    check(rj["state"] == "interrupted", f"state {rj['state']}")
    rows = manifest_rows(out)
    check(0 < len(rows) < len(manifest_rows(clean)), f"{len(rows)} rows after an interrupt")
    check(not leftovers(out), f"left in OUT: {leftovers(out)}")
    for r in rows:  # every row it wrote is true
        if r["status"] == "ok":
            check((out / r["output"]).is_file(), f"{r['output']} claimed but missing")
    run([MRIPREP, "run", data, out, "--progress", "none", "-q"], expect=3)
    same_as_clean(clean, out, "after SIGINT and resume")
    return f"{len(rows)} rows written before exit 130"


@suite.test
def second_signal_stops_at_once_and_the_resume_cleans_up():
    data = Work.medium()
    clean = clean_run(data, "clean")
    duration = max(elapsed_of(clean), 0.3)
    out = Work.tmp / "sigint2"
    p = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "--progress", "none"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3 * duration)
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGTERM)
    t0 = time.time()
    p.communicate(timeout=60)
    if p.returncode not in (130, 3):
        raise Failure(f"exit {p.returncode}")
    check(time.time() - t0 < 5, "a second signal did not stop it at once")
    run([MRIPREP, "run", data, out, "--progress", "none", "-q"], expect=3)
    same_as_clean(clean, out, "after two signals and resume")


@suite.test
def file_size_limit_is_exit_4_naming_the_path_and_leaves_nothing_partial():
    data = Work.dataset("small", "--patients", "2", "--test-patients", "0", "--size", "128", "--seed", "4")
    out = Work.tmp / "ulimit"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # 1 MiB: the first volume does not fit

    p = subprocess.run([str(MRIPREP), "run", str(data), str(out), "--progress", "none"], capture_output=True,
                       text=True, preexec_fn=limit)
    check(p.returncode == 4, f"exit {p.returncode}: {p.stderr[-800:]}")
    check(str(out) in p.stderr and "File too large" in p.stderr, f"message: {p.stderr[-800:]}")
    hidden = [q.name for q in out.rglob(".*")]
    check(not hidden, f"temporary files left: {hidden}")
    for npy in out.rglob("*.npy"):  # whatever did get written is whole
        check(npy.stat().st_size < (1 << 20), f"{npy} larger than the limit?")
    check(not list(out.rglob("*.npy")), "a volume exists though none fits under the limit")
    # The resume, without the limit, completes it.
    run([MRIPREP, "run", data, out, "--progress", "none", "-q"], expect=0)
    return p.stderr.strip().splitlines()[-1]


@suite.test
def too_little_free_space_is_refused_before_writing():
    data = Work.dataset("many_small", "--patients", "20", "--test-patients", "0", "--size", "32", "--seed", "4")
    out = Work.tmp / "nospace"
    free = shutil.disk_usage(Work.tmp).free
    # 8 slices of 8192 x 8192 float32 per series: 2 GiB each, more than the disk holds.
    series = sum(1 for p in data.glob("train/*/*") if p.is_dir() and any(p.glob("*.dcm")))
    if series * 8 * 8192 * 8192 * 4 <= free:
        raise Skip(f"{free / 1e9:.0f} GB free: {series} series cannot exceed it")
    p = run([MRIPREP, "run", data, out, "--size", "8192", "--slices", "8", "--progress", "none"])
    check(p.returncode == 4 and "GB free" in p.stderr and "--force" in p.stderr, f"exit {p.returncode}: {p.stderr}")
    check(not out.exists() or not any(out.iterdir()), "something was written")
    return p.stderr.strip().splitlines()[-1]


@suite.test
def other_options_are_refused_unless_overwrite():
    data = Work.dataset("small", "--patients", "2", "--test-patients", "0", "--size", "128", "--seed", "4")
    out = Work.tmp / "options"
    run([MRIPREP, "run", data, out, "--progress", "none", "-q"], expect=0)
    before = tree(out)
    p = run([MRIPREP, "run", data, out, "--size", "64", "--progress", "none"])
    check(p.returncode == 1 and "size 256x256 then, 64x64 now" in p.stderr and "--overwrite" in p.stderr,
          f"exit {p.returncode}: {p.stderr}")
    check(tree(out) == before, "a refused run changed OUT")
    # threads and device do not change bytes: a resume with them keeps everything
    p = run([MRIPREP, "run", data, out, "--threads", "1", "--device", "cpu", "--progress", "none"], expect=0)
    check("8 series already done are kept" in p.stderr, f"not resumed: {p.stderr}")
    run([MRIPREP, "run", data, out, "--size", "64", "--overwrite", "--progress", "none", "-q"], expect=0)
    rows = manifest_rows(out)
    import numpy as np
    shapes = {np.load(out / r["output"]).shape[:2] for r in rows if r["status"] == "ok"}
    check(shapes == {(64, 64)}, f"after --overwrite: {shapes}")
    check(not leftovers(out), f"left: {leftovers(out)}")


@suite.test
def output_of_an_older_mriprep_is_refused_with_the_reason():
    # mriprep before resume existed wrote run.json without "fingerprint" (and a manifest
    # of 15 columns): such an OUT is refused, saying why, and --overwrite redoes it.
    data = Work.dataset("small", "--patients", "2", "--test-patients", "0", "--size", "128", "--seed", "4")
    out = Work.tmp / "older"
    run([MRIPREP, "run", data, out, "--progress", "none", "-q"], expect=0)
    record = json.loads((out / "run.json").read_text())
    check("fingerprint" in record, "run.json has no fingerprint to remove")
    del record["fingerprint"]
    (out / "run.json").write_text(json.dumps(record, indent=2))
    before = tree(out)
    p = run([MRIPREP, "run", data, out, "--progress", "none"])
    check(p.returncode == 1 and "no options fingerprint" in p.stderr and "older mriprep" in p.stderr and
          "--overwrite" in p.stderr, f"exit {p.returncode}: {p.stderr}")
    check(tree(out) == before, "a refused run changed OUT")
    (out / "run.json").unlink()
    p = run([MRIPREP, "run", data, out, "--progress", "none"])
    check(p.returncode == 1 and "no run.json" in p.stderr, f"without run.json: exit {p.returncode}: {p.stderr}")
    run([MRIPREP, "run", data, out, "--overwrite", "--progress", "none", "-q"], expect=0)
    check("fingerprint" in json.loads((out / "run.json").read_text()), "--overwrite wrote no fingerprint")
    return "refused with the reason; --overwrite redoes it"


# ---- hostile input ---------------------------------------------------------------------

def pydicom_files():
    import pydicom.data
    folder = pathlib.Path(pydicom.data.get_testdata_file("MR_small.dcm")).parent
    return sorted(p for p in folder.glob("*.dcm"))


@suite.test
def hostile_corpus_gives_a_clear_reason_per_series_and_never_crashes():
    import pydicom.data
    oracle_dir = Work.tmp / "oracle"
    run([PY, ROOT / "tests" / "oracle" / "make_dicom_oracle.py", oracle_dir], expect=0)
    cases = json.loads((oracle_dir / "oracle.json").read_text())
    cases = cases.get("cases", cases)
    import pydicom
    good = pathlib.Path(pydicom.data.get_testdata_file("MR_small.dcm"))
    # MR_small moved to slice k of a series (copies at one position would be a 4D series)
    positioned = {}
    for k in (1, 3, 4):
        ds = pydicom.dcmread(good)
        ds.ImagePositionPatient = [float(v) for v in ds.ImagePositionPatient[:2]] + [1000.0 + 5 * k]
        positioned[k] = Work.tmp / f"MR_small_at_{k}.dcm"
        ds.save_as(positioned[k])
    data = Work.tmp / "hostile"
    expected = {}
    hostile = {name: pathlib.Path(c["path"]) for name, c in cases.items() if pathlib.Path(c["path"]).is_file()}
    for p in pydicom_files():
        hostile.setdefault(f"pydicom_{p.stem}", p)
    for i, (name, path) in enumerate(sorted(hostile.items())):
        series = data / "train" / f"{i:05d}" / "FLAIR"
        series.mkdir(parents=True)
        for k in (1, 3, 4):
            shutil.copy(positioned[k], series / f"Image-{k}.dcm")
        shutil.copy(path, series / "Image-2.dcm")
        expected[f"{i:05d}"] = (name, cases.get(name, {}).get("expect"), cases.get(name, {}).get("message"))
    # Odd folder names stay inside OUT and get their rows.
    odd = ["a b", "x,y", 'quo"te', "tab\tname", "new\nline", "-rf", "ünïcødé"]
    for name in odd:
        series = data / "train" / name / "T1w"
        series.mkdir(parents=True)
        shutil.copy(good, series / "Image-1.dcm")
    # Hidden folders (".ipynb_checkpoints", "..dots") are not patients.
    (data / "train" / "..dots" / "T1w").mkdir(parents=True)
    shutil.copy(good, data / "train" / "..dots" / "T1w" / "Image-1.dcm")
    # Things that must never be walked into, listed as files, or hang the run.
    pat = data / "train" / "00000"
    (pat / "DWI").mkdir()
    (pat / "DWI" / "Image-1.dcm").write_bytes(b"not even DICOM")
    os.symlink("..", pat / "T2w")                       # a modality folder looping back
    os.mkfifo(pat / "FLAIR" / "Image-9.dcm")             # opening a FIFO would block forever
    os.symlink("Image-10.dcm", pat / "FLAIR" / "Image-10.dcm")  # a link to itself
    (data / "train_labels.csv").write_text("BraTS21ID,MGMT_value\n00000,1\nfoo,1\n00001,7\n")

    out = Work.tmp / "hostile_out"
    p = subprocess.run([str(MRIPREP), "run", str(data), str(out), "--progress", "none"], capture_output=True,
                       text=True, timeout=300)
    check(p.returncode == 3, f"exit {p.returncode}: {p.stderr[-1500:]}")
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    patients = [q.name for q in (data / "train").iterdir() if q.is_dir() and not q.name.startswith(".")]
    check(len(rows) == 4 * len(patients), f"{len(rows)} rows for {len(patients)} patients")
    check(not [r for r in rows if r["modality"] == "DWI"], "a non-modality folder got a row")
    check(not [r for r in rows if r["id"] == "..dots"], "a hidden folder got a row")
    by_id = {(r["id"], r["modality"]): r for r in rows}
    unclear = []
    for pid, (name, expect, message) in expected.items():
        r = by_id[(pid, "FLAIR")]
        if pid == "00000":
            check(r["status"] == "failed" and "Image-" in r["reason"], f"00000 (FIFO, self link): {r}")
            continue
        if expect == "ok":
            check(r["status"] == "ok", f"{name}: decodable but {r['status']}: {r['reason']}")
        elif expect:
            want = message if isinstance(message, str) else (message or [""])[0]
            check(r["status"] == "failed" and r["reason"].startswith("Image-2.dcm: ") and want.split(":")[-1].strip()
                  in r["reason"], f"{name}: {r['status']}: {r['reason']!r} (wanted {want!r})")
        else:  # pydicom's other files: decoded or a reason naming the file, never a crash
            if r["status"] != "ok" and not r["reason"].startswith("Image-2.dcm: "):
                unclear.append((name, r["reason"]))
    check(not unclear, f"reasons that do not name the file: {unclear[:5]}")
    for name in odd:
        r = by_id.get((name, "T1w"))
        check(r and r["status"] == "ok" and (out / r["output"]).is_file(), f"patient {name!r}: {r}")
    written_into_data = list(data.rglob("*.npy"))
    check(not written_into_data, f"volumes written into DATA: {written_into_data[:3]}")
    escaped = [r["output"] for r in rows if r["output"] and out.resolve() not in (out / r["output"]).resolve().parents]
    check(not escaped, f"outputs outside OUT: {escaped[:3]}")
    for line in (":3:", ":4:"):
        check(f"train_labels.csv{line}" in p.stderr, f"no warning for labels line {line}")
    failed = sum(r["status"] == "failed" for r in rows)
    return f"{len(expected)} hostile series, {failed} failed with reasons, {len(odd)} odd names"


@suite.test
def peak_memory_does_not_grow_with_the_number_of_patients():
    """With the default read-ahead on: what it reads ahead is page cache, not the process's
    memory, so the peak stays flat and far under the 1 GB the design allows."""
    sizes = {}
    for n in (3, 12):
        data = Work.dataset(f"mem{n}", "--patients", str(n), "--test-patients", "0", "--size", "256",
                            "--slices", "30:40", "--seed", "9")
        out = Work.tmp / f"mem{n}_out"
        p = run(["/usr/bin/time", "-f", "%M", MRIPREP, "run", data, out, "--progress", "none", "-q"])
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr[-500:]}")
        sizes[n] = int(p.stderr.strip().splitlines()[-1]) / 1024
    check(sizes[12] <= sizes[3] * 1.15 + 8, f"peak RSS {sizes[3]:.0f} MB for 3 patients, {sizes[12]:.0f} MB for 12")
    check(max(sizes.values()) < 1024, f"peak RSS {max(sizes.values()):.0f} MB: over 1 GB")
    return f"peak RSS {sizes[3]:.0f} MB (3 patients), {sizes[12]:.0f} MB (12 patients)"


def setup_problem():
    return None if MRIPREP.is_file() else f"{MRIPREP} not built: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
