#!/usr/bin/env python3
"""Real scanners' files, written by others (tests/real_files/, README.md there says where
each comes from and under which licence).

    /usr/bin/python3 tests/e2e/test_real_files.py [--results FILE.json] [-k SUBSTRING]

- dcm_qa_ts: one Siemens (Trio, VB17) EPI mosaic saved in 9 transfer syntaxes by gdcm and
  dcmtk (explicit/implicit little endian, big endian, RLE, JPEG lossless, JPEG-LS, JPEG
  2000). The image data is the same in all nine, so `info --npy` must give one array for
  all of them; Debian's pydicom decodes the uncompressed and RLE ones and must agree, and
  the JPEG 2000 one must equal the PyPI oracle (pydicom 3 + pylibjpeg-openjpeg) where
  PyPI is reachable. `scan` must name each as a mosaic of 35 slices and count every
  syntax; `run` must fail each with the mosaic reason.
- dcm_qa_nih, GE DISCOVERY MR750 fMRI: 150 files, 15 positions x 10 time points, not a
  mosaic. `scan` names multiple_volumes "15 positions x 10 volumes"; `run` fails it with
  that cause under both presets.
- HTJ2K (JPEG 2000 Part 15, 1.2.840.10008.1.2.4.202) of two NEMA MR images, and one of
  them as the fuzzer changed it into a stream on which OpenJPEG 2.5.0's HTJ2K decoder
  aborts the process (an assertion in ht_dec.c): `info` names the syntax, `scan` counts
  it as not decodable, and `run` fails each series with the reason and finishes (the
  files are never handed to that decoder). Renamed to a UID nobody knows, `scan` counts
  it as not decodable and `run` refuses it by that UID (a deflated file likewise).
"""
import csv
import json
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from testlib import GeneratedData, Suite, check, run  # noqa: E402
import test_jpeg2000  # noqa: E402  (its PyPI oracle: pydicom 3 + pylibjpeg-openjpeg)

MRIPREP = ROOT / "build" / "mriprep"
REAL = ROOT / "tests" / "real_files"
TS = REAL / "dcm_qa_ts"
GE_FMRI = REAL / "dcm_qa_nih_ge_fmri"
HTJ2K = REAL / "htj2k"
suite = Suite("real_files", __doc__)

SYNTAX_OF = {  # dcm_qa_ts's files, as their File Meta Information says
    1: "1.2.840.10008.1.2.1", 2: "1.2.840.10008.1.2", 3: "1.2.840.10008.1.2.2", 4: "1.2.840.10008.1.2.5",
    5: "1.2.840.10008.1.2.4.70", 6: "1.2.840.10008.1.2.4.70", 7: "1.2.840.10008.1.2.4.80",
    8: "1.2.840.10008.1.2.4.80", 9: "1.2.840.10008.1.2.4.90",
}


class Work(GeneratedData):
    _cache = {}
    data = None


def stored_values(path, name):
    import numpy as np
    out = Work.tmp / f"{name}.npy"
    run([MRIPREP, "info", path, "--npy", out], expect=0)
    return np.load(out)


def oracle_arrays(files):
    """{file: array} from the PyPI oracle (Skip without PyPI)."""
    import numpy as np
    py, env = test_jpeg2000.oracle()
    args = []
    for f in files:
        args += [str(f), str(Work.tmp / f"{f.stem}.oracle.npy")]
    p = subprocess.run([py, "-c", test_jpeg2000.ORACLE_SCRIPT, *args], env=env, capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 0, f"oracle: {p.stderr[-500:]}")
    said = json.loads(p.stdout)
    for f in files:
        check(said[str(f)]["ok"], f"the oracle cannot decode {f.name}: {said[str(f)]}")
    return {f: np.load(Work.tmp / f"{f.stem}.oracle.npy") for f in files}


def make_dataset():
    """train/0000K/FLAIR/K.dcm for dcm_qa_ts's nine files, train/00010/FLAIR the GE fMRI,
    train/00011 and 00012 the HTJ2K images (one slice each)."""
    if Work.data:
        return Work.data
    data = Work.tmp / "real"
    for k in range(1, 10):
        folder = data / "train" / f"{k:05d}" / "FLAIR"
        folder.mkdir(parents=True)
        shutil.copy(TS / f"{k}.dcm", folder)
    shutil.copytree(GE_FMRI, data / "train" / "00010" / "FLAIR", ignore=shutil.ignore_patterns("LICENSE"))
    for pid, name in (("00011", "MR3_JPH.dcm"), ("00012", "MR4_JPH.dcm")):
        folder = data / "train" / pid / "FLAIR"
        folder.mkdir(parents=True)
        shutil.copy(HTJ2K / name, folder / "Image-1.dcm")
    Work.data = data
    return data


