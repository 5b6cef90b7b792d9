#!/usr/bin/env python3
"""End-to-end tests of `mriprep run`, against the notebook pipeline as the oracle.

Run with /usr/bin/python3 (Debian's pydicom, numpy, OpenCV). Each test generates its
data with scripts/make_dataset.py or from pydicom's own test files, runs build/mriprep,
and checks outputs, manifest, run.json and exit codes. The oracle for every volume is
tests/reference/notebook_pipeline.py (pydicom + cv2.INTER_AREA + numpy), never values
copied from mriprep's own output.

    /usr/bin/python3 tests/e2e/test_e2e.py [--results FILE.json] [-k SUBSTRING]

Prints one line per test and writes {"tests": [{"name", "status", "message"}]} for
tests/summarize_results.py.
"""
import csv
import json
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from compare_outputs import compare  # noqa: E402
from testlib import GeneratedData, Skip, Suite, check, run  # noqa: E402

PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
REFERENCE = ROOT / "tests" / "reference" / "notebook_pipeline.py"
suite = Suite("e2e", __doc__)


def read_manifest(out):
    with open(pathlib.Path(out) / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


class Work(GeneratedData):
    """Shared generated data, made once per session."""
    _cache = {}

    @classmethod
    def main_dataset(cls):
        # Every problem case, broken files, signed and unsigned, three shapes and planes.
        return cls.dataset("data", "--patients", "3", "--test-patients", "1", "--size", "256",
                           "--problems", "--broken", "--seed", "7")

    @classmethod
    def reference(cls, name, data, *opts):
        out = cls.tmp / name
        if not out.exists():
            run([PY, REFERENCE, data, out, "-q", *opts], expect=0)
        return out


def compare_checks(mine, ref):
    """compare_outputs' checks folded into one verdict with the worst volume named."""
    results = compare(str(mine), str(ref), 1e-5)
    failed = [f"{n}: {m}" for n, ok, m in results if not ok]
    volumes = [n for n, ok, m in results if n.startswith("volume:")]
    check(volumes, "no volumes compared")
    check(not failed, "; ".join(failed)[:3000])
    return len(volumes)


# ---- the main job on a generated dataset ---------------------------------------------

@suite.test
def volumes_match_notebook_reference():
    data = Work.main_dataset()
    out, _ = Work.mriprep_run("out_default", data, expect=3)  # the broken series fail
    ref = Work.reference("ref_default", data)
    n = compare_checks(out, ref)
    return f"{n} volumes within 1e-5 of the notebook pipeline"


@suite.test
def manifest_accounts_for_every_series():
    data = Work.main_dataset()
    out, _ = Work.mriprep_run("out_default", data, expect=3)
    rows = read_manifest(out)
    patients = [p for split in ("train", "test") for p in (data / split).iterdir() if p.is_dir()]
    check(len(rows) == 4 * len(patients), f"{len(rows)} rows for {len(patients)} patients x 4 modalities")
    # Rows in dataset order (train then test, patients by name, modalities as listed).
    keys = [(r["split"], r["id"], r["modality"]) for r in rows]
    want = [(split, p.name, m) for split in ("train", "test") for p in sorted((data / split).iterdir())
            if p.is_dir() for m in ("FLAIR", "T1w", "T1wCE", "T2w")]
    check(keys == want, f"rows out of dataset order: first difference at "
          f"{next((i for i, (a, b) in enumerate(zip(keys, want)) if a != b), len(keys))}")
    statuses = {r["status"] for r in rows}
    check(statuses == {"ok", "empty", "missing", "failed"}, f"statuses {statuses}")
    with open(out / "manifest.csv") as f:
        header = f.readline().strip()
    check(header == "split,id,modality,label,status,reason,files,kept,depth,src_rows,src_cols,mean,std,"
          "output,seconds,plane,order,geometry,augmented", f"header {header}")
    for r in rows:
        npy = out / r["output"] if r["output"] else None
        if r["status"] == "ok":
            check(npy and npy.is_file(), f"ok row without volume: {r}")
            vol = np.load(npy)
            check(vol.dtype == np.float32 and vol.ndim == 3 and vol.shape[:2] == (256, 256)
                  and vol.shape[2] == int(r["depth"]), f"{npy}: {vol.dtype} {vol.shape}")
            check(int(r["depth"]) == min(int(r["kept"]), 128), f"depth rule: {r}")
        else:
            check(not r["output"], f"non-ok row with output: {r}")
    return f"{len(rows)} rows"


@suite.test
def broken_files_fail_their_series_with_a_reason():
    data = Work.main_dataset()
    out, p = Work.mriprep_run("out_default", data, expect=3)
    failed = [r for r in read_manifest(out) if r["status"] == "failed"]
    reasons = " | ".join(r["reason"] for r in failed)
    check(len(failed) == 2, f"{len(failed)} failed rows: {reasons}")
    check(any("truncated pixel data (expected" in r["reason"] and ".dcm:" in r["reason"] for r in failed),
          f"no truncated reason naming the file: {reasons}")
    check(any("not a DICOM file" in r["reason"] for r in failed), f"no not-DICOM reason: {reasons}")
    check("failed" in p.stderr, "the log does not mention the failed series")
    return reasons


@suite.test
def blank_and_dark_series_are_empty_not_errors():
    data = Work.main_dataset()
    out, _ = Work.mriprep_run("out_default", data, expect=3)
    rows = read_manifest(out)
    empty = [r for r in rows if r["status"] == "empty" and int(r["files"]) > 0]
    check(any("blank" in r["reason"] for r in empty), f"no blank series reported: {empty}")
    check(any(int(r["kept"]) == 0 for r in empty), "empty rows should keep 0 slices")
    nodcm = [r for r in rows if r["status"] == "empty" and r["files"] == "0"]
    check(nodcm and all(r["reason"] == "no .dcm files" for r in nodcm), f"no-.dcm rows: {nodcm}")
    missing = [r for r in rows if r["status"] == "missing"]
    check(missing, "no missing row")
    return f"{len(empty)} empty after filtering, {len(nodcm)} without .dcm, {len(missing)} missing"


@suite.test
def run_json_has_options_totals_and_stage_times():
    data = Work.main_dataset()
    out, _ = Work.mriprep_run("out_default", data, expect=3)
    rj = json.loads((out / "run.json").read_text())
    for key in ("options", "versions", "device", "totals", "throughput", "stage_seconds", "labels", "elapsed_s"):
        check(key in rj, f"run.json lacks {key}")
    for stage in ("walk", "decode", "stats", "resize", "zscore", "write"):
        check(isinstance(rj["stage_seconds"].get(stage), float), f"stage {stage}: {rj['stage_seconds']}")
    rows = read_manifest(out)
    t = rj["totals"]
    check(t["series"] == len(rows) and t["ok"] == sum(r["status"] == "ok" for r in rows), f"totals {t}")
    check(t["files"] == sum(int(r["files"] or 0) for r in rows), f"files {t['files']}")
    # The generator writes one label row without images.
    check(rj["labels"]["labels_without_images"] == 1, f"labels {rj['labels']}")
    check(rj["device"] == "cpu", f"device {rj['device']}")
    return f"{t['files']} files, {rj['throughput']['files_per_s']:.0f} files/s"


@suite.test
def labels_come_from_the_csv_with_bom_crlf_and_quotes():
    data = Work.main_dataset()
    out, _ = Work.mriprep_run("out_default", data, expect=3)
    raw = (data / "train_labels.csv").read_bytes()
    check(raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b'"' in raw,
          "generator no longer writes BOM/CRLF/quotes: this test lost its point")
    labels = {}
    with open(data / "train_labels.csv", newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            labels[int(row["BraTS21ID"])] = row["MGMT_value"]
    for r in read_manifest(out):
        want = labels.get(int(r["id"]), "") if r["split"] == "train" else ""
        check(r["label"] == want, f"{r['split']}/{r['id']}: label {r['label']!r}, CSV says {want!r}")
    return f"{len(labels)} labels"


@suite.test
def threads_1_and_2_give_identical_bytes():
    data = Work.main_dataset()
    one, _ = Work.mriprep_run("out_t1", data, "--threads", "1", expect=3)
    two, _ = Work.mriprep_run("out_t2", data, "--threads", "2", expect=3)
    files = sorted(p.relative_to(one) for p in one.rglob("*.npy"))
    check(files, "no volumes written")
    check(files == sorted(p.relative_to(two) for p in two.rglob("*.npy")), "different file sets")
    for rel in files:
        check((one / rel).read_bytes() == (two / rel).read_bytes(), f"{rel} differs between 1 and 2 threads")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    check(strip(read_manifest(one)) == strip(read_manifest(two)), "manifests differ beyond the seconds column")
    return f"{len(files)} volumes byte-identical"


@suite.test
def readahead_off_and_default_give_identical_bytes_and_scans():
    """--readahead changes when files are read, never what comes out: run and scan
    (headers, and --pixels) with it off, small (2 MB: the window fills and waits) and
    default."""
    data = Work.main_dataset()
    outs = {}
    for ra in ("0", "2", "auto"):
        outs[ra], _ = Work.mriprep_run(f"out_readahead_{ra}", data, "--readahead", ra, expect=3)
    base = outs["0"]
    files = sorted(p.relative_to(base) for p in base.rglob("*.npy"))
    check(files, "no volumes written")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    for ra in ("2", "auto"):
        out = outs[ra]
        check(files == sorted(p.relative_to(out) for p in out.rglob("*.npy")), f"--readahead {ra}: other files")
        for rel in files:
            check((base / rel).read_bytes() == (out / rel).read_bytes(), f"{rel} differs with --readahead {ra}")
        check(strip(read_manifest(base)) == strip(read_manifest(out)), f"--readahead {ra}: manifests differ")
    rj = {ra: json.loads((outs[ra] / "run.json").read_text()) for ra in outs}
    check(rj["0"]["options"]["readahead"] == 0 and rj["auto"]["options"]["readahead"] == "auto",
          f"options.readahead: {rj['0']['options'].get('readahead')}, {rj['auto']['options'].get('readahead')}")
    ahead = rj["auto"]["readahead"]
    decoded = rj["auto"]["totals"]["files_decoded"]
    check(rj["0"]["readahead"]["files_issued"] == 0, f"--readahead 0 still read ahead: {rj['0']['readahead']}")
    # Every decoded file is read ahead, passed by the decoders, or skipped (the broken ones
    # the generator plants include files that are not there to open).
    dealt = ahead["files_issued"] + ahead["files_overtaken"] + ahead["files_skipped"]
    check(dealt == decoded and ahead["files_issued"] > 0, f"read-ahead {ahead} for {decoded} decoded files")
    check(rj["2"]["readahead"]["window_mb"] == 2, f"--readahead 2: {rj['2']['readahead']}")
    for pixels in ([], ["--pixels"]):
        reports = []
        for ra in ("0", "auto"):
            js = Work.tmp / f"scan_readahead_{ra}.json"
            run([MRIPREP, "scan", data, "-q", "--readahead", ra, "--json", js, *pixels], expect=0)
            rep = json.loads(js.read_text())
            rep["totals"].pop("files_per_s", None)
            rep["totals"].pop("elapsed_s", None)
            reports.append(rep)
        check(reports[0] == reports[1], f"scan {pixels}: the report differs with --readahead 0")
    for bad in ("-1", "1.5", "lots", "65537"):
        p = run([MRIPREP, "run", data, Work.tmp / "readahead_bad", "--readahead", bad])
        check(p.returncode == 1 and "--readahead" in p.stderr, f"--readahead {bad}: rc {p.returncode} {p.stderr}")
    return f"{len(files)} volumes identical with --readahead 0, 2 and auto; scan reports identical; {ahead}"


@suite.test
def options_size_slices_dark_margin_float16_dhw_exclude():
    data = Work.main_dataset()
    opts = ["--size", "96x64", "--slices", "16", "--dark", "0.05", "--margin", "3", "--dtype", "float16",
            "--layout", "dhw", "--modalities", "T1wCE,FLAIR", "--exclude", "3"]
    out, _ = Work.mriprep_run("out_opts", data, *opts, expect=3)
    ref = Work.reference("ref_opts", data, *opts)
    n = compare_checks(out, ref)
    rows = read_manifest(out)
    check({r["modality"] for r in rows} == {"T1wCE", "FLAIR"}, "modalities not honoured")
    check(any(r["status"] == "excluded" and int(r["id"]) == 3 for r in rows), "--exclude 3 did not exclude 00003")
    vol = np.load(next(out.rglob("*.npy")))
    check(vol.dtype == np.float16 and vol.shape[1:] == (64, 96) and vol.shape[0] <= 16, f"{vol.dtype} {vol.shape}")
    return f"{n} volumes match"


@suite.test
def flat_layout_without_train_and_test():
    src = Work.main_dataset()
    flat = Work.tmp / "flat"
    if not flat.exists():
        flat.mkdir()
        for patient in sorted((src / "train").iterdir())[:2]:
            shutil.copytree(patient, flat / patient.name)
    out, _ = Work.mriprep_run("out_flat", flat)
    rows = read_manifest(out)
    check(rows and all(r["split"] == "" for r in rows), "split should be empty in the flat layout")
    ok = [r for r in rows if r["status"] == "ok"]
    check(ok and all((out / r["output"]).is_file() and r["output"].count("/") == 1 for r in ok),
          f"outputs should be OUT/<id>/<modality>.npy: {[r['output'] for r in ok]}")
    ref = Work.reference("ref_flat", flat)
    n = compare_checks(out, ref)
    return f"{n} volumes"


# ---- real DICOM files written by others (pydicom's test files) -----------------------

def pydicom_file(name):
    import pydicom.data
    return pathlib.Path(pydicom.data.get_testdata_file(name))


@suite.test
def every_encoding_of_mr_small_gives_the_same_volume():
    import pydicom
    data = Work.tmp / "pydicom_data"
    if not data.exists():
        encodings = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
                     "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm",
                     "MR_small_jp2klossless.dcm"]
        series = {
            "FLAIR": encodings,                                  # every encoding mriprep decodes
            "T1w": ["MR_small.dcm"] * len(encodings),            # the plain file, as often
            "T1wCE": ["MR_small.dcm", "MR_small_jp2klossless.dcm"],
            "T2w": ["MR_small.dcm", "MR_truncated.dcm"],
        }
        for modality, names in series.items():
            folder = data / "00001" / modality
            folder.mkdir(parents=True)
            for i, name in enumerate(names, 1):
                # Each copy one slice further along (copies at one position are a 4D
                # series, which run refuses); the pixel data stays as encoded.
                ds = pydicom.dcmread(pydicom_file(name))
                ds.ImagePositionPatient = [float(v) for v in ds.ImagePositionPatient[:2]] + [5.0 * i]
                ds.save_as(folder / f"Image-{i}.dcm")
        # A JPEG 2000 file cut inside its codestream fails its series (T1wCE's second file).
        cut = data / "00001" / "T1wCE" / "Image-2.dcm"
        cut.write_bytes(cut.read_bytes()[:4000])
    out, _ = Work.mriprep_run("out_pydicom", data, "--size", "32", expect=3)
    rows = {r["modality"]: r for r in read_manifest(out)}
    check(rows["FLAIR"]["status"] == "ok" and rows["T1w"]["status"] == "ok", f"{rows}")
    a, b = np.load(out / "00001" / "FLAIR.npy"), np.load(out / "00001" / "T1w.npy")
    check(a.shape == b.shape == (32, 32, 8), f"shapes {a.shape} {b.shape}")
    check(a.tobytes() == b.tobytes(), "the encodings decode to different volumes")
    check(rows["T1wCE"]["status"] == "failed" and "Image-2.dcm: truncated" in rows["T1wCE"]["reason"],
          f"cut JPEG 2000 row: {rows['T1wCE']}")
    check(rows["T2w"]["status"] == "failed" and "Image-2.dcm: truncated" in rows["T2w"]["reason"],
          f"truncated row: {rows['T2w']}")
    # The notebook pipeline on the plain-file series is the oracle for the values.
    ref = Work.tmp / "ref_pydicom"
    if not ref.exists():
        run([PY, REFERENCE, data, ref, "-q", "--size", "32", "--modalities", "T1w"], expect=0)
    want = np.load(ref / "00001" / "T1w.npy")
    diff = float(np.max(np.abs(want - b)))
    check(diff <= 1e-5, f"max diff {diff} against the notebook pipeline")
    return f"8 encodings identical (JPEG 2000 included); max diff to notebook {diff:.2e}"


# ---- exit codes and what is (not) written --------------------------------------------

@suite.test
def exit_code_0_when_every_series_is_fine():
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out, p = Work.mriprep_run("out_clean", data, expect=0)
    check((out / "manifest.csv").is_file() and (out / "run.json").is_file(), "manifest or run.json missing")
    leftovers = [p.name for p in out.rglob("*") if ".tmp." in p.name or p.name.endswith(".partial")]
    check(not leftovers, f"temporary files left: {leftovers}")
    return p.stderr.strip().splitlines()[-1]


@suite.test
def exit_code_1_for_usage_errors():
    data = Work.main_dataset()
    cases = [[], ["run"], ["run", data], ["run", data, "x", "--size", "0"], ["run", data, "x", "--bogus"],
             ["run", data, "x", "--dtype", "float64"], ["run", data, "x", "--modalities", "../etc"],
             ["run", data, "x", "--device", "cuda"], ["frobnicate"]]
    for args in cases:
        p = run([MRIPREP, *args])
        check(p.returncode == 1, f"mriprep {' '.join(map(str, args))} exited {p.returncode}")
        check("error" in p.stderr or "usage" in p.stderr, f"no message for {args}: {p.stderr!r}")
    check(not (pathlib.Path.cwd() / "x").exists(), "a usage error wrote output")
    return f"{len(cases)} cases"


@suite.test
def a_missing_labels_file_is_exit_1_and_garbage_rows_are_warnings():
    data = Work.main_dataset()
    out = Work.tmp / "out_badlabels"
    p = run([MRIPREP, "run", data, out, "--labels", Work.tmp / "nonexistent.csv"])
    check(p.returncode == 1 and "nonexistent.csv" in p.stderr, f"rc {p.returncode}: {p.stderr}")
    check(not out.exists(), "output written despite a missing labels file")
    # Garbage lines never stop a run: each is a warning naming its line.
    garbage = Work.tmp / "garbage_labels.csv"
    garbage.write_text("BraTS21ID,MGMT_value\nabc,1\n00000,2\n00003,1,x\n00004\n00000,1\n")
    p = run([MRIPREP, "run", data, out, "--labels", garbage, "--progress", "none"], expect=3)
    for line in (":2:", ":3:", ":4:", ":5:"):
        check(f"garbage_labels.csv{line}" in p.stderr, f"no warning for line {line}: {p.stderr}")
    rows = read_manifest(out)
    check(all(r["label"] == ("1" if r["id"] == "00000" else "") for r in rows if r["split"] == "train"),
          "labels from the one good row only")
    empty = Work.tmp / "empty_labels.csv"
    empty.write_text("")
    p = run([MRIPREP, "run", data, Work.tmp / "out_emptylabels", "--labels", empty, "--progress", "none"], expect=3)
    check("no usable label rows" in p.stderr, f"no warning for an empty labels file: {p.stderr}")


@suite.test
def exit_code_2_when_no_series_is_found():
    empty = Work.tmp / "empty_data"
    empty.mkdir(exist_ok=True)
    p = run([MRIPREP, "run", empty, Work.tmp / "out_empty"])
    check(p.returncode == 2 and "no series" in p.stderr, f"empty DATA: rc {p.returncode} {p.stderr}")
    p = run([MRIPREP, "run", Work.tmp / "does_not_exist", Work.tmp / "out_none"])
    check(p.returncode == 2 and "does_not_exist" in p.stderr, f"missing DATA: rc {p.returncode} {p.stderr}")
    # Patients, but none has a requested modality folder.
    p = run([MRIPREP, "run", Work.main_dataset(), Work.tmp / "out_nomod", "--modalities", "DWI"])
    check(p.returncode == 2, f"no modality folders: rc {p.returncode}")


@suite.test
def exit_code_4_when_a_previous_runs_record_in_out_cannot_be_read():
    # OUT's run.json is what OUT holds, not DATA: unreadable (a folder in its place) or
    # not JSON, the run stops before writing, with 4 (it used to be 2, "no series").
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    seen = []
    for name, make in (("folder", lambda f: f.mkdir()), ("garbage", lambda f: f.write_text("{\"state\": "))):
        out = Work.tmp / f"out_badrecord_{name}"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        make(out / "run.json")
        p = run([MRIPREP, "run", data, out, "--progress", "none"])
        check(p.returncode == 4 and "run.json" in p.stderr, f"run.json as {name}: rc {p.returncode}: {p.stderr}")
        check(not (out / "manifest.csv").exists() and not (out / "train").exists(), f"{name}: the run wrote output")
        seen.append(p.stderr.strip().splitlines()[-1])
    return "; ".join(seen)


def readme_exit_table():
    """The rows of README's "## Exit codes" table: {code: meaning}, backticks removed."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].isdigit():
            rows[int(cells[0])] = cells[1].replace("`", "")
    return rows


@suite.test
def the_exit_code_table_in_the_program_is_the_readmes():
    p = run([MRIPREP, "--help"], expect=0)
    program = {}
    for line in p.stdout.split("\nexit codes:\n", 1)[1].splitlines():
        code, _, meaning = line.strip().partition("  ")
        if code.isdigit():
            program[int(code)] = meaning.strip()
    readme = readme_exit_table()
    check(program, "mriprep --help lists no exit codes")
    check(program == readme, f"--help: {program}\nREADME: {readme}")
    return f"{len(program)} codes: {sorted(program)}"


@suite.test
def scan_run_and_show_share_one_option_parser():
    """The drifts the three hand-written parsers had, one case each."""
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out = Work.tmp / "parser_scan.json"
    # --dark: a value that underflows (ERANGE) is refused by scan as by run.
    for cmd in (["scan", data, "-q"], ["run", data, Work.tmp / "parser_out", "--dry-run"]):
        p = run([MRIPREP, *cmd, "--dark", "1e-999"])
        check(p.returncode == 1 and "--dark" in p.stderr, f"{cmd[0]} --dark 1e-999: rc {p.returncode} {p.stderr}")
    # --size WxH takes an upper-case X in scan as in run; the estimate follows it.
    p = run([MRIPREP, "scan", data, "-q", "--size", "64X32", "--slices", "8", "--json", out], expect=0)
    est = json.loads(out.read_text())["totals"]["run_output_bytes"]["float32"]
    p = run([MRIPREP, "scan", data, "-q", "--size", "64x32", "--slices", "8", "--json", out], expect=0)
    check(json.loads(out.read_text())["totals"]["run_output_bytes"]["float32"] == est, "64X32 and 64x32 differ")
    # --modalities: a name twice, or more than 64, is refused by scan, run and show alike.
    many = ",".join(f"M{i}" for i in range(65))
    patient = next((data / "train").iterdir())
    for lst in ("FLAIR,FLAIR", many):
        for cmd in (["scan", data, "-q"], ["run", data, Work.tmp / "parser_out"],
                    ["show", patient, "--png", Work.tmp / "parser.png"]):
            p = run([MRIPREP, *cmd, "--modalities", lst])
            check(p.returncode == 1 and "--modalities" in p.stderr,
                  f"{cmd[0]} --modalities {lst[:20]}: rc {p.returncode} {p.stderr}")
    # An unknown option is named before any value is taken: DATA is not swallowed.
    p = run([MRIPREP, "scan", "--bogus", data])
    check(p.returncode == 1 and "unknown option '--bogus'" in p.stderr, f"scan --bogus: {p.returncode} {p.stderr}")
    # A switch given a value, and a command that takes no arguments.
    p = run([MRIPREP, "scan", data, "--pixels=1"])
    check(p.returncode == 1 and "takes no value" in p.stderr, f"--pixels=1: {p.returncode} {p.stderr}")
    p = run([MRIPREP, "devices", "--check-everything"])
    check(p.returncode == 1 and "unknown option" in p.stderr, f"devices --x: {p.returncode} {p.stderr}")
    check(not (Work.tmp / "parser_out").exists() and not (Work.tmp / "parser.png").exists(), "a refusal wrote output")
    return "dark, size, modalities (x2, 3 commands), unknown option, switch value, devices"


@suite.test
def exit_code_4_when_output_cannot_be_written():
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    blocker = Work.tmp / "a_file"
    blocker.write_text("not a folder")
    p = run([MRIPREP, "run", data, blocker / "out"])
    check(p.returncode == 4 and str(blocker) in p.stderr, f"rc {p.returncode}: {p.stderr}")
    # A volume's folder blocked by a file: the run stops with 4 and names the path.
    out = Work.tmp / "out_blocked"
    if out.exists():
        shutil.rmtree(out)
    (out / "train").mkdir(parents=True)
    first = sorted(p.name for p in (data / "train").iterdir())[0]
    (out / "train" / first).write_text("in the way")
    p = run([MRIPREP, "run", data, out])
    check(p.returncode == 4 and f"train/{first}" in p.stderr, f"rc {p.returncode}: {p.stderr}")
    return p.stderr.strip().splitlines()[-1]


@suite.test
def dry_run_writes_nothing():
    data = Work.main_dataset()
    out = Work.tmp / "out_dry"
    p = run([MRIPREP, "run", data, out, "--dry-run"], expect=0)
    check(not out.exists(), "--dry-run created OUT")
    check("would write" in p.stderr, f"dry run says nothing useful: {p.stderr}")


@suite.test
def rerun_into_the_same_out_gives_the_same_volumes():
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out, _ = Work.mriprep_run("out_rerun", data, expect=0)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npy")}
    run([MRIPREP, "run", data, out, "--progress", "none"], expect=0)
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npy")}
    check(first == second, "a rerun changed the volumes")
    leftovers = [p.name for p in out.rglob("*") if ".tmp." in p.name or p.name.endswith(".partial")]
    check(not leftovers, f"temporary files left: {leftovers}")


@suite.test
def a_closed_stderr_pipe_does_not_stop_the_run():
    # `mriprep run ... 2>&1 | head -1`: the reader goes away after the first line.
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out = Work.tmp / "out_pipe"
    p = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "-v", "--progress", "lines"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    p.stderr.readline()
    p.stderr.close()
    rc = p.wait(timeout=120)
    check(rc == 0, f"exited {rc} after its stderr closed")
    rows = read_manifest(out)
    check(len(rows) == 8 and all(r["status"] == "ok" for r in rows), f"manifest incomplete: {len(rows)} rows")


# ---- devices ---------------------------------------------------------------------------

def gpu_present():
    """(True, listing) when `mriprep devices` lists a CUDA device, else (False, why)."""
    p = run([MRIPREP, "devices"], expect=0)
    lines = [line for line in p.stdout.splitlines() if line.startswith("cuda:")]
    if lines and "no code for it" not in lines[0]:
        return True, lines[0]
    return False, (p.stdout.strip().splitlines() or ["?"])[-1]


@suite.test
def devices_command_lists_devices_or_says_none():
    p = run([MRIPREP, "devices"], expect=0)
    has, what = gpu_present()
    check(has or "no CUDA device" in p.stdout, f"neither a device nor 'no CUDA device': {p.stdout!r}")
    check("CUDA backend:" in p.stdout, p.stdout)
    return what


@suite.test
def device_auto_says_which_device_in_the_log_and_run_json():
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out, p = Work.mriprep_run("out_auto", data, "--device", "auto", expect=0)
    rj = json.loads((out / "run.json").read_text())
    has, _ = gpu_present()
    check(rj["device"] == ("cuda" if has else "cpu"), f"run.json device {rj['device']}")
    check(rj["device_reason"].startswith("--device auto"), f"device_reason {rj['device_reason']!r}")
    check(f"device: {rj['device']}" in p.stderr, f"the log does not say the device: {p.stderr}")
    dc = rj.get("device_check")
    if has:   # the self-check ran before the device computed, and passed (else the CPU would compute)
        check(dc and dc["ran"] and dc["passed"] and dc["cases"] >= 16 and dc["device"] == "cuda:0", f"device_check {dc}")
        check("device self-check: cuda:0 gave the CPU's bytes" in p.stderr, f"the log does not report the check: {p.stderr}")
    else:     # a CPU run pays nothing for it
        check(dc == {"ran": False}, f"device_check on a CPU run: {dc}")
    return f"{rj['device']}: {rj['device_reason']}"


@suite.test
def devices_check_runs_the_self_check_and_lists_its_cases():
    p = run([MRIPREP, "devices", "--check"])
    has, _ = gpu_present()
    check(p.returncode == 0, f"devices --check exited {p.returncode}: {p.stdout[-800:]}")
    cases = [line for line in p.stdout.splitlines() if re.match(r"\s+\d+  \S", line)]
    check(len(cases) >= 16 and any("512x512" in c for c in cases) and any("volumetric preset" in c for c in cases),
          f"the cases are not listed: {cases}")
    want = r"self-check cuda:0: passed, (\d+) cases" if has else r"self-check cpu: passed, (\d+) cases identical"
    m = re.search(want, p.stdout)
    check(m and int(m.group(1)) == len(cases), f"{want!r} not in: {p.stdout[-600:]}")
    if not has:
        check("no CUDA device to check" in p.stdout, p.stdout[-400:])
    return p.stdout.strip().splitlines()[-1]


@suite.test
def device_cuda_without_a_usable_gpu_fails_before_writing():
    has, _ = gpu_present()
    if has:
        raise Skip("a CUDA device is present: this checks machines without one")
    data = Work.dataset("clean", "--patients", "2", "--test-patients", "0", "--size", "64", "--seed", "3")
    out = Work.tmp / "out_cuda_none"
    for device in ("cuda", "cuda:0", "cuda:3"):
        p = run([MRIPREP, "run", data, out, "--device", device])
        check(p.returncode == 1, f"--device {device}: exit {p.returncode}")
        check("--device cuda:" in p.stderr, f"--device {device}: unclear message {p.stderr!r}")
        check(not out.exists(), f"--device {device} wrote {out}")
    return p.stderr.strip().splitlines()[-1]


@suite.test
def cuda_run_gives_the_cpu_bytes():
    has, why = gpu_present()
    if not has:
        raise Skip(f"no CUDA device ({why})")
    data = Work.main_dataset()
    for opts in ([], ["--size", "96x64", "--slices", "16", "--margin", "2", "--dtype", "float16", "--layout", "dhw"]):
        cpu, _ = Work.mriprep_run("out_cpu_dev", data, "--device", "cpu", *opts, expect=3)
        gpu, _ = Work.mriprep_run("out_gpu_dev", data, "--device", "cuda", *opts, expect=3)
        files = sorted(p.relative_to(cpu) for p in cpu.rglob("*.npy"))
        check(files and files == sorted(p.relative_to(gpu) for p in gpu.rglob("*.npy")), "different volumes written")
        for rel in files:
            check((cpu / rel).read_bytes() == (gpu / rel).read_bytes(), f"{rel} differs between cpu and cuda {opts}")
        strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
        check(strip(read_manifest(cpu)) == strip(read_manifest(gpu)), f"manifests differ {opts}")
    return f"{len(files)} volumes byte-identical"


@suite.test
def version_lists_features():
    p = run([MRIPREP, "--version"], expect=0)
    lines = p.stdout.splitlines()
    check(lines[0].startswith("mriprep "), lines[0])
    for feature in ("openmp:", "dcmtk:", "cuda:"):
        line = next((line for line in lines if line.startswith(feature)), None)
        check(line and (": yes (" in line or ": no (" in line), f"{feature} line: {line}")
    return " / ".join(lines[1:])


def setup_problem():
    return None if MRIPREP.is_file() else f"{MRIPREP} not built: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
