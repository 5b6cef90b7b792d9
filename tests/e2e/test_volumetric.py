#!/usr/bin/env python3
"""End-to-end tests of the volumetric options of `mriprep run` (issue 8).

Run with /usr/bin/python3 (Debian's pydicom, numpy, OpenCV, nibabel). The oracles:
  - a head phantom written here with pydicom, in axial, coronal and sagittal planes, with
    a bright marker at a known patient position: nibabel must place the marker of each
    NIfTI output there, and report the canonical orientation (L, P, S);
  - the notebook pipeline's own steps (tests/reference/notebook_pipeline.py: pydicom,
    cv2.INTER_AREA, numpy) recombined as each option says (order, crop, intensity, norm,
    depth, center), never values copied from mriprep's output;
  - numpy's rot90 for the augmented copies.

    /usr/bin/python3 tests/e2e/test_volumetric.py [--results FILE.json] [-k SUBSTRING]
"""
import csv
import json
import os
import pathlib
import random
import shutil
import sys

import cv2
import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(ROOT / "tests" / "reference"))
from testlib import GeneratedData, Skip, Suite, check, run  # noqa: E402
import notebook_pipeline as nb  # noqa: E402

PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
suite = Suite("volumetric", __doc__)


def read_manifest(out, name="manifest.csv"):
    with open(pathlib.Path(out) / name, newline="") as f:
        return list(csv.DictReader(f))


class Work(GeneratedData):
    _cache = {}

    @classmethod
    def small(cls):
        return cls.dataset("small", "--patients", "2", "--test-patients", "0", "--size", "96",
                           "--slices", "24:40", "--seed", "11")

    @classmethod
    def mriprep_run(cls, name, data, *opts, expect=0):
        return super().mriprep_run(name, data, *opts, expect=expect)


# ---- the phantom ----------------------------------------------------------------------
# Patient space is DICOM's LPS, in mm. A head (ellipsoid) of value ~300 with a bright
# marker (a 3 mm ball of 1000) at MARKER; background 0.

HEAD_CENTRE = np.array([10.0, -20.0, 30.0])
HEAD_AXES = np.array([30.0, 36.0, 27.0])
MARKER = HEAD_CENTRE + np.array([8.0, -10.0, 6.0])
PLANES = {  # row direction, column direction (ImageOrientationPatient)
    "axial": ((1, 0, 0), (0, 1, 0)),
    "coronal": ((1, 0, 0), (0, 0, -1)),
    "sagittal": ((0, 1, 0), (0, 0, -1)),
    # coronal with its rows running head to foot: the map puts the image's x first, the
    # case whose CPU store groups rows along the first output axis
    "coronal_rotated": ((0, 0, -1), (1, 0, 0)),
}
SERIES = (("AX", "axial"), ("COR", "coronal"), ("SAG", "sagittal"), ("CORROT", "coronal_rotated"))


def phantom_values(p):
    """Values at points p [..., 3] (LPS mm)."""
    q = (p - HEAD_CENTRE) / HEAD_AXES
    inside = (q * q).sum(-1) <= 1.0
    v = np.where(inside, 300.0 + 40.0 * q[..., 0], 0.0)
    v = np.where(np.linalg.norm(p - MARKER, axis=-1) <= 3.0, 1000.0, v)
    return v