def manifest(out):
    with open(out / "manifest.csv", newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


@suite.test
def one_real_image_in_nine_transfer_syntaxes_decodes_to_one_array():
    import numpy as np
    import pydicom
    arrays = {k: stored_values(TS / f"{k}.dcm", f"ts{k}") for k in SYNTAX_OF}
    first = arrays[1]
    check(first.shape == (384, 384) and first.dtype == np.uint16 and int(first.max()) > 1000,
          f"1.dcm: {first.shape} {first.dtype} max {first.max()}")
    differ = [k for k, a in arrays.items() if a.shape != first.shape or not np.array_equal(a, first)]
    check(not differ, f"files {differ} decode to values other than 1.dcm's")
    for k in (1, 2, 3, 4):  # what Debian's pydicom decodes by itself
        ds = pydicom.dcmread(TS / f"{k}.dcm")
        check(str(ds.file_meta.TransferSyntaxUID) == SYNTAX_OF[k], f"{k}.dcm is {ds.file_meta.TransferSyntaxUID}")
        check(np.array_equal(ds.pixel_array, arrays[k]), f"{k}.dcm differs from pydicom")
    return "9 syntaxes (gdcm and dcmtk encoders) give one array; pydicom agrees on 4 of them"


@suite.test
def the_real_jpeg2000_file_decodes_as_the_oracle_does():
    import numpy as np
    want = oracle_arrays([TS / "9.dcm"])[TS / "9.dcm"]
    got = stored_values(TS / "9.dcm", "ts9")
    check(np.array_equal(want, got), f"9.dcm: max difference {np.max(np.abs(want.astype(int) - got.astype(int)))}")
    return "gdcm's JPEG 2000 of a Siemens mosaic equals pydicom + pylibjpeg-openjpeg"


@suite.test
def htj2k_is_named_and_refused_without_reaching_its_decoder():
    files = sorted(HTJ2K.glob("*.dcm"))
    check(len(files) == 3, f"{files}")
    for f in files:
        p = run([MRIPREP, "info", f, "--json"], expect=3)
        info = json.loads(p.stdout)
        check(info["transfer_syntax"] == "1.2.840.10008.1.2.4.202" and "HTJ2K" in info["transfer_syntax_name"],
              f"{f.name}: {info['transfer_syntax']} {info['transfer_syntax_name']}")
        check("is not decoded" in info["error"] and f.name in info["error"], f"{f.name}: {info['error']}")
    data = Work.tmp / "htj2k"
    shutil.rmtree(data, ignore_errors=True)
    for k, f in enumerate(files, 1):
        folder = data / "train" / f"{k:05d}" / "FLAIR"
        folder.mkdir(parents=True)
        shutil.copy(f, folder / "Image-1.dcm")
    out = Work.tmp / "htj2k_out"
    p = run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--modalities", "FLAIR"], expect=3)
    rows = manifest(out)
    check(len(rows) == 3 and all(r["status"] == "failed" and "HTJ2K" in r["reason"] for r in rows.values()),
          f"{rows}")
    return f"{len(files)} files named HTJ2K and refused, the fuzzed one too: {rows['00001']['reason'][:90]}"


@suite.test
def scan_names_the_mosaics_and_the_4d_series_and_counts_every_syntax():
    data = make_dataset()
    js = Work.tmp / "scan.json"
    run([MRIPREP, "scan", data, "--json", js, "-q"], expect=0)
    report = json.loads(js.read_text())
    problems = {}
    for p in report["problems"]:
        problems.setdefault(p["kind"], {})[p["series"]] = p["detail"]
    mosaics = problems.get("mosaic", {})
    check(sorted(mosaics) == [f"train/{k:05d}/FLAIR" for k in range(1, 10)], f"mosaic: {sorted(mosaics)}")
    check(all("1 of 1 files are Siemens mosaics" in d and "35 slices in each image" in d for d in mosaics.values()),
          f"mosaic details: {mosaics}")
    four_d = problems.get("multiple_volumes", {})
    check(list(four_d) == ["train/00010/FLAIR"] and four_d["train/00010/FLAIR"].startswith(
        "15 positions x 10 volumes (4D"), f"multiple_volumes: {four_d}")
    unreadable = problems.get("unreadable_file", {})
    check(sorted(unreadable) == ["train/00011/FLAIR", "train/00012/FLAIR"]
          and all("HTJ2K" in d and "not decoded" in d for d in unreadable.values()),
          f"unreadable (only the HTJ2K files, with the reason): {unreadable}")
    syntaxes = report["transfer_syntaxes"]
    want = {}
    for k, uid in SYNTAX_OF.items():
        want[uid] = want.get(uid, 0) + 1
    want["1.2.840.10008.1.2.1"] += 1        # the GE series
    want["1.2.840.10008.1.2.4.202"] = 2     # the HTJ2K series
    got = {uid: s["series"] for uid, s in syntaxes.items()}
    check(got == want, f"syntax table {got}, expected {want}")
    check(all(s["decodable"] == (uid != "1.2.840.10008.1.2.4.202") for uid, s in syntaxes.items()), f"{syntaxes}")
    return f"9 mosaics; {four_d['train/00010/FLAIR'][:40]}...; {len(got)} syntaxes counted"


@suite.test
def run_fails_the_real_4d_series_and_the_mosaics_with_their_cause():
    data = make_dataset()
    for preset in ("notebook", "volumetric"):
        out = Work.tmp / f"run_{preset}"
        shutil.rmtree(out, ignore_errors=True)
        run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--preset", preset, "--format", "npy",
             "--modalities", "FLAIR"], expect=3)
        rows = manifest(out)
        ge = rows["00010"]
        check(ge["status"] == "failed" and ge["reason"].startswith("15 positions x 10 volumes (4D"),
              f"{preset}: GE fMRI: {ge['status']} {ge['reason']}")
        for k in range(1, 10):
            r = rows[f"{k:05d}"]
            check(r["status"] == "failed" and "Siemens mosaic" in r["reason"] and f"{k}.dcm" in r["reason"],
                  f"{preset}: {k}.dcm: {r['status']} {r['reason']}")
        for pid in ("00011", "00012"):
            check(rows[pid]["status"] == "failed" and "HTJ2K" in rows[pid]["reason"],
                  f"HTJ2K series {pid}: {rows[pid]['status']} {rows[pid]['reason']}")
    return "GE fMRI: 15 positions x 10 volumes (4D) under both presets; 9 mosaics failed naming the file"


