#!/usr/bin/env python3
"""JPEG 2000 against its oracle: pydicom with the pylibjpeg-openjpeg plugin (PyPI).

    /usr/bin/python3 tests/e2e/test_jpeg2000.py [--results FILE.json] [-k SUBSTRING]

Debian's pydicom has no JPEG 2000 decoder, so the oracle is PyPI's pydicom 3 with
pylibjpeg and pylibjpeg-openjpeg, installed with pip into build/j2k-oracle (cached), run by
the first Python with pip (the pyenv one here). Without PyPI the oracle tests skip, saying
why. For every JPEG 2000 file pydicom ships (lossless and lossy, a pixel representation
that disagrees with the codestream's, a colour one):
- `mriprep info FILE --npy` equals the oracle's pixel_array exactly where the oracle
  decodes a grayscale image; where it cannot (a corrupt codestream) mriprep fails with a
  reason naming the file; a colour file is refused ("samples per pixel");
- `mriprep run` over series of these files is ok for every grayscale one;
- a codestream cut short, and one whose SIZ declares a huge image, fail their series with
  a reason (checked without the oracle).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import GeneratedData, Skip, Suite, check, run  # noqa: E402

MRIPREP = ROOT / "build" / "mriprep"
ORACLE_DIR = ROOT / "build" / "j2k-oracle"
suite = Suite("jpeg2000", __doc__)

J2K_SYNTAXES = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
                "1.2.840.10008.1.2.4.93")

ORACLE_SCRIPT = r"""
import json, sys, warnings
import numpy as np
import pydicom
warnings.simplefilter("ignore")
out = {}
for path, npy in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        ds = pydicom.dcmread(path)
        a = ds.pixel_array
        np.save(npy, a)
        out[path] = {"ok": True, "shape": list(a.shape), "samples": int(ds.SamplesPerPixel)}
    except Exception as e:  # noqa: BLE001 - the oracle's own failure is a result
        out[path] = {"ok": False, "error": str(e)[:300]}
