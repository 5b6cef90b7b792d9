#!/usr/bin/env python3
"""The notebook pipeline: mriprep's independent oracle and its speed baseline.

Run it with Debian's Python (python3-pydicom, python3-numpy, python3-opencv):

    /usr/bin/python3 tests/reference/notebook_pipeline.py DATA OUT [options]

It does what the data scientist's notebook did, one process, one file at a time, with
pydicom, numpy and OpenCV, and with the holes of the notebook closed as docs/pipeline.md
"Pipeline semantics" specifies (the contract mriprep's C code implements):

  files   every regular file whose name ends in .dcm (any case), ordered by the last run
          of decimal digits in the name as an integer (Image-2 before Image-10); names
          without digits after all others; ties by the name as bytes
  decode  pydicom pixel_array as float32, stored values, no rescale
  slice   v = (x - min) / (max - min) in float32; a constant slice is dropped; crop to the
          bounding box of v > 0 widened by --margin; drop if the crop mean (float64) is
          below --dark
  select  the middle --slices K of the n kept slices: [(n-K)//2, (n-K)//2 + K)
  resize  cv2.resize(crop, (W, H), interpolation=cv2.INTER_AREA) on float32
  stack   np.stack(axis=-1) -> [H][W][D] (--layout dhw: [D][H][W])
  z-score mean and population std of the volume in float64; unchanged if std == 0
  write   OUT/<split>/<id>/<MOD>.npy (np.save) and OUT/reference_manifest.csv

Every series gets one manifest row (columns: split,id,modality,status,files,kept,depth,
src_rows,src_cols,mean,std,output) with status ok, empty, missing, failed or excluded.
The last line printed is the benchmark figure: series, files, seconds, files/s.
"""

import argparse
import csv
import os
import re
import sys
import time

import cv2
import numpy as np
import pydicom

DEFAULT_MODALITIES = "FLAIR,T1w,T1wCE,T2w"
MANIFEST_COLUMNS = ["split", "id", "modality", "status", "files", "kept", "depth",
                    "src_rows", "src_cols", "mean", "std", "output"]

_LAST_DIGITS = re.compile(r"[0-9]+(?=[^0-9]*$)")


def file_order_key(name):
    """Image-2 before Image-10: the last run of ASCII digits as an integer; names without
    digits after every name with digits; ties broken by the name's bytes."""
    m = _LAST_DIGITS.search(name)
    raw = os.fsencode(name)
    return (0, int(m.group()), raw) if m else (1, 0, raw)


def list_series_files(folder):
    """Regular files ending in .dcm in any case, in file order. Other files are ignored."""
    names = [e.name for e in os.scandir(folder)
             if e.name.lower().endswith(".dcm") and e.is_file()]
    return sorted(names, key=file_order_key)


def process_slice(x, margin, dark):
    """One decoded slice -> its float32 crop, or None when dropped (blank or dark)."""
    x = x.astype(np.float32)
    mn, mx = x.min(), x.max()
    if mx == mn:
        return None                            # blank: nothing is > 0 after min-max
    v = (x - mn) / (mx - mn)                   # float32 throughout (numpy float32 scalars)
    rows = np.flatnonzero((v > 0).any(axis=1))
    cols = np.flatnonzero((v > 0).any(axis=0))
    r0 = max(rows[0] - margin, 0)
    r1 = min(rows[-1] + margin, v.shape[0] - 1)
    c0 = max(cols[0] - margin, 0)
    c1 = min(cols[-1] + margin, v.shape[1] - 1)
    crop = v[r0:r1 + 1, c0:c1 + 1]
    if crop.astype(np.float64).mean() < dark:
        return None
    return crop


def process_series(folder, opts):
    """One modality folder -> (manifest fields, volume or None, files decoded, reason).
    Count fields are 0 when there was nothing to count (missing folder, no .dcm files),
    empty when not computed (kept and depth of a failed series)."""
    row = {"files": "", "kept": "", "depth": "", "src_rows": "", "src_cols": "",
           "mean": "", "std": ""}
    if not os.path.isdir(folder):
        row.update(status="missing", files=0, kept=0, depth=0)
        return row, None, 0, "no folder"
    names = list_series_files(folder)
    row["files"] = len(names)
    if not names:
        row.update(status="empty", kept=0, depth=0)
        return row, None, 0, "no .dcm files"

    # The notebook way: read, crop and resize every slice as it comes, then pick the
    # middle K. Selecting first would resize less (mriprep does), but this script is also
    # the speed baseline of "what a notebook does", so it pays for every slice.
    W, H = opts.size
    resized = []
    for k, name in enumerate(names):
        try:
            ds = pydicom.dcmread(os.path.join(folder, name))
            if k == 0:
                row["src_rows"], row["src_cols"] = int(ds.Rows), int(ds.Columns)
            x = ds.pixel_array
            if x.ndim != 2:
                raise ValueError(f"not a single-frame grey image (shape {x.shape})")
        except Exception as e:  # any file pydicom cannot read or decode fails the series
            row.update(status="failed")
            return row, None, k + 1, f"{name}: {type(e).__name__}: {e}"
        crop = process_slice(x, opts.margin, opts.dark)
        if crop is not None:
            resized.append(cv2.resize(crop, (W, H), interpolation=cv2.INTER_AREA))

    n = len(resized)
    row["kept"] = n
    K = opts.slices
    if n > K:
        start = (n - K) // 2
        resized = resized[start:start + K]
    row["depth"] = len(resized)
    if not resized:
        row["status"] = "empty"
        return row, None, len(names), "no slice left after the blank and dark filters"

    vol = np.stack(resized, axis=-1 if opts.layout == "hwd" else 0)   # float32
    v64 = vol.astype(np.float64)
    mean, std = v64.mean(), v64.std()
    out = ((v64 - mean) / std).astype(np.float32) if std > 0 else vol
    if opts.dtype == "float16":
        out = out.astype(np.float16)
    row.update(status="ok", mean=repr(float(mean)), std=repr(float(std)))
    return row, out, len(names), ""


