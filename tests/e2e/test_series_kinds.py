#!/usr/bin/env python3
"""Folders that are not one 3D volume: scan names them, run fails them with the reason.

    /usr/bin/python3 tests/e2e/test_series_kinds.py [--results FILE.json] [-k SUBSTRING]

Series written with pydicom from its MR_small.dcm, as scanners write them:
- a 4D series: 4 positions x 3 volumes (time points at the same positions, files in
  acquisition order), and one whose positions repeat unevenly;
- a Siemens mosaic: ImageType ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC and the private
  NumberOfImagesInMosaic (0019,100A) under the creator "SIEMENS MR HEADER";
- a multi-frame (enhanced) file: NumberOfFrames 2;
- Siemens-style file names (0001_<UID>.dcm) whose last number does not follow the
  acquisition, so the name order is neither InstanceNumber nor position order;
- an ordinary series beside them, which stays ok.
`scan` must report multiple_volumes ("4 positions x 3 volumes"), mosaic, multi_frame
(one problem per series, with counts) and name_order; `run`, with either preset, must fail those series
with that cause (the volumetric preset used to say only that a slice was some mm away
from even steps; the notebook preset stacked the time points into one "ok" volume).
"""
import copy
import csv
import json
import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import GeneratedData, Suite, check, run  # noqa: E402

MRIPREP = ROOT / "build" / "mriprep"
suite = Suite("series_kinds", __doc__)


class Work(GeneratedData):
    _cache = {}
    data = None


def mr_small():
    import pydicom
    import pydicom.data
    return pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))


def write_slices(folder, positions, edit=None, names=None):
    """One file per entry of `positions` (z in mm), Image-1.dcm.. (or names[i - 1]),
    InstanceNumber in file order; edit(ds, i) may change each dataset before it is
    saved."""
    base = mr_small()
    folder.mkdir(parents=True)
    for i, z in enumerate(positions, 1):
        ds = copy.deepcopy(base)
        ds.InstanceNumber = i
        ds.ImagePositionPatient = [-60.0, -60.0, float(z)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.9, 0.9]
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{hash((str(folder), i)) % 10**12}"
        if edit:
            edit(ds, i)
        ds.save_as(folder / (names[i - 1] if names else f"Image-{i}.dcm"))


def make_dataset():
    import numpy as np
    if Work.data:
        return Work.data
    root = Work.tmp / "kinds"
    shutil.rmtree(root, ignore_errors=True)
    t = root / "train"
    # 4 positions x 3 volumes, files in time order: z = 0, 5, 10, 15, 0, 5, ...
    write_slices(t / "00000" / "FLAIR", [5.0 * (i % 4) for i in range(12)])
    # positions repeat unevenly: 0, 5, 5, 10, 10, 10
    write_slices(t / "00000" / "T1w", [0, 5, 5, 10, 10, 10])

    def mosaic(ds, i):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
        ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
        ds.add_new(0x0019100A, "US", 36)
    write_slices(t / "00000" / "T1wCE", [0, 5], mosaic)

    def two_frames(ds, i):
        px = ds.pixel_array
        ds.NumberOfFrames = 2
        ds.PixelData = np.stack([px, px]).tobytes()
    write_slices(t / "00000" / "T2w", [0], two_frames)
    write_slices(t / "00001" / "FLAIR", [5.0 * i for i in range(6)])  # ordinary
    # Siemens names: the UID's last number sorts 3, 1, 5, 0, 4, 2 (acquisition order 0..5)
    uid_tail = [40, 20, 60, 10, 50, 30]
    write_slices(t / "00001" / "T1w", [5.0 * i for i in range(6)],
                 names=[f"0001_1.3.12.2.1107.5.2.43.67060.20220407152543651158{k}.dcm" for k in uid_tail])
    Work.data = root
    return root


def scan_problems(data):
    js = Work.tmp / "kinds_scan.json"
    run([MRIPREP, "scan", data, "-q", "--json", js], expect=0)
    problems = {}
    for p in json.loads(js.read_text())["problems"]:
        problems.setdefault(p["kind"], []).append(p)
    return problems