print(json.dumps(out))
"""


class Work(GeneratedData):
    _cache = {}
    oracle_python = None
    oracle_problem = None


def j2k_files():
    """pydicom's JPEG 2000 test files (Debian's pydicom ships them)."""
    import pydicom
    import pydicom.data
    folder = pathlib.Path(pydicom.data.get_testdata_file("MR_small.dcm")).parent
    found = []
    for p in sorted(folder.glob("*.dcm")):
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not ours to judge here
            continue
        if str(getattr(ds.file_meta, "TransferSyntaxUID", "")) in J2K_SYNTAXES:
            found.append(p)
    return found


def oracle():
    """(python, env) that runs the PyPI oracle; Skip when PyPI cannot be reached."""
    if Work.oracle_problem:
        raise Skip(Work.oracle_problem)
    if Work.oracle_python:
        return Work.oracle_python
    packages = ["pydicom>=3,<4", "pylibjpeg>=2,<3", "pylibjpeg-openjpeg>=2.3,<3", "numpy"]
    pythons = [p for p in (shutil.which("python3"), sys.executable) if p and os.path.realpath(p) != "/usr/bin/python3"]
    errors = []
    for py in pythons:
        target = ORACLE_DIR / pathlib.Path(os.path.realpath(py)).parent.parent.name
        env = dict(os.environ, PYTHONPATH=str(target), PYTHONNOUSERSITE="1")
        probe = subprocess.run([py, "-c", "import pydicom, openjpeg, numpy"], env=env, capture_output=True)
        if probe.returncode != 0:
            p = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
                                str(target), *packages], capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                errors.append(f"{py}: {p.stderr.strip()[-300:]}")
                continue
        Work.oracle_python = (py, env)
        return Work.oracle_python
    Work.oracle_problem = "cannot install pydicom + pylibjpeg-openjpeg from PyPI (" + (
        "; ".join(errors) or "no Python with pip besides Debian's") + ")"
    raise Skip(Work.oracle_problem)


@suite.test
def every_pydicom_jpeg2000_file_decodes_as_the_oracle_does():
    import numpy as np
    files = j2k_files()
    check(len(files) >= 4, f"pydicom ships {len(files)} JPEG 2000 files")
    py, env = oracle()
    work = Work.tmp / "j2k"
    work.mkdir(exist_ok=True)
    args = []
    for f in files:
        args += [str(f), str(work / f"{f.stem}.oracle.npy")]
    p = subprocess.run([py, "-c", ORACLE_SCRIPT, *args], env=env, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"oracle: {p.stderr[-500:]}")
    said = json.loads(p.stdout)
    equal, refused = [], []
    for f in files:
        o = said[str(f)]
        ours = work / f"{f.stem}.mriprep.npy"
        q = run([MRIPREP, "info", f, "--npy", ours])
        if o["ok"] and o["samples"] == 1:
            check(q.returncode == 0, f"{f.name}: the oracle decodes it, mriprep says {q.stderr.strip()}")
            want, got = np.load(work / f"{f.stem}.oracle.npy"), np.load(ours)
            check(want.shape == got.shape, f"{f.name}: shape {got.shape}, oracle {want.shape}")
            diff = int(np.max(np.abs(want.astype(np.int64) - got.astype(np.int64))))
            check(diff == 0, f"{f.name}: max difference {diff} from the oracle")
            equal.append(f.name)
        else:
            why = "samples per pixel" if o["ok"] else ""
            check(q.returncode == 3 and f.name in q.stderr and why in q.stderr,
                  f"{f.name}: oracle {o}; mriprep rc {q.returncode}: {q.stderr.strip()}")
            refused.append(f"{f.name} ({q.stderr.strip().split(': ', 2)[-1][:60]})")
    check(len(equal) >= 4, f"only {equal} compared")
    return f"identical to pydicom + pylibjpeg-openjpeg: {', '.join(equal)}; refused as the oracle: {refused}"


@suite.test
def a_run_over_jpeg2000_series_is_ok_and_broken_streams_fail_with_a_reason():
    import pydicom
    files = j2k_files()
    data = Work.tmp / "j2k_data"
    shutil.rmtree(data, ignore_errors=True)
    grayscale = []
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if int(getattr(ds, "SamplesPerPixel", 1)) != 1 or "delimiter" in f.name:
            continue
        folder = data / f"{i:05d}" / "FLAIR"
        folder.mkdir(parents=True)
        shutil.copy(f, folder / "Image-1.dcm")
        grayscale.append(f.name)
    source = next(f for f in files if f.name == "MR_small_jp2klossless.dcm").read_bytes()
    broken = data / "99999" / "FLAIR"
    broken.mkdir(parents=True)
    (broken / "Image-1.dcm").write_bytes(source[: len(source) * 3 // 4])
    huge = bytearray(source)
    siz = huge.find(b"\xff\x4f\xff\x51")
    huge[siz + 8:siz + 16] = b"\x7f\xff\xff\xff\x7f\xff\xff\xff"
    huger = data / "99998" / "FLAIR"
    huger.mkdir(parents=True)
    (huger / "Image-1.dcm").write_bytes(bytes(huge))
    out = Work.tmp / "j2k_out"
    shutil.rmtree(out, ignore_errors=True)
    run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--modalities", "FLAIR", "--size", "64"], expect=3)
    import csv
    with open(out / "manifest.csv", newline="") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    ok = [pid for pid, r in rows.items() if r["status"] == "ok"]
    check(len(ok) == len(grayscale), f"{len(ok)} ok of {len(grayscale)} grayscale J2K series: {rows}")
    check(rows["99999"]["status"] == "failed" and "truncated" in rows["99999"]["reason"], f"cut: {rows['99999']}")
    check(rows["99998"]["status"] == "failed" and "JPEG 2000 header" in rows["99998"]["reason"],
          f"huge SIZ: {rows['99998']}")
    return f"{len(ok)} series ok ({', '.join(grayscale)}); cut: truncated; huge SIZ: {rows['99998']['reason'][:80]}"


def setup_problem():
    return None if MRIPREP.exists() else f"{MRIPREP} is missing: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
