#!/usr/bin/env python3
"""Regression tests for what a hostile-input campaign broke (one test per finding fixed):
each builds the input the finding describes and checks mriprep's answer.

    /usr/bin/python3 tests/e2e/test_hostile.py [--results FILE.json] [-k SUBSTRING]

- started with stderr (and stdout) closed, log lines must not land in manifest.csv;
- --crop volume over a series whose slices differ in Rows x Columns: an ok volume, the
  same bytes every run (it was read out of bounds: a segfault or different bytes);
- a RescaleSlope of NaN, inf or 1e308 with --intensity raw --rescale: the series fails
  naming the rescale (it was an "ok" volume of NaN);
- two runs into one OUT: the second is refused (exit 4) naming the first's pid, and the
  first's manifest is whole (they used to interleave rows and delete each other's files);
  shards of one run still go side by side; no lock file is left behind;
- ImagePositionPatient of inf or 1e308, PixelSpacing 0\\0: the geometry counts them as
  absent (an inf position with --reorient indexed an array at -1; a 0 spacing gave a
  NIfTI whose affine was singular yet marked valid);
- a labels file in UTF-16: an error saying so (it silently gave no labels); 100,000 bad
  rows: 20 warnings, "no usable label rows" and a count, not 100,000 lines; --seed 2^64-1 in run.json as
  given (it was -1);
- deletions: --overwrite removes only files a manifest row names by mriprep's own name
  for that row (a crafted row naming the labels file, with DATA == OUT, deleted it), and
  the leftover cleanup only mriprep's own temporary names of processes that are gone (it
  removed any ".<name>.tmp.<digits>", a live shard's included);
- a file of 6,000 nested sequences: that series fails naming the file, scan and info say
  so (dcmtk's recursive parser overflowed the stack: a segfault, the whole run lost); 100
  levels still decode;
- durability: the records are fsynced before their rename (volumes too with
  MRIPREP_FSYNC=each, seen with strace), and a volume a machine crash left renamed but
  zero-filled is redone by the next run (it was trusted for its size);
- a DATA path with bytes that are not UTF-8, a quote, a backslash or a newline: run.json
  and scan's JSON stay valid JSON (bytes escaped as \\udcXX, Python's surrogateescape), and
  merge finds DATA from the shards' records (invalid JSON before);
- a file with 1-7 stray bytes after its last element decodes as pydicom reads it (it
  failed as "truncated"); one cut inside its pixel data is still "truncated";
- a .dcm the user may not read: "cannot open: Permission denied" (it was "not a DICOM
  file"), checked as an unprivileged user (setpriv; skipped without root);
- a FIFO where a slice or the labels file should be, and OUT/manifest.csv linked to
  /dev/zero: a clear error at once (they used to block forever, or read until the OOM
  killer came; a FIFO named .dcm was dropped from its series without a word);
- one series of 2,000 slices of 512x512 (1 GB of pixels): peak RSS under 400 MB (it
  was 1.11 GB: every slice was held until the volume was built), the volume byte for byte
  the one a run that holds every slice gives; and a pixel budget of 1 MB over a whole
  dataset changes no byte under any option set (selected slices are read again).
"""
import copy
import csv
import hashlib
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import GeneratedData, Skip, Suite, check, run  # noqa: E402

MRIPREP = ROOT / "build" / "mriprep"
suite = Suite("hostile", __doc__)


class Work(GeneratedData):
    _cache = {}

    @classmethod
    def small(cls):
        return cls.dataset("small", "--patients", "2", "--test-patients", "0", "--size", "64", "--slices", "6:12",
                           "--seed", "9")


def rows_of(out):
    with open(pathlib.Path(out) / "manifest.csv", newline="") as f:
        return list(csv.reader(f))