def find_splits(data):
    """[(split name, folder)]: train and test when either exists, else DATA itself."""
    splits = [(s, os.path.join(data, s)) for s in ("train", "test")
              if os.path.isdir(os.path.join(data, s))]
    return splits or [("", data)]


def parse_exclude(text):
    """'109,00123,abc' -> ({109, 123}, {'abc'}): numeric IDs compare as integers."""
    ints, names = set(), set()
    for tok in (text or "").split(","):
        tok = tok.strip()
        if tok.isdigit():
            ints.add(int(tok))
        elif tok:
            names.add(tok)
    return ints, names


def is_excluded(pid, exclude):
    ints, names = exclude
    return (int(pid) in ints) if pid.isdigit() else (pid in names)


def parse_size(text):
    m = re.fullmatch(r"(\d+)(?:x(\d+))?", text.strip())
    if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < 1):
        raise argparse.ArgumentTypeError(f"expected N or WxH (positive), got {text!r}")
    w = int(m.group(1))
    return (w, int(m.group(2)) if m.group(2) else w)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Reference implementation of mriprep's default (notebook) pipeline "
                    "with pydicom + numpy + OpenCV, one file at a time. Writes "
                    "OUT/<split>/<id>/<MOD>.npy and OUT/reference_manifest.csv. "
                    "Run with /usr/bin/python3.")
    p.add_argument("data", metavar="DATA", help="dataset root (DATA/train, DATA/test, or "
                   "patient folders directly in DATA)")
    p.add_argument("out", metavar="OUT", help="output folder (created)")
    p.add_argument("--size", type=parse_size, default=(256, 256), metavar="N|WxH",
                   help="output width x height (default 256 = 256x256)")
    p.add_argument("--slices", type=int, default=128, metavar="K",
                   help="keep the middle K slices (default 128)")
    p.add_argument("--dark", type=float, default=0.01, metavar="T",
                   help="drop slices whose cropped mean is below T (default 0.01)")
    p.add_argument("--margin", type=int, default=0, metavar="M",
                   help="widen the crop box by M pixels per side (default 0)")
    p.add_argument("--modalities", default=DEFAULT_MODALITIES,
                   help=f"comma-separated series folders, in output order (default {DEFAULT_MODALITIES})")
    p.add_argument("--exclude", default="", metavar="IDS",
                   help="comma-separated patient IDs to skip (109 matches 00109)")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="output type (default float32); float16 is cast from the float32 result")
    p.add_argument("--layout", choices=["hwd", "dhw"], default="hwd",
                   help="volume axes: hwd = (H, W, D) as np.stack(axis=-1) (default), dhw")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per series")
    args = p.parse_args(argv)
    args.modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
    if not args.modalities:
        p.error("--modalities is empty")
    if args.slices < 1:
        p.error("--slices must be at least 1")
    if args.margin < 0:
        p.error("--margin must not be negative")
    return args


def main(argv=None):
    opts = parse_args(argv)
    if not os.path.isdir(opts.data):
        print(f"notebook_pipeline: {opts.data}: not a folder", file=sys.stderr)
        return 2
    exclude = parse_exclude(opts.exclude)
    t0 = time.perf_counter()
    rows, nseries, nfiles = [], 0, 0
    for split, split_dir in find_splits(opts.data):
        patients = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
        for pid in patients:
            for mod in opts.modalities:
                rel = os.path.join(split, pid, mod + ".npy")
                row = {"split": split, "id": pid, "modality": mod, "output": ""}
                if is_excluded(pid, exclude):
                    row.update({c: "" for c in MANIFEST_COLUMNS[4:11]}, status="excluded")
                    rows.append(row)
                    continue
                fields, vol, read, reason = process_series(
                    os.path.join(split_dir, pid, mod), opts)
                row.update(fields)
                nfiles += read
                nseries += 1
                if vol is not None:
                    path = os.path.join(opts.out, rel)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    np.save(path, vol)
                    row["output"] = rel
                if not opts.quiet:
                    why = f"  ({reason})" if reason else ""
                    print(f"{os.path.join(split, pid, mod)}: {row['status']} files={row['files']} "
                          f"kept={row['kept']} depth={row['depth']}{why}", file=sys.stderr)
                rows.append(row)

    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "reference_manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    dt = time.perf_counter() - t0
    print(f"notebook_pipeline: {nseries} series, {nfiles} files, {dt:.2f} s, "
          f"{nfiles / dt if dt > 0 else 0:.1f} files/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
