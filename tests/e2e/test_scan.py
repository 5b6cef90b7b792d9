#!/usr/bin/env python3
"""End-to-end tests of `mriprep scan` and `mriprep info`.

Run with /usr/bin/python3. A dataset from scripts/make_dataset.py (--problems --broken)
gets more defects planted here with pydicom - mixed shapes and planes in a series, a
duplicated InstanceNumber, a train patient with no label row - and scan must report
every one of them by kind and series. The oracle for counts (patients, labels, slices,
shapes, planes) is an independent walk with pydicom; for `info` it is pydicom reading
pydicom's own test files.

    /usr/bin/python3 tests/e2e/test_scan.py [--results FILE.json] [-k SUBSTRING]
"""
import collections
import csv
import json
import pathlib
import shutil
import statistics
import sys

import numpy as np
import pydicom
import pydicom.data

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import Suite, check, run  # noqa: E402
PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
MODALITIES = ["FLAIR", "T1w", "T1wCE", "T2w"]
suite = Suite("scan", __doc__)


class Data:
    tmp = None
    root = None
    planted = {}   # kind -> series it was planted in
    _scan = {}

    @classmethod
    def make(cls):
        if cls.root:
            return cls.root
        root = cls.tmp / "data"
        run([PY, ROOT / "scripts" / "make_dataset.py", root, "--patients", "4", "--test-patients", "1",
             "--size", "128", "--problems", "--broken", "--seed", "11"], expect=0)
        train = root / "train"
        normal = sorted(p for p in train.iterdir() if p.is_dir())[:4]
        # mixed shapes: a file of another shape (and another series) dropped into a series
        target, donor = normal[0] / "FLAIR", None
        shape = pydicom.dcmread(next(target.glob("*.dcm"))).pixel_array.shape
        for p in normal:
            for m in MODALITIES:
                f = next((p / m).glob("*.dcm"), None) if (p / m).is_dir() else None
                if f and pydicom.dcmread(f).pixel_array.shape != shape:
                    donor = f
                    break
            if donor:
                break
        check(donor is not None, "the generator made no second shape: cannot plant mixed_shapes")
        shutil.copy(donor, target / "Image-9000.dcm")
        cls.planted["mixed_shapes"] = f"train/{normal[0].name}/FLAIR"
        # mixed planes: one file of a series turned to another orientation
        series = normal[1] / "T1w"
        f = sorted(series.glob("*.dcm"))[3]
        ds = pydicom.dcmread(f)
        o = [float(v) for v in ds.ImageOrientationPatient]
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1] if o[:3] != [0, 1, 0] else [1, 0, 0, 0, 1, 0]
        ds.save_as(f)
        cls.planted["mixed_planes"] = f"train/{normal[1].name}/T1w"
        # duplicate InstanceNumber
        series = normal[2] / "T2w"
        files = sorted(series.glob("*.dcm"))
        first = pydicom.dcmread(files[0]).InstanceNumber
        ds = pydicom.dcmread(files[1])
        ds.InstanceNumber = first
        ds.save_as(files[1])
        cls.planted["duplicate_instance"] = f"train/{normal[2].name}/T2w"
        # a train patient without a label row
        labels = root / "train_labels.csv"
        text = labels.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").splitlines()
        removed = normal[3].name
        kept = [line for line in text if not line.replace('"', "").startswith(removed + ",")]
        check(len(kept) == len(text) - 1, f"could not remove the label row of {removed}")
        labels.write_text("\n".join(kept) + "\n")
        cls.planted["images_without_label"] = f"train/{removed}"
        cls.root = root
        return root

    @classmethod
    def scan(cls, *opts):
        key = tuple(opts)
        if key not in cls._scan:
            out = cls.tmp / f"scan{len(cls._scan)}.json"
            csv_path = cls.tmp / f"scan{len(cls._scan)}.csv"
            p = run([MRIPREP, "scan", cls.make(), "--json", out, "--csv", csv_path, *opts], expect=0)
            cls._scan[key] = (json.loads(out.read_text()), csv_path, p.stdout)
        return cls._scan[key]


def problems_by_kind(report):
    kinds = collections.defaultdict(list)
    for p in report["problems"]:
        kinds[p["kind"]].append(p)
    return kinds