@suite.test
def closed_stderr_and_stdout_keep_log_lines_out_of_the_manifest():
    data = Work.small()
    for closing in ("2>&-", ">&- 2>&-"):
        out = Work.tmp / f"closed{len(closing)}"
        # --progress bar and no -q: as many lines as a run writes to stderr
        script = f'exec {closing}; exec "$0" run "$1" "$2" --progress bar'
        p = subprocess.run(["bash", "-c", script, str(MRIPREP), str(data), str(out)], capture_output=True, text=True)
        check(p.returncode == 0, f"{closing}: exit {p.returncode}")
        rows = rows_of(out)
        header = rows[0]
        check(header[:3] == ["split", "id", "modality"], f"{closing}: the manifest starts with {header[:3]}")
        bad = [r for r in rows[1:] if len(r) != len(header)]
        check(not bad, f"{closing}: rows that are not manifest rows: {bad[:3]}")
        text = (out / "manifest.csv").read_text()
        check("mriprep" not in text and "device:" not in text, f"{closing}: log text in the manifest")
        check(len(rows) == 1 + 8, f"{closing}: {len(rows) - 1} rows for 8 series")
    return "2>&- and >&- 2>&-: 8 rows each, no log line"


def write_series(folder, sizes, slope=None, raw=None):
    """A series of MR slices of the given sizes (pydicom's MR_small, resized by cropping
    or tiling), optional RescaleSlope text written as is, and `raw` {tag: text} of other
    attributes written as is (as a broken scanner would)."""
    import numpy as np
    import pydicom
    import pydicom.config
    import pydicom.data
    base = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
    pixels = base.pixel_array
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes, 1):
        ds = copy.deepcopy(base)
        px = np.tile(pixels, (size // 64 + 1, size // 64 + 1))[:size, :size].astype(pixels.dtype)
        ds.Rows = ds.Columns = size
        ds.PixelData = px.tobytes()
        ds.InstanceNumber = i
        ds.ImagePositionPatient = [0, 0, 5.0 * i]
        if slope is not None:
            ds.add_new(0x00281053, "DS", "1")
            ds[0x00281053]._value = slope        # raw text, as a broken scanner would write it
            ds.add_new(0x00281052, "DS", "0")
        for tag, text in (raw or {}).items():
            ds[tag]._value = text
        with pydicom.config.disable_value_validation() if hasattr(pydicom.config, "disable_value_validation") \
                else _nothing():
            ds.save_as(folder / f"Image-{i}.dcm")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@suite.test
def volume_crop_over_slices_of_different_sizes_is_stable():
    data = Work.tmp / "mixed"
    write_series(data / "00001" / "FLAIR", [64, 64, 24, 64, 40])
    digests = set()
    for k in range(3):
        out = Work.tmp / f"mixed_out{k}"
        p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--preset", "volumetric", "--format", "npy",
                 "--modalities", "FLAIR"])
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr[-600:]}")
        rows = {r[2]: r for r in rows_of(out)[1:]}
        check(rows["FLAIR"][4] == "ok", f"row {rows['FLAIR']}")
        digests.add(hashlib.sha256((out / "00001" / "FLAIR.npy").read_bytes()).hexdigest())
    check(len(digests) == 1, f"{len(digests)} different volumes from 3 runs of the same input")
    return "ok, the same bytes in 3 runs"


@suite.test
def rescale_that_is_not_a_finite_number_fails_the_series_naming_it():
    found = []
    for slope in ("NaN", "inf", "1e308"):
        data = Work.tmp / f"slope_{slope}"
        write_series(data / "00001" / "FLAIR", [64, 64, 64], slope=slope)
        out = Work.tmp / f"slope_out_{slope}"
        p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--intensity", "raw", "--rescale",
                 "--modalities", "FLAIR"])
        rows = {r[2]: r for r in rows_of(out)[1:]}
        row = rows["FLAIR"]
        check(p.returncode == 3 and row[4] == "failed" and "RescaleSlope" in row[5],
              f"slope {slope}: exit {p.returncode}, row {row}")
        found.append(f"{slope}: {row[5][:60]}...")
    return "; ".join(found)