def manifest(out):
    with open(out / "manifest.csv", newline="") as f:
        return {(r["id"], r["modality"]): r for r in csv.DictReader(f)}


@suite.test
def scan_names_4d_mosaic_and_multi_frame_series():
    problems = scan_problems(make_dataset())
    vols = {p["series"]: p["detail"] for p in problems.get("multiple_volumes", [])}
    check(any("00000/FLAIR" in s and d.startswith("4 positions x 3 volumes (4D") for s, d in vols.items()),
          f"multiple_volumes: {vols}")
    check(any("00000/T1w" in s and "6 slices at 3 distinct positions" in d for s, d in vols.items()),
          f"uneven repeats: {vols}")
    check(not any("00001" in s for s in vols), f"an ordinary series named: {vols}")
    mosaic = problems.get("mosaic", [])
    check(len(mosaic) == 1 and "2 of 2 files are Siemens mosaics" in mosaic[0]["detail"]
          and "36 slices in each image" in mosaic[0]["detail"], f"mosaic: {mosaic}")
    order = {p["series"]: p["detail"] for p in problems.get("name_order", [])}
    check(list(order) == [s for s in order if "00001/T1w" in s] and len(order) == 1
          and "neither the InstanceNumber order nor the position order" in next(iter(order.values())),
          f"name_order: {order}")
    frames = problems.get("multi_frame", [])
    check(len(frames) == 1 and "1 of 1 files hold several frames" in frames[0]["detail"]
          and "up to 2 frames" in frames[0]["detail"], f"multi_frame: {frames}")
    unreadable = [p for p in problems.get("unreadable_file", []) if "T1wCE" in p["series"] or "T2w" in p["series"]]
    check(not unreadable, f"mosaic and multi-frame files listed as unreadable too: {unreadable}")
    return f"multiple_volumes: {sorted(vols.values())}; {mosaic[0]['detail']}; {frames[0]['detail']}"


@suite.test
def run_fails_them_with_the_cause_under_both_presets():
    data = make_dataset()
    reasons = {}
    for preset in ("notebook", "volumetric"):
        out = Work.tmp / f"kinds_run_{preset}"
        shutil.rmtree(out, ignore_errors=True)
        run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--preset", preset, "--format", "npy"], expect=3)
        rows = manifest(out)
        four_d = rows[("00000", "FLAIR")]
        check(four_d["status"] == "failed" and four_d["reason"].startswith("4 positions x 3 volumes (4D"),
              f"{preset}: 4D series: {four_d['status']} {four_d['reason']}")
        uneven = rows[("00000", "T1w")]
        check(uneven["status"] == "failed" and "3 distinct positions" in uneven["reason"],
              f"{preset}: uneven: {uneven['reason']}")
        mosaic = rows[("00000", "T1wCE")]
        check(mosaic["status"] == "failed" and "Siemens mosaic" in mosaic["reason"]
              and "Image-1.dcm" in mosaic["reason"], f"{preset}: mosaic: {mosaic['reason']}")
        frames = rows[("00000", "T2w")]
        check(frames["status"] == "failed" and "multi-frame" in frames["reason"], f"{preset}: {frames['reason']}")
        ok = rows[("00001", "FLAIR")]
        check(ok["status"] == "ok", f"{preset}: the ordinary series: {ok['status']} {ok['reason']}")
        named = rows[("00001", "T1w")]
        check(named["status"] == "ok" and named["order"] == ("position" if preset == "volumetric" else "name"),
              f"{preset}: Siemens names: {named['status']} order {named['order']}")
        check("even steps" not in four_d["reason"], f"{preset}: {four_d['reason']}")
        reasons[preset] = four_d["reason"]
    return reasons["volumetric"]


def setup_problem():
    return None if MRIPREP.exists() else f"{MRIPREP} is missing: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