@suite.test
def every_planted_problem_is_reported_with_its_series():
    report, _, _ = Data.scan("--pixels")
    kinds = problems_by_kind(report)
    root = Data.root
    for kind, series in Data.planted.items():
        check(any(p["series"] == series for p in kinds[kind]), f"{kind} in {series} not reported: {kinds[kind]}")
    # what make_dataset.py --problems --broken plants
    expected = {"missing_modality", "empty_series", "blank_series", "unreadable_file", "not_dicom", "non_dcm_file",
                "label_without_images", "missing_instance"}
    for kind in expected:
        check(kinds[kind], f"no {kind} reported; kinds found: {sorted(kinds)}")
    truncated = [p for p in kinds["unreadable_file"] if "truncated" in p["detail"]]
    check(truncated and truncated[0]["file"].endswith(".dcm"), f"truncated file not named: {kinds['unreadable_file']}")
    check(any(p["file"] in (".DS_Store", "README.txt", "notes.txt") for p in kinds["non_dcm_file"]),
          f"non-dcm files not named: {kinds['non_dcm_file']}")
    # missing modality folders, cross-checked against the tree itself
    missing = {f"train/{p.name}/{m}" for p in (root / "train").iterdir() if p.is_dir() for m in MODALITIES
               if not (p / m).is_dir()}
    check(missing == {p["series"] for p in kinds["missing_modality"]}, f"missing folders {missing}")
    for p in report["problems"]:
        check(set(p) == {"kind", "series", "file", "detail"}, f"problem keys {sorted(p)}")
    return f"{len(report['problems'])} problems, kinds {sorted(kinds)}"


@suite.test
def json_keys_are_the_documented_ones():
    report, _, _ = Data.scan("--pixels")
    top = {"tool", "version", "command", "data", "patients", "labels", "modalities", "shapes", "planes",
           "pixel_representation", "transfer_syntaxes", "problems", "totals", "intensity"}
    check(set(report) == top, f"top-level keys {sorted(report)}")
    check(set(report["labels"]) == {"file", "counts", "percent", "images_without_label", "labels_without_images"},
          f"labels keys {sorted(report['labels'])}")
    for m in MODALITIES:
        check(set(report["modalities"][m]) == {"series", "min", "median", "max", "histogram"},
              f"{m}: {sorted(report['modalities'][m])}")
        h = report["modalities"][m]["histogram"]
        check(len(h["edges"]) == len(h["counts"]) + 1, f"{m} histogram shape")
        check(set(report["intensity"][m]) == {"edges", "counts", "zeros", "negative", "above", "slices",
                                               "blank_slices", "dark_slices"}, f"intensity {m}")
    check(set(report["planes"]) == {"axial", "sagittal", "coronal", "oblique", "unknown"}, "planes keys")
    check(set(report["pixel_representation"]) == {"unsigned", "signed"}, "pixel_representation keys")
    check({"series", "files", "non_dcm_files", "bytes", "elapsed_s", "files_per_s", "run_output_bytes"}
          <= set(report["totals"]), f"totals {sorted(report['totals'])}")
    headers_only, _, _ = Data.scan()
    check("intensity" not in headers_only, "intensity without --pixels")


@suite.test
def counts_match_an_independent_pydicom_walk():
    report, csv_path, _ = Data.scan()
    root = Data.root
    slices = collections.defaultdict(list)
    shapes, planes, signed = collections.Counter(), collections.Counter(), collections.Counter()
    patients = collections.Counter()
    for split in ("train", "test"):
        for p in sorted(q for q in (root / split).iterdir() if q.is_dir()):
            patients[split] += 1
            for m in MODALITIES:
                files = [f for f in (p / m).glob("*") if f.suffix.lower() == ".dcm"] if (p / m).is_dir() else []
                if not files:
                    continue
                slices[m].append(len(files))
                series_shapes, series_planes, series_signed = set(), set(), set()
                for f in files:
                    try:
                        ds = pydicom.dcmread(f, stop_before_pixels=True)
                        series_shapes.add(f"{ds.Rows}x{ds.Columns}")
                        o = np.array([float(v) for v in ds.ImageOrientationPatient])
                        n = np.abs(np.cross(o[:3], o[3:]))
                        series_planes.add(["sagittal", "coronal", "axial"][int(np.argmax(n))])
                        series_signed.add("signed" if ds.PixelRepresentation else "unsigned")
                    except Exception:
                        pass  # unreadable: counted as a problem, not in the shapes
                shapes.update(series_shapes)
                planes.update(series_planes)
                signed.update(series_signed)
    check(report["patients"]["train"] == patients["train"] and report["patients"]["test"] == patients["test"],
          f"patients {report['patients']} vs {dict(patients)}")
    for m in MODALITIES:
        got = report["modalities"][m]
        want = slices[m]
        check(got["series"] == len(want) and got["min"] == min(want) and got["max"] == max(want)
              and got["median"] == statistics.median(want), f"{m}: {got} vs {sorted(want)}")
        check(sum(got["histogram"]["counts"]) == len(want), f"{m} histogram counts")
    check(report["shapes"] == dict(shapes), f"shapes {report['shapes']} vs {dict(shapes)}")
    check({k: v for k, v in report["planes"].items() if v} == dict(planes), f"planes {report['planes']} vs {planes}")
    check(report["pixel_representation"] == {"unsigned": signed["unsigned"], "signed": signed["signed"]},
          f"pixel representation {report['pixel_representation']} vs {signed}")
    rows = list(csv.DictReader(open(csv_path)))
    check(len(rows) == 4 * (patients["train"] + patients["test"]), f"{len(rows)} CSV rows")
    return f"{sum(len(v) for v in slices.values())} series cross-checked"