@suite.test
def a_second_run_into_the_same_out_is_refused_naming_the_holder():
    import fcntl
    import os
    data = Work.small()
    out = Work.tmp / "locked"
    out.mkdir()
    fd = os.open(out / ".manifest.csv.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        p = run([MRIPREP, "run", data, out, "--progress", "none", "-q"])
        check(p.returncode == 4 and "in use by another mriprep (pid 4242" in p.stderr,
              f"exit {p.returncode}: {p.stderr[-400:]}")
        check(sorted(q.name for q in out.iterdir()) == [".manifest.csv.lock"], f"written: {list(out.iterdir())}")
        # A shard's records have their own lock: shard 0/2 goes on while a whole run holds OUT.
        q = run([MRIPREP, "run", data, out, "--progress", "none", "-q", "--shard", "0/2"])
        check(q.returncode == 0, f"shard 0/2 beside the lock holder: exit {q.returncode}: {q.stderr[-300:]}")
    finally:
        os.close(fd)
    # Two real runs at once on a bigger dataset: one is refused, the other whole.
    medium = Work.dataset("medium", "--patients", "6", "--test-patients", "0", "--size", "256", "--seed", "2")
    out2 = Work.tmp / "raced"
    cmd = [str(MRIPREP), "run", str(medium), str(out2), "--progress", "none", "-q", "--threads", "1"]
    a = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    import time
    for _ in range(1000):   # the second starts once the first holds OUT
        if (out2 / ".manifest.csv.lock").exists() or a.poll() is not None:
            break
        time.sleep(0.01)
    b = subprocess.run(cmd, capture_output=True, text=True)
    a_err = a.communicate()[1]
    codes = sorted([a.returncode, b.returncode])
    check(codes == [0, 4], f"exit codes {a.returncode} (first) and {b.returncode} (second): {b.stderr[-300:]} {a_err[-300:]}")
    refused = b.stderr if b.returncode == 4 else a_err
    check(f"(pid {a.pid}" in refused or "(pid " in refused, f"the refusal does not name the holder: {refused[-300:]}")
    rows = rows_of(out2)
    check(len(rows) == 1 + 24 and all(len(r) == len(rows[0]) for r in rows), f"{len(rows) - 1} rows, or torn rows")
    left = [q.name for q in out2.iterdir() if q.name.startswith(".")]
    check(not left, f"left in OUT: {left}")
    return f"refused naming pid 4242; a shard beside it ran; of two real runs exits {codes}, 24 rows, no lock left"


@suite.test
def fifos_and_devices_are_refused_without_blocking():
    import os
    data = Work.tmp / "fifo_data"
    shutil.copytree(Work.small(), data)
    slice_path = sorted((data / "train").glob("*/FLAIR/Image-2.dcm"))[0]
    slice_path.unlink()
    os.mkfifo(slice_path)
    # The header reader (info, scan's and run's decoders) on a FIFO: an error, not a hang.
    p = subprocess.run([str(MRIPREP), "info", str(slice_path)], capture_output=True, text=True, timeout=30)
    check(p.returncode == 3 and "not a regular file (a FIFO)" in p.stderr, f"info: {p.returncode} {p.stderr[-300:]}")
    # A slice swapped for a FIFO after the walk: a run decoding it fails that series.
    out = Work.tmp / "fifo_out"
    proc = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "--progress", "none", "-q", "--threads", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err_text = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    # The walk keeps a FIFO named .dcm in its series (it used to drop it without a word),
    # and its decode fails the series naming it, without blocking.
    check(proc.returncode == 3, f"run with a FIFO slice: exit {proc.returncode}: {err_text[-300:]}")
    patient = slice_path.parent.parent.name
    row = next(r for r in rows_of(out)[1:] if r[1] == patient and r[2] == "FLAIR")
    check(row[4] == "failed" and "Image-2.dcm: not a regular file (a FIFO)" in row[5], f"FIFO slice's row: {row}")
    # The labels file as a FIFO: refused at start, for run and scan.
    labels = data / "train_labels.csv"
    labels.unlink()
    os.mkfifo(labels)
    for cmd in (["run", str(data), str(Work.tmp / "fifo_out2")], ["scan", str(data)]):
        q = subprocess.run([str(MRIPREP), *cmd, "-q"], capture_output=True, text=True, timeout=30)
        check(q.returncode == 1 and "train_labels.csv: not a regular file (a FIFO)" in q.stderr,
              f"{cmd[0]} with a FIFO labels file: {q.returncode} {q.stderr[-300:]}")
    # The previous run's manifest linked to /dev/zero: refused, not read forever.
    zero_out = Work.tmp / "zero_out"
    zero_out.mkdir()
    os.symlink("/dev/zero", zero_out / "manifest.csv")
    z = subprocess.run([str(MRIPREP), "run", str(Work.small()), str(zero_out), "-q", "--progress", "none"],
                       capture_output=True, text=True, timeout=60)
    check(z.returncode == 4 and "not a regular file (a character device)" in z.stderr, f"{z.returncode} {z.stderr[-300:]}")
    return "info, run, scan and resume: each refused at once, naming the file"


@suite.test
def header_numbers_that_are_not_finite_or_absurd_count_as_absent():
    import numpy as np
    cases = {"inf_position": {0x00200032: "inf\\0\\0"}, "huge_position": {0x00200032: "1e308\\0\\5"},
             "zero_spacing": {0x00280030: "0\\0"}, "nan_orientation": {0x00200037: "nan\\0\\0\\0\\1\\0"}}
    seen = []
    for name, raw in cases.items():
        data = Work.tmp / f"geo_{name}"
        write_series(data / "00001" / "FLAIR", [64, 64, 64, 64], raw=raw)
        out = Work.tmp / f"geo_out_{name}"
        p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--preset", "volumetric", "--modalities", "FLAIR"])
        check(p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr[-400:]}")
        with open(out / "manifest.csv", newline="") as f:
            row = next(r for r in csv.DictReader(f) if r["modality"] == "FLAIR")
        check(row["status"] == "ok", f"{name}: {row}")
        check("no affine" in row["geometry"] or "not reoriented" in row["geometry"],
              f"{name}: geometry {row['geometry']!r}: a volume with an affine from absurd numbers")
        import nibabel
        img = nibabel.load(str(out / row["output"]))
        check(np.all(np.isfinite(img.affine)), f"{name}: NIfTI affine not finite: {img.affine}")
        check(abs(np.linalg.det(img.affine[:3, :3])) > 0, f"{name}: singular NIfTI affine {img.affine}")
        seen.append(f"{name}: {row['geometry'][:50]}")
    return "; ".join(seen)


@suite.test
def labels_in_utf16_or_full_of_garbage_and_a_huge_seed():
    import json
    data = Work.tmp / "labels_data"
    shutil.copytree(Work.small(), data)
    labels = data / "train_labels.csv"
    labels.write_bytes("BraTS21ID,MGMT_value\n00000,1\n".encode("utf-16"))
    p = run([MRIPREP, "run", data, Work.tmp / "labels_out", "-q", "--progress", "none"])
    check(p.returncode == 1 and "UTF-16" in p.stderr and "train_labels.csv" in p.stderr, f"{p.returncode} {p.stderr[-300:]}")
    labels.write_text("BraTS21ID,MGMT_value\n" + "".join(f"x{i},7\n" for i in range(100000)))
    q = run([MRIPREP, "scan", data])
    lines = [line for line in q.stderr.splitlines() if "train_labels.csv" in line]
    check(q.returncode in (0, 3) and len(lines) == 22 and "99980 more warnings like these not shown" in lines[-1]
          and any("no usable label rows" in line for line in lines), f"{len(lines)} warning lines; last {lines[-2:]}")
    labels.write_text("BraTS21ID,MGMT_value\n00000,1\n")
    out = Work.tmp / "seed_out"
    run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--augment", "rot90", "--seed", str(2**64 - 1)], expect=0)
    seed = json.loads((out / "run.json").read_text())["options"]["seed"]
    check(seed == 2**64 - 1, f"run.json seed {seed}")
    return "UTF-16 refused naming it; 100,000 bad rows -> 20 + 'no usable rows' + a count; seed 2^64-1 kept"


@suite.test
def only_files_mriprep_wrote_are_deleted():
    import os
    data = Work.tmp / "same_folder"
    shutil.copytree(Work.small(), data)
    # DATA == OUT: a previous run's manifest, then one row made to name the labels file.
    run([MRIPREP, "run", data, data, "-q", "--progress", "none"], expect=0)
    manifest = data / "manifest.csv"
    rows = list(csv.reader(manifest.open(newline="")))
    col = rows[0].index("output")
    rows[1][col] = "train_labels.csv"
    with manifest.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    labels_before = (data / "train_labels.csv").read_bytes()
    run([MRIPREP, "run", data, data, "-q", "--progress", "none", "--overwrite", "--size", "32"], expect=0)
    check((data / "train_labels.csv").exists() and (data / "train_labels.csv").read_bytes() == labels_before,
          "--overwrite deleted the labels file a crafted manifest row named")
    # Temporary names: a user's file, a live process's, and a dead one's.
    out = Work.tmp / "tmp_names"
    run([MRIPREP, "run", Work.small(), out, "-q", "--progress", "none"], expect=0)
    patient = next((out / "train").iterdir())
    live = subprocess.Popen(["sleep", "60"])
    try:
        dead = subprocess.Popen(["true"])
        dead.wait()
        keep_user = patient / ".notes.txt.tmp.123"
        keep_live = patient / f".FLAIR.npy.tmp.{live.pid}"
        gone = patient / f".T1w.npy.tmp.{dead.pid}"
        for f in (keep_user, keep_live, gone):
            f.write_bytes(b"x")
        run([MRIPREP, "run", Work.small(), out, "-q", "--progress", "none"], expect=0)
        check(keep_user.exists(), "a user's .notes.txt.tmp.123 was deleted")
        check(keep_live.exists(), "a live process's temporary file was deleted")
        check(not gone.exists(), "a dead run's temporary file was left")
    finally:
        live.kill()
    return "labels file kept under --overwrite with DATA == OUT; user's and live temp files kept, a dead one's removed"


def nested_sequences_file(path, depth):
    """An Implicit VR Little Endian MR image whose (0008,1140) sequence of undefined length
    holds one item holding the next, `depth` deep, then the delimiters, then the image."""
    import struct
    import pydicom
    import pydicom.data
    px = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm")).pixel_array.astype("<i2").tobytes()

    def el(g, e, v):
        return struct.pack("<HHI", g, e, len(v)) + v

    def meta_el(e, vr, v):
        return struct.pack("<HH", 2, e) + vr + struct.pack("<H", len(v)) + v
    nest = (struct.pack("<HHI", 0x0008, 0x1140, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)) * depth
    unnest = (struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)) * depth
    body = (el(0x0008, 0x0060, b"MR") + nest + unnest + el(0x0028, 0x0002, struct.pack("<H", 1))
            + el(0x0028, 0x0004, b"MONOCHROME2 ") + el(0x0028, 0x0010, struct.pack("<H", 64))
            + el(0x0028, 0x0011, struct.pack("<H", 64)) + el(0x0028, 0x0100, struct.pack("<H", 16))
            + el(0x0028, 0x0101, struct.pack("<H", 16)) + el(0x0028, 0x0102, struct.pack("<H", 15))
            + el(0x0028, 0x0103, struct.pack("<H", 1)) + el(0x7FE0, 0x0010, px))
    meta_body = (struct.pack("<HH", 2, 1) + b"OB\0\0" + struct.pack("<I", 2) + b"\0\1"
                 + meta_el(2, b"UI", b"1.2.840.10008.5.1.4.1.1.4\0") + meta_el(3, b"UI", b"1.2.3.4\0")
                 + meta_el(0x10, b"UI", b"1.2.840.10008.1.2\0"))
    meta = meta_el(0, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    pathlib.Path(path).write_bytes(b"\0" * 128 + b"DICM" + meta + body)


@suite.test
def deeply_nested_sequences_fail_their_series_instead_of_the_process():
    data = Work.tmp / "nested"
    for depth, modality in ((6000, "FLAIR"), (100, "T1w")):
        folder = data / "00001" / modality
        folder.mkdir(parents=True)
        for i in (1, 2):
            nested_sequences_file(folder / f"Image-{i}.dcm", depth if i == 2 else 1)
    out = Work.tmp / "nested_out"
    p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--modalities", "FLAIR,T1w"])
    check(p.returncode == 3, f"run: exit {p.returncode}: {p.stderr[-300:]}")
    rows = {r[2]: r for r in rows_of(out)[1:]}
    check(rows["FLAIR"][4] == "failed" and "Image-2.dcm: sequences nested more than 128 deep" in rows["FLAIR"][5],
          f"FLAIR row {rows['FLAIR']}")
    check(rows["T1w"][4] == "ok", f"100 levels should decode: {rows['T1w']}")
    q = run([MRIPREP, "scan", data, "--modalities", "FLAIR,T1w"])
    check(q.returncode in (0, 3) and "nested more than 128 deep" in q.stdout + q.stderr, f"scan: {q.returncode}")
    i = run([MRIPREP, "info", data / "00001" / "FLAIR" / "Image-2.dcm"])
    check(i.returncode == 3 and "sequences nested more than 128 deep" in i.stderr, f"info: {i.returncode} {i.stderr[-200:]}")
    return "6,000 levels: the series fails naming the file (scan, info too); 100 levels decode"


@suite.test
def records_are_flushed_and_a_zeroed_volume_is_redone():
    import os
    import numpy as np
    data = Work.small()
    if shutil.which("strace"):
        counts = {}
        for mode in ("records", "each", "off"):
            out = Work.tmp / f"fsync_{mode}"
            env = dict(os.environ, MRIPREP_FSYNC=mode)
            p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=fsync", "-o", str(Work.tmp / f"strace_{mode}"),
                                str(MRIPREP), "run", str(data), str(out), "-q", "--progress", "none"], env=env,
                               capture_output=True, text=True)
            check(p.returncode == 0, f"{mode}: exit {p.returncode}: {p.stderr[-300:]}")
            counts[mode] = (Work.tmp / f"strace_{mode}").read_text().count("fsync(")
        volumes = len(list((Work.tmp / "fsync_each").rglob("*.npy")))
        check(counts["off"] == 0 and 2 <= counts["records"] < volumes and counts["each"] >= 2 * volumes,
              f"fsync calls {counts} for {volumes} volumes")
        flushed = f"fsync calls: off {counts['off']}, records {counts['records']}, each {counts['each']} ({volumes} volumes)"
    else:
        flushed = "strace not installed: flushes not counted"
    # A crash's artefact: a kept volume of the right size, all zeros. The rerun redoes it.
    out = Work.tmp / "zeroed"
    run([MRIPREP, "run", data, out, "-q", "--progress", "none"], expect=0)
    victim = sorted(out.rglob("*.npy"))[0]
    want = victim.read_bytes()
    victim.write_bytes(b"\0" * len(want))
    run([MRIPREP, "run", data, out, "-q", "--progress", "none"], expect=0)
    check(victim.read_bytes() == want, "a zero-filled volume was kept by resume")
    np.load(victim)
    return flushed + "; a zero-filled volume redone"