@suite.test
def an_unknown_transfer_syntax_is_counted_and_refused_by_name():
    source = (HTJ2K / "MR4_JPH.dcm").read_bytes()
    check(source.count(b"1.2.840.10008.1.2.4.202") == 1, "MR4_JPH.dcm names its syntax once")
    data = Work.tmp / "unknown"
    shutil.rmtree(data, ignore_errors=True)
    folder = data / "train" / "00001" / "FLAIR"
    folder.mkdir(parents=True)
    (folder / "Image-1.dcm").write_bytes(source.replace(b"1.2.840.10008.1.2.4.202", b"1.2.840.10008.1.2.4.299"))
    # and a deflated file (refused unread: a deflate bomb would be inflated whole)
    import pydicom
    import pydicom.data
    from pydicom.uid import DeflatedExplicitVRLittleEndian
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    deflated = data / "train" / "00002" / "FLAIR"
    deflated.mkdir(parents=True)
    ds.save_as(str(deflated / "Image-1.dcm"), write_like_original=False)
    js = Work.tmp / "unknown.json"
    run([MRIPREP, "scan", data, "--json", js, "-q"], expect=0)
    syntaxes = json.loads(js.read_text())["transfer_syntaxes"]
    check(syntaxes.get("1.2.840.10008.1.2.4.299", {}).get("decodable") is False,
          f"the syntax table: {syntaxes} (dcmtk alone calls it explicit VR little endian)")
    check(syntaxes.get("1.2.840.10008.1.2.1.99", {}).get("decodable") is False and len(syntaxes) == 2,
          f"the syntax table: {syntaxes} (the deflated file)")
    out = Work.tmp / "unknown_out"
    run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--modalities", "FLAIR"], expect=3)
    rows = manifest(out)
    reason = rows["00001"]["reason"]
    check("Image-1.dcm" in reason and "transfer syntax 1.2.840.10008.1.2.4.299 is not supported" in reason, reason)
    check("Deflated" in rows["00002"]["reason"], rows["00002"]["reason"])
    return f"{reason}; {rows['00002']['reason']}"


def setup_problem():
    if not MRIPREP.exists():
        return f"{MRIPREP} is missing: run make first"
    return None if TS.is_dir() else f"{TS} is missing"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