@suite.test
def labels_balance_matches_the_csv():
    report, _, stdout = Data.scan()
    root = Data.root
    rows = {}
    with open(root / "train_labels.csv", newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            rows[int(row["BraTS21ID"])] = row["MGMT_value"]
    folders = {int(p.name) for p in (root / "train").iterdir() if p.is_dir()}
    want = collections.Counter(v for k, v in rows.items() if k in folders)
    check(report["labels"]["counts"] == dict(want), f"label counts {report['labels']['counts']} vs {dict(want)}")
    check(report["labels"]["labels_without_images"] == len(set(rows) - folders), "labels without images")
    check(report["labels"]["images_without_label"] == len(folders - set(rows)), "images without label")
    check("labels" in stdout and "%" in stdout, "the summary shows no label balance")


@suite.test
def pixels_count_blank_and_dark_slices_like_the_notebook_rule():
    report, _, _ = Data.scan("--pixels")
    root = Data.root
    for m in MODALITIES:
        blank = dark = slices = 0
        for f in root.glob(f"*/*/{m}/*"):
            if f.suffix.lower() != ".dcm":
                continue
            try:
                x = pydicom.dcmread(f).pixel_array.astype(np.float32)
            except Exception:
                continue
            slices += 1
            if x.max() == x.min():
                blank += 1
                continue
            v = (x - x.min()) / (x.max() - x.min())
            rr = np.flatnonzero((v > 0).any(axis=1))
            cc = np.flatnonzero((v > 0).any(axis=0))
            dark += v[rr[0]:rr[-1] + 1, cc[0]:cc[-1] + 1].astype(np.float64).mean() < 0.01
        got = report["intensity"][m]
        check((got["slices"], got["blank_slices"], got["dark_slices"]) == (slices, blank, dark),
              f"{m}: {got['slices']}/{got['blank_slices']}/{got['dark_slices']} vs {slices}/{blank}/{dark}")


@suite.test
def scan_of_an_empty_folder_exits_2_and_missing_data_too():
    empty = Data.tmp / "empty"
    empty.mkdir(exist_ok=True)
    p = run([MRIPREP, "scan", empty])
    check(p.returncode == 2 and "no series" in p.stderr, f"rc {p.returncode} {p.stderr}")
    p = run([MRIPREP, "scan", Data.tmp / "nope"])
    check(p.returncode == 2 and "nope" in p.stderr, f"rc {p.returncode} {p.stderr}")
    p = run([MRIPREP, "scan"])
    check(p.returncode == 1, f"no DATA: rc {p.returncode}")
    blocker = Data.tmp / "a_file"
    blocker.write_text("x")
    p = run([MRIPREP, "scan", Data.make(), "-q", "--json", blocker / "x.json"])
    check(p.returncode == 4 and str(blocker) in p.stderr, f"unwritable --json: rc {p.returncode} {p.stderr}")


@suite.test
def info_matches_pydicom_on_its_test_files():
    names = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm", "CT_small.dcm",
             "MR_small_padded.dcm"]
    for name in names:
        path = pydicom.data.get_testdata_file(name)
        ds = pydicom.dcmread(path)
        a = ds.pixel_array
        got = json.loads(run([MRIPREP, "info", path, "--json"], expect=0).stdout)
        want = {"rows": ds.Rows, "columns": ds.Columns, "bits_allocated": ds.BitsAllocated,
                "bits_stored": ds.BitsStored, "pixel_representation": ds.PixelRepresentation,
                "min": int(a.min()), "max": int(a.max()), "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
                "photometric_interpretation": ds.PhotometricInterpretation}
        for k, v in want.items():
            check(got.get(k) == v, f"{name}: {k} = {got.get(k)!r}, pydicom {v!r}")
        check(abs(got["mean"] - float(a.astype(np.float64).mean())) < 1e-9, f"{name}: mean")
        check(got["pixel_spacing"] == [float(v) for v in ds.PixelSpacing], f"{name}: spacing")
        check(got["image_position_patient"] == [float(v) for v in ds.ImagePositionPatient], f"{name}: position")
        check(got["instance_number"] == int(ds.InstanceNumber), f"{name}: instance")
    text = run([MRIPREP, "info", pydicom.data.get_testdata_file("MR_small.dcm")], expect=0).stdout
    check("64 x 64" in text and "axial" in text and "min 127, max 2145" in text, f"human output: {text}")
    # Lossless JPEG 2000 of the same image (OpenJPEG): the same facts, pixel range included.
    text = run([MRIPREP, "info", pydicom.data.get_testdata_file("MR_small_jp2klossless.dcm")], expect=0).stdout
    check("JPEG 2000" in text and "min 127, max 2145" in text, f"jp2k: {text}")
    p = run([MRIPREP, "info", Data.tmp / "nope.dcm"])
    check(p.returncode == 3 and "nope.dcm" in p.stderr, f"missing: rc {p.returncode} {p.stderr}")
    return f"{len(names)} files"


def setup_problem():
    return None if MRIPREP.is_file() else f"{MRIPREP} not built: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Data, setup_problem))