@suite.test
def odd_path_bytes_keep_json_valid_and_merge_finds_data():
    import json
    import os
    found = []
    for raw_name in (b"bad\xffname", b'quo"te\\back\nline'):
        parent = Work.tmp / os.fsdecode(raw_name)
        shutil.copytree(Work.small(), parent / "data")
        data = parent / "data"
        out = Work.tmp / f"odd_out_{len(found)}"
        for k in (0, 1):
            run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--shard", f"{k}/2"], expect=0)
        rec = json.loads((out / "run.0-of-2.json").read_bytes().decode("utf-8"))   # strict UTF-8 JSON
        check(os.fsencode(rec["data"]) == os.fsencode(str(data)), f"run.json data {rec['data']!r}")
        m = run([MRIPREP, "merge", out])
        check(m.returncode == 0, f"merge with DATA {raw_name!r}: {m.returncode} {m.stderr[-300:]}")
        scan_json = Work.tmp / f"odd_scan_{len(found)}.json"
        run([MRIPREP, "scan", data, "--json", scan_json, "-q"], expect=0)
        json.loads(scan_json.read_bytes().decode("utf-8"))
        found.append(repr(raw_name))
    return f"DATA under {', '.join(found)}: JSON valid, merge found DATA"


@suite.test
def stray_bytes_after_the_last_element_are_ignored_as_pydicom_does():
    import numpy as np
    import pydicom
    import pydicom.data
    src = pathlib.Path(pydicom.data.get_testdata_file("MR_small.dcm"))
    data = Work.tmp / "stray"
    for name, extra in (("T1w", b""), ("FLAIR", b"x"), ("T2w", b"\0\0\0\0\0\0\0")):
        folder = data / "00001" / name
        folder.mkdir(parents=True)
        for i in (1, 2):  # two slices 5 mm apart (copies at one position would be a 4D series)
            ds = pydicom.dcmread(src)
            ds.ImagePositionPatient = [float(v) for v in ds.ImagePositionPatient[:2]] + [5.0 * i]
            ds.save_as(folder / f"Image-{i}.dcm")
            (folder / f"Image-{i}.dcm").write_bytes((folder / f"Image-{i}.dcm").read_bytes() + extra)
    cut = data / "00001" / "T1wCE"
    cut.mkdir(parents=True)
    (cut / "Image-1.dcm").write_bytes(src.read_bytes()[:9000])
    for f in (data / "00001" / "FLAIR").iterdir():    # the oracle reads them
        pydicom.dcmread(f).pixel_array
    out = Work.tmp / "stray_out"
    p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--size", "32"])
    check(p.returncode == 3, f"exit {p.returncode}: {p.stderr[-300:]}")
    rows = {r[2]: r for r in rows_of(out)[1:]}
    check(rows["FLAIR"][4] == "ok" and rows["T2w"][4] == "ok", f"rows {rows}")
    check("truncated pixel data" in rows["T1wCE"][5], f"cut file: {rows['T1wCE']}")
    plain = np.load(out / "00001" / "T1w.npy")
    for name in ("FLAIR", "T2w"):
        check(np.load(out / "00001" / f"{name}.npy").tobytes() == plain.tobytes(), f"{name} differs from the plain file's")
    return "1 and 7 stray bytes: the plain file's volume; a cut file: truncated"