def write_phantom_series(folder, plane, reverse_names=False, size=64, spacing=(1.5, 1.25), step=2.0,
                         n_slices=31, keep_position=True, keep_instance=True, slope=1.0, intercept=0.0):
    """One series of the phantom: slice k at HEAD_CENTRE + (k - n/2) * step along the
    normal; pixel (r, c) at position + c * spacing[1] * row + r * spacing[0] * col.
    File names follow slice order, or the reverse."""
    folder.mkdir(parents=True, exist_ok=True)
    row, col = (np.array(v, float) for v in PLANES[plane])
    normal = np.cross(row, col)
    series_uid, study_uid = generate_uid(), generate_uid()
    r_idx, c_idx = np.mgrid[0:size, 0:size]
    for k in range(n_slices):
        centre = HEAD_CENTRE + (k - n_slices // 2) * step * normal
        origin = centre - (size / 2) * spacing[1] * row - (size / 2) * spacing[0] * col
        pts = origin + c_idx[..., None] * spacing[1] * row + r_idx[..., None] * spacing[0] * col
        stored = np.round((phantom_values(pts) - intercept) / slope).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = f"Image-{(n_slices - k) if reverse_names else (k + 1)}.dcm"
        ds = FileDataset(str(folder / name), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.Modality = "MR"
        ds.Rows = ds.Columns = size
        ds.PixelSpacing = [spacing[0], spacing[1]]
        ds.ImageOrientationPatient = [*row, *col]
        if keep_position:
            ds.ImagePositionPatient = [float(x) for x in origin]
        if keep_instance:
            ds.InstanceNumber = n_slices - k  # the reverse of anatomical order
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = stored.tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(str(folder / name), write_like_original=False)


def phantom_dataset(name, **kw):
    """DATA/train/00001/{AX,COR,SAG,CORROT}: the phantom in three planes, coronal twice
    (names reversed for COR)."""
    root = Work.tmp / name
    if not root.exists():
        for mod, plane in SERIES:
            write_phantom_series(root / "train" / "00001" / mod, plane, reverse_names=(plane == "coronal"), **kw)
    return root


def marker_world_ras(img):
    """Centroid of the marker (the brightest voxels) through the NIfTI affine, in RAS."""
    data = img.get_fdata()
    nonzero = data[data != 0]
    threshold = (data.max() + np.median(nonzero)) / 2
    idx = np.argwhere(data > threshold).mean(axis=0)
    return (img.affine @ np.append(idx, 1.0))[:3]


@suite.test
def nifti_places_the_phantom_marker_at_its_patient_position_in_every_plane():
    data = phantom_dataset("phantom")
    out, _ = Work.mriprep_run("out_phantom", data, "--modalities", "AX,COR,SAG,CORROT", "--preset", "volumetric",
                              "--intensity", "raw", "--size", "64", "--slices", "40", "--dark", "0")
    expected = MARKER * np.array([-1, -1, 1])  # LPS -> RAS
    errors = []
    for mod, _ in SERIES:
        img = nib.load(str(out / "train" / "00001" / f"{mod}.nii.gz"))
        got = marker_world_ras(img)
        err = float(np.linalg.norm(got - expected))
        errors.append(f"{mod} {err:.2f} mm")
        check(err < 1.5, f"{mod}: marker at {got.round(2)} RAS, expected {expected} ({err:.2f} mm off)")
    return "marker found within " + ", ".join(errors)


@suite.test
def sagittal_and_coronal_series_come_out_in_the_canonical_orientation():
    data = phantom_dataset("phantom")
    out, _ = Work.mriprep_run("out_canonical", data, "--modalities", "AX,COR,SAG,CORROT", "--preset", "volumetric",
                              "--size", "64", "--slices", "40")
    rows = {r["modality"]: r for r in read_manifest(out)}
    seen = []
    for mod, plane in SERIES:
        plane = plane.split("_")[0]  # coronal_rotated is a coronal series
        check(rows[mod]["plane"] == plane, f"{mod}: plane {rows[mod]['plane']!r}, expected {plane}")
        check(rows[mod]["order"] == "position", f"{mod}: order {rows[mod]['order']!r}")
        check(rows[mod]["geometry"] == "LPS", f"{mod}: geometry {rows[mod]['geometry']!r}")
        img = nib.load(str(out / "train" / "00001" / f"{mod}.nii.gz"))
        codes = nib.aff2axcodes(img.affine)
        check(codes == ("L", "P", "S"), f"{mod}: axes {codes}, expected L, P, S")
        # Axis-aligned: each voxel axis along one patient axis, no shear.
        rot = img.affine[:3, :3] / np.linalg.norm(img.affine[:3, :3], axis=0)
        check(np.allclose(np.abs(rot), np.eye(3), atol=1e-6), f"{mod}: affine not axis-aligned:\n{img.affine}")
        seen.append(f"{mod} {img.shape}")
    # The same anatomy in three planes: the npy outputs with --reorient put the marker at
    # the same (S, P, L) index fraction in each.
    return "L,P,S for " + ", ".join(seen)


@suite.test
def npy_and_nifti_hold_the_same_values():
    data = Work.small()
    a, _ = Work.mriprep_run("out_npy_dhw", data, "--layout", "dhw", "--crop", "volume", "--order", "position")
    b, _ = Work.mriprep_run("out_nii", data, "--format", "nii", "--crop", "volume", "--order", "position")
    n = 0
    for npy in sorted(a.rglob("*.npy")):
        rel = npy.relative_to(a)
        img = nib.load(str(b / rel.with_suffix(".nii")))
        check(img.get_data_dtype() == np.float32, f"{rel}: NIfTI dtype {img.get_data_dtype()}")
        vol = np.load(npy)
        check(np.array_equal(np.asarray(img.dataobj), vol.transpose(2, 1, 0)), f"{rel}: values differ")
        n += 1
    check(n > 0, "no volumes")
    return f"{n} volumes equal (npy (D,H,W) = NIfTI (W,H,D) transposed)"


@suite.test
def shuffled_file_names_still_give_anatomical_order():
    data = Work.small()
    shuffled = Work.tmp / "shuffled"
    if shuffled.exists():
        shutil.rmtree(shuffled)
    shutil.copytree(data, shuffled)
    rng = random.Random(5)
    for folder in sorted(p for p in (shuffled / "train").glob("*/*") if p.is_dir()):
        names = sorted(os.listdir(folder))
        targets = list(names)
        rng.shuffle(targets)
        for src, dst in zip(names, targets):
            os.rename(folder / src, folder / ("tmp-" + dst))
        for name in os.listdir(folder):
            os.rename(folder / name, folder / name[4:])
    a, _ = Work.mriprep_run("out_order_a", data, "--order", "position")
    b, _ = Work.mriprep_run("out_order_b", shuffled, "--order", "position")
    c, _ = Work.mriprep_run("out_order_c", shuffled)
    files = sorted(p.relative_to(a) for p in a.rglob("*.npy"))
    check(files, "no volumes")
    same = sum((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    check(same == len(files), f"{len(files) - same} of {len(files)} volumes differ after shuffling the names")
    by_name_differs = sum((a / f).read_bytes() != (c / f).read_bytes() for f in files)
    check(by_name_differs > 0, "shuffling the names changed nothing under --order name: the test shows nothing")
    orders = {r["order"] for r in read_manifest(b) if r["status"] == "ok"}
    check(orders == {"position"}, f"manifest order column {orders}")
    return f"{len(files)} volumes identical; {by_name_differs} differ under --order name"


@suite.test
def order_falls_back_to_instance_number_then_file_name_and_says_so():
    root = Work.tmp / "fallback"
    if not root.exists():
        write_phantom_series(root / "train" / "00001" / "INST", "axial", keep_position=False, n_slices=9)
        write_phantom_series(root / "train" / "00001" / "NAME", "axial", keep_position=False,
                             keep_instance=False, n_slices=9)
        # The same slices named in InstanceNumber order: what the fallback must match.
        write_phantom_series(root / "ref" / "00001" / "INST", "axial", keep_position=False, n_slices=9,
                             reverse_names=True)
    out, _ = Work.mriprep_run("out_fallback", root / "train", "--modalities", "INST,NAME", "--order", "position",
                              "--size", "32", "--dark", "0")
    rows = {r["modality"]: r["order"] for r in read_manifest(out)}
    check(rows == {"INST": "instance", "NAME": "name"}, f"order column {rows}")
    ref, _ = Work.mriprep_run("out_fallback_ref", root / "ref", "--modalities", "INST", "--size", "32", "--dark", "0")
    check((out / "00001" / "INST.npy").read_bytes() == (ref / "00001" / "INST.npy").read_bytes(),
          "InstanceNumber order differs from the same files named in that order")
    return f"order column {rows}"


# ---- the notebook's steps, recombined (the oracle for crop, intensity, norm, depth, center)

def decoded_series(folder):
    return [pydicom.dcmread(os.path.join(folder, n)) for n in nb.list_series_files(folder)]


def slice_box(x, margin=0):
    """The notebook's crop box of one slice, or None (blank)."""
    x = x.astype(np.float32)
    mn, mx = x.min(), x.max()
    if mx == mn:
        return None
    v = (x - mn) / (mx - mn)
    rows = np.flatnonzero((v > 0).any(axis=1))
    cols = np.flatnonzero((v > 0).any(axis=0))
    return (max(rows[0] - margin, 0), min(rows[-1] + margin, v.shape[0] - 1),
            max(cols[0] - margin, 0), min(cols[-1] + margin, v.shape[1] - 1))


def oracle_volume(folder, size=64, slices=16, dark=0.01, crop="slice", intensity="minmax", rescale=False,
                  norm="volume", depth="keep", center="middle"):
    """(D, H, W) float32 volume and (mean, std), following docs/pipeline.md with the options."""
    kept = []  # (x, ds, box)
    for ds in decoded_series(folder):
        x = ds.pixel_array
        box = slice_box(x)
        if box is None or nb.process_slice(x, 0, dark) is None:
            continue
        kept.append((x, ds, box))
    n = len(kept)
    d = min(n, slices)
    start = (n - d) // 2
    if center == "largest" and n > d:
        areas = [(b[1] - b[0] + 1) * (b[3] - b[2] + 1) for _, _, b in kept]
        largest = int(np.argmax(areas))  # the first of the largest
        start = min(max(largest - d // 2, 0), n - d)
    sel = kept[start:start + d]
    if crop == "volume":
        union = (min(b[0] for _, _, b in sel), max(b[1] for _, _, b in sel),
                 min(b[2] for _, _, b in sel), max(b[3] for _, _, b in sel))
        sel = [(x, ds, union) for x, ds, _ in sel]
    planes = []
    for x, ds, (r0, r1, c0, c1) in sel:
        if intensity == "raw":
            v = x.astype(np.float64)
            if rescale:
                v = float(ds.RescaleSlope) * v + float(ds.RescaleIntercept)
            v = v.astype(np.float32)
        else:
            xf = x.astype(np.float32)
            v = (xf - xf.min()) / (xf.max() - xf.min())
        planes.append(cv2.resize(v[r0:r1 + 1, c0:c1 + 1], (size, size), interpolation=cv2.INTER_AREA))
    vol = np.stack(planes, axis=0)
    v64 = vol.astype(np.float64)
    mask = v64 != 0 if norm == "nonzero" else np.ones(v64.shape, bool)
    mean, std = v64[mask].mean(), v64[mask].std()
    out = ((v64 - mean) / std).astype(np.float32)
    if norm == "nonzero":
        out[~mask] = 0
    if depth == "pad" and d < slices:
        before = (slices - d) // 2
        out = np.concatenate([np.zeros((before, size, size), np.float32), out,
                              np.zeros((slices - d - before, size, size), np.float32)])
    return out, mean, std


OPTION_SETS = [
    ("crop volume", ["--crop", "volume"], dict(crop="volume")),
    ("raw intensity", ["--intensity", "raw"], dict(intensity="raw")),
    ("raw rescaled", ["--intensity", "raw", "--rescale"], dict(intensity="raw", rescale=True)),
    ("nonzero norm", ["--norm", "nonzero"], dict(norm="nonzero")),
    ("pad depth", ["--depth", "pad", "--slices", "48"], dict(depth="pad", slices=48)),
    ("largest centre", ["--center", "largest", "--slices", "8"], dict(center="largest", slices=8)),
    ("all together", ["--crop", "volume", "--intensity", "raw", "--norm", "nonzero", "--depth", "pad",
                      "--center", "largest", "--slices", "20"],
     dict(crop="volume", intensity="raw", norm="nonzero", depth="pad", center="largest", slices=20)),
]


def rescaled_dataset():
    """The phantom stored with a slope and an intercept, so --rescale matters."""
    root = Work.tmp / "rescaled"
    if not root.exists():
        write_phantom_series(root / "train" / "00001" / "AX", "axial", slope=0.5, intercept=-100.0)
        write_phantom_series(root / "train" / "00001" / "SAG", "sagittal", slope=2.0, intercept=7.0)
    return root


@suite.test
def every_option_matches_the_notebook_steps_recombined():
    sets = []
    for data, mods in ((Work.small(), ["FLAIR", "T1w", "T1wCE", "T2w"]), (rescaled_dataset(), ["AX", "SAG"])):
        for label, flags, kw in OPTION_SETS:
            out, _ = Work.mriprep_run("out_opts", data, "--modalities", ",".join(mods), "--size", "64",
                                      "--slices", "16", "--layout", "dhw", *flags)
            rows = read_manifest(out)
            n = 0
            for r in rows:
                if r["status"] != "ok":
                    continue
                folder = data / r["split"] / r["id"] / r["modality"]
                want, mean, std = oracle_volume(folder, **{"slices": 16, **kw})
                got = np.load(out / r["output"])
                check(got.shape == want.shape, f"{label} {r['output']}: shape {got.shape}, oracle {want.shape}")
                check(abs(float(r["mean"]) - mean) <= 1e-7 * max(1.0, abs(mean)) and
                      abs(float(r["std"]) - std) <= 1e-7 * max(1.0, std),
                      f"{label} {r['output']}: mean/std {r['mean']}/{r['std']}, oracle {mean!r}/{std!r}")
                worst = float(np.abs(got.astype(np.float64) - want).max())
                check(worst <= 2e-5, f"{label} {r['output']}: {worst:.3g} from the oracle")
                if kw.get("norm") == "nonzero":
                    check(np.array_equal(got == 0, want == 0), f"{label} {r['output']}: background differs")
                n += 1
            check(n > 0, f"{label}: no volumes")
            sets.append(label)
    return f"{len(OPTION_SETS)} option sets x 2 datasets ({len(sets)} runs) agree with the oracle"


@suite.test
def depth_pad_is_the_kept_volume_between_zero_slices():
    data = Work.small()
    keep, _ = Work.mriprep_run("out_keep", data, "--layout", "dhw", "--slices", "64")
    pad, _ = Work.mriprep_run("out_pad", data, "--layout", "dhw", "--slices", "64", "--depth", "pad")
    n = 0
    for f in sorted(keep.rglob("*.npy")):
        a, b = np.load(f), np.load(pad / f.relative_to(keep))
        d = a.shape[0]
        before = (64 - d) // 2
        check(b.shape == (64,) + a.shape[1:], f"{f.name}: padded shape {b.shape}")
        check(np.array_equal(b[before:before + d], a), f"{f}: the kept slices changed")
        check(not b[:before].any() and not b[before + d:].any(), f"{f}: padding is not zero")
        n += 1
    return f"{n} volumes padded to 64 slices"


@suite.test
def augment_rot90_writes_one_turned_copy_chosen_by_the_seed():
    data = Work.small()
    a, _ = Work.mriprep_run("out_aug_a", data, "--augment", "rot90", "--seed", "1")
    b, _ = Work.mriprep_run("out_aug_b", data, "--augment", "rot90", "--seed", "1", "--dtype", "float16")
    c, _ = Work.mriprep_run("out_aug_c", data, "--augment", "rot90", "--seed", "2", "--layout", "dhw")
    turns = {}
    for out, axes in ((a, (0, 1)), (b, (0, 1)), (c, (1, 2))):
        rows = [r for r in read_manifest(out) if r["status"] == "ok"]
        check(rows, "no volumes")
        for r in rows:
            copy = r["augmented"]
            check(copy.startswith(r["output"][:-4] + ".rot"), f"augmented column {copy!r}")
            k = int(copy.split(".rot")[1].split(".")[0]) // 90
            check(k in (1, 2, 3), f"turn {k}")
            vol, turned = np.load(out / r["output"]), np.load(out / copy)
            check(turned.dtype == vol.dtype, "dtype of the copy")
            check(np.array_equal(turned, np.rot90(vol, k, axes=axes)), f"{copy} is not np.rot90(volume, {k})")
            turns.setdefault(out.name, []).append(k)
    check(turns["out_aug_a"] == turns["out_aug_b"], "the same seed gave other turns")
    check(turns["out_aug_a"] != turns["out_aug_c"], "seeds 1 and 2 gave the same turns for every volume")
    return f"turns with seed 1: {turns['out_aug_a']}; seed 2: {turns['out_aug_c']}"


@suite.test
def preset_volumetric_records_its_options_and_resumes():
    data = Work.small()
    out, _ = Work.mriprep_run("out_preset", data, "--preset", "volumetric", "--size", "48", "--slices", "32")
    rj = json.loads((out / "run.json").read_text())
    o = rj["options"]
    want = dict(preset="volumetric", order="position", reorient=True, crop="volume", norm="nonzero",
                depth="pad", format="nii.gz", layout="dhw")
    got = {k: o.get(k) for k in want}
    check(got == want, f"run.json options {got}")
    rows = read_manifest(out)
    check(all(r["output"].endswith(".nii.gz") for r in rows if r["status"] == "ok"), "outputs not .nii.gz")
    first = out / next(r["output"] for r in rows if r["status"] == "ok")
    stamp = first.stat().st_mtime_ns
    run([MRIPREP, "run", data, out, "--progress", "none", "--preset", "volumetric", "--size", "48",
         "--slices", "32"], expect=0)
    check(first.stat().st_mtime_ns == stamp, f"{first} was written again: not resumed")
    check(read_manifest(out) == rows or all(
        {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
        for a, b in zip(read_manifest(out), rows)), "the resumed manifest differs")
    p = run([MRIPREP, "run", data, out, "--progress", "none", "--size", "48", "--slices", "32"], expect=1)
    check("other options" in p.stderr, f"a notebook run into a volumetric OUT: {p.stderr}")
    return "run.json: " + ", ".join(f"{k}={v}" for k, v in got.items())


@suite.test
def bad_combinations_are_refused_before_anything_is_written():
    data = Work.small()
    for flags, words in ((["--format", "nii", "--dtype", "float16"], "no float16"),
                         (["--rescale"], "--intensity raw"),
                         (["--order", "sideways"], "--order"),
                         (["--preset", "fancy"], "--preset")):
        out = Work.tmp / "out_bad"
        if out.exists():
            shutil.rmtree(out)
        p = run([MRIPREP, "run", data, out, *flags], expect=1)
        check(words in p.stderr, f"{flags}: {p.stderr}")
        check(not (out / "manifest.csv").exists(), f"{flags}: wrote a manifest")
    return "float16+NIfTI, --rescale without raw, bad values: exit 1"


def gpu_present():
    p = run([MRIPREP, "devices"], expect=0)
    lines = [line for line in p.stdout.splitlines() if line.startswith("cuda:")]
    return bool(lines and "no code for it" not in lines[0])


@suite.test
def cuda_matches_cpu_for_every_option():
    if not gpu_present():
        raise Skip("no CUDA device: the CUDA backend's volumetric paths are compiled, not run")
    data = Work.small()
    for label, flags, _ in OPTION_SETS + [("preset", ["--preset", "volumetric", "--format", "npy"], {}),
                                          ("reorient float16", ["--reorient", "--dtype", "float16"], {})]:
        cpu, _ = Work.mriprep_run("out_vcpu", data, "--device", "cpu", "--size", "64", *flags)
        gpu, _ = Work.mriprep_run("out_vgpu", data, "--device", "cuda", "--size", "64", *flags)
        files = sorted(p.relative_to(cpu) for p in cpu.rglob("*.npy"))
        check(files, f"{label}: no volumes")
        for rel in files:
            check((cpu / rel).read_bytes() == (gpu / rel).read_bytes(), f"{label}: {rel} differs")
    return f"{len(OPTION_SETS) + 2} option sets byte-identical"


def setup_problem():
    return None if MRIPREP.is_file() else f"{MRIPREP} not built: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