@suite.test
def an_unreadable_file_says_permission_denied():
    import os
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv to run mriprep as another user (root reads any file)")
    folder = Work.tmp / "perm"
    folder.mkdir()
    os.chmod(Work.tmp, 0o755)
    os.chmod(folder, 0o755)
    f = folder / "noperm.dcm"
    nested_sequences_file(f, 1)
    os.chmod(f, 0)
    program = folder / "mriprep"    # a copy the other user can reach, wherever the tree is
    shutil.copy2(MRIPREP, program)
    os.chmod(program, 0o755)
    p = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", program, "info", f])
    check(p.returncode == 3 and "noperm.dcm: cannot open: Permission denied" in p.stderr, f"{p.returncode} {p.stderr[-300:]}")
    return "as uid 65534: 'noperm.dcm: cannot open: Permission denied'"


def peak_rss_mb(argv, env):
    """Runs argv in a fresh Python child that waits for it: the child's RUSAGE_CHILDREN
    is then that one process's peak RSS. (exit code, MB, stderr)"""
    import os
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "sys.stderr.write(p.stderr)\n"
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = subprocess.run([sys.executable, "-c", probe, *map(str, argv)], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    rc, kb = p.stdout.split()
    return int(rc), int(kb) / 1024, p.stderr


def digests(out):
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(out.rglob("*")) if f.is_file() and f.name not in ("run.json", "manifest.csv")}


@suite.test
def a_series_of_2000_slices_peaks_under_400_mb():
    import json
    data = Work.dataset("long", "--patients", "1", "--test-patients", "0", "--slices", "2000:2000",
                        "--modalities", "FLAIR", "--seed", "4")
    peaks, outs = {}, {}
    for name, env in (("default", {}), ("all held", {"MRIPREP_PIXEL_BUDGET_MB": "2048"})):
        outs[name] = Work.tmp / f"long_{len(env)}"
        shutil.rmtree(outs[name], ignore_errors=True)
        rc, peaks[name], err = peak_rss_mb([MRIPREP, "run", data, outs[name], "-q", "--progress", "none"], env)
        check(rc == 0, f"{name}: exit {rc}: {err[-300:]}")
    rj = json.loads((outs["default"] / "run.json").read_text())
    check(rj["totals"]["files_decoded"] == 2000, f"totals {rj['totals']}")
    reread = rj["totals"]["files_reread"]
    check(0 < reread <= 128, f"{reread} files read twice: the selected 128 at most")
    same = digests(outs["default"]) == digests(outs["all held"])
    check(same and len(digests(outs["default"])) == 1, "the volume differs from the run that held every slice")
    check(peaks["default"] < 400, f"peak RSS {peaks['default']:.0f} MB for one series of 2,000 slices of 512x512")
    check(peaks["all held"] > 1000, f"holding every slice peaked at {peaks['all held']:.0f} MB: is it measured?")
    return (f"peak RSS {peaks['default']:.0f} MB ({reread} selected files read twice), "
            f"{peaks['all held']:.0f} MB holding every slice; the same volume")


@suite.test
def a_pixel_budget_of_1_mb_changes_no_byte():
    import json
    data = Work.dataset("budget", "--patients", "2", "--test-patients", "1", "--size", "256", "--slices", "30:70",
                        "--seed", "6")
    option_sets = ([], ["--preset", "volumetric"], ["--dtype", "float16", "--layout", "dhw", "--slices", "16"],
                   ["--order", "position", "--crop", "volume", "--norm", "nonzero", "--depth", "pad", "--center",
                    "largest", "--format", "nii", "--slices", "24"],
                   ["--intensity", "raw", "--rescale", "--augment", "rot90", "--seed", "3", "--reorient"])
    reread = 0
    for k, opts in enumerate(option_sets):
        outs = []
        for budget in (None, "1"):
            out = Work.tmp / f"budget_{k}_{budget}"
            shutil.rmtree(out, ignore_errors=True)
            env = ["env", f"MRIPREP_PIXEL_BUDGET_MB={budget}"] if budget else []
            run([*env, MRIPREP, "run", data, out, "-q", "--progress", "none", *opts], expect=0)
            outs.append(out)
        check(digests(outs[0]) == digests(outs[1]) and digests(outs[0]), f"{opts}: the outputs differ")
        rows = [rows_of(o) for o in outs]
        col = rows[0][0].index("seconds")
        strip = lambda table: [r[:col] + r[col + 1:] for r in table]  # noqa: E731
        check(len(rows[0]) > 1 and strip(rows[0]) == strip(rows[1]), f"{opts}: the manifests differ")
        reread += json.loads((outs[1] / "run.json").read_text())["totals"]["files_reread"]
    check(reread > 0, "no file was read twice: the budget did not bite")
    return f"{len(option_sets)} option sets identical; {reread} files read twice under 1 MB"


def setup_problem():
    return None if MRIPREP.exists() else f"{MRIPREP} is missing: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
