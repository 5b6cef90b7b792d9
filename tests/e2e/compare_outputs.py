#!/usr/bin/env python3
"""Compare mriprep's output tree with the notebook reference's (tests/reference/
notebook_pipeline.py). Run with Debian's Python (python3-numpy):

    /usr/bin/python3 tests/e2e/compare_outputs.py MRIPREP_OUT REFERENCE_OUT [--atol 1e-5]

MRIPREP_OUT holds manifest.csv (split,id,modality,label,status,reason,files,kept,depth,
src_rows,src_cols,mean,std,output,seconds, then plane,order,geometry,augmented) and the volumes; REFERENCE_OUT holds
reference_manifest.csv (split,id,modality,status,files,kept,depth,src_rows,src_cols,mean,
std,output) and its volumes at the same relative paths.

Checks, each printed as "PASS name" or "FAIL name: why"; exit status 1 if any failed:
  rows         the same set of (split, id, modality) rows in both manifests
  fields       per row: status, files, src_rows, src_cols equal; kept and depth equal
               where the status is ok or empty (a failed series may stop counting early)
  stats        mean and std agree to 1e-9 relative where both manifests have them
  volume:PATH  one per ok row: both .npy exist, same shape and dtype, max |diff| <= atol
               (float16: atol + one float16 ulp at the value's magnitude)
  no-stray-npy no .npy under MRIPREP_OUT except the outputs of ok rows

Also importable: compare(mriprep_out, reference_out, atol) -> [(name, ok, message)].
"""

import argparse
import csv
import os
import sys

import numpy as np

KEY = ("split", "id", "modality")
STAT_RTOL = 1e-9
MAX_LISTED = 8          # differences listed per failing check; the rest are counted


def read_manifest(path):
    """{(split, id, modality): row}, plus duplicate keys. Accepts a UTF-8 BOM."""
    rows, dups = {}, []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            key = tuple(row.get(k, "") for k in KEY)
            if key in rows:
                dups.append(key)
            rows[key] = row
    return rows, dups


def find_manifest(folder, names):
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _int(text):
    text = (text or "").strip()
    return int(text) if text else None


def _float(text):
    text = (text or "").strip()
    return float(text) if text else None


def _keyname(key):
    return "/".join(k for k in key if k)


def _summary(problems):
    more = len(problems) - MAX_LISTED
    return "; ".join(problems[:MAX_LISTED]) + (f"; ... and {more} more" if more > 0 else "")


def _fields_differ(key, a, b):
    """Differences in status and counts for one row, as readable strings."""
    out = []
    status = a.get("status", "")
    if status != b.get("status", ""):
        return [f"{_keyname(key)}: status {status!r} != reference {b.get('status')!r}"]
    names = ["files", "src_rows", "src_cols"]
    if status in ("ok", "empty"):
        names += ["kept", "depth"]
    for name in names:
        try:
            va, vb = _int(a.get(name)), _int(b.get(name))
        except ValueError:
            out.append(f"{_keyname(key)}: {name} not an integer "
                       f"({a.get(name)!r} / {b.get(name)!r})")
            continue
        # Nothing was counted for a series that was not walked into: blank and 0 agree.
        if status in ("missing", "excluded") and (va or 0) == (vb or 0):
            continue
        if va != vb:
            out.append(f"{_keyname(key)}: {name} {a.get(name)!r} != reference {b.get(name)!r}")
    return out


def _stats_differ(key, a, b):
    out = []
    for name in ("mean", "std"):
        try:
            va, vb = _float(a.get(name)), _float(b.get(name))
        except ValueError:
            out.append(f"{_keyname(key)}: {name} not a number ({a.get(name)!r} / {b.get(name)!r})")
            continue
        if va is None or vb is None:
            # Both manifests must have the statistics of a written volume.
            if a.get("status") == b.get("status") == "ok" and (va is None) != (vb is None):
                out.append(f"{_keyname(key)}: {name} present in only one manifest")
            continue
        if abs(va - vb) > STAT_RTOL * max(abs(va), abs(vb)):
            out.append(f"{_keyname(key)}: {name} {va!r} != reference {vb!r}")
    return out


def compare_volume(path_a, path_b, atol):
    """(ok, message) for one volume pair."""
    for p in (path_a, path_b):
        if not os.path.isfile(p):
            return False, f"{p} does not exist"
    try:
        a, b = np.load(path_a), np.load(path_b)
    except Exception as e:   # a truncated or foreign file is a failure, not a crash
        return False, f"cannot load: {type(e).__name__}: {e}"
    if a.dtype != b.dtype:
        return False, f"dtype {a.dtype} != reference {b.dtype}"
    if a.shape != b.shape:
        return False, f"shape {a.shape} != reference {b.shape}"
    if a.size == 0:
        return True, "max abs diff 0 (empty)"
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(np.isnan(a64), np.isnan(b64)):
        return False, "NaN in different places"
    finite = ~np.isnan(a64)
    diff = np.abs(a64 - b64)
    diff[~finite] = 0.0
    tol = np.full(a.shape, atol, dtype=np.float64)
    if a.dtype == np.float16:
        # A 1e-5 difference before the cast can land on neighbouring float16 values:
        # allow one float16 step at the larger of the two magnitudes.
        mag = np.maximum(np.abs(a), np.abs(b))
        tol += np.spacing(mag).astype(np.float64)
    worst = float(diff.max())
    bad = int(np.count_nonzero(diff > tol))
    msg = f"max abs diff {worst:.3g}"
    if worst > 0:
        where = np.unravel_index(int(np.argmax(diff)), a.shape)
        msg += f" at {tuple(int(i) for i in where)}"
    msg += f", shape {a.shape}, {a.dtype}"
    if bad:
        return False, f"{bad} values over tolerance; {msg}"
    return True, msg


def compare(mriprep_out, reference_out, atol=1e-5):
    """Returns [(check name, ok, message)]; see the module doc for the checks."""
    results = []
    path_a = find_manifest(mriprep_out, ["manifest.csv"])
    path_b = find_manifest(reference_out, ["reference_manifest.csv", "manifest.csv"])
    if path_a is None or path_b is None:
        missing = [d for d, p in ((mriprep_out, path_a), (reference_out, path_b)) if p is None]
        return [("manifests", False, "no manifest in " + ", ".join(missing))]
    a, dups_a = read_manifest(path_a)
    b, dups_b = read_manifest(path_b)

    # (a) the same rows
    problems = [f"{_keyname(k)} twice in mriprep" for k in dups_a]
    problems += [f"{_keyname(k)} twice in reference" for k in dups_b]
    problems += [f"{_keyname(k)} only in mriprep" for k in sorted(set(a) - set(b))]
    problems += [f"{_keyname(k)} only in reference" for k in sorted(set(b) - set(a))]
    results.append(("rows", not problems,
                    _summary(problems) if problems else f"{len(a)} rows"))
    common = sorted(set(a) & set(b))

    # (b) status and counts
    problems = [p for k in common for p in _fields_differ(k, a[k], b[k])]
    results.append(("fields", not problems, _summary(problems) if problems else ""))

    # (c) z-score statistics
    problems = [p for k in common for p in _stats_differ(k, a[k], b[k])]
    results.append(("stats", not problems, _summary(problems) if problems else ""))

    # (d) volumes of rows ok in either manifest
    expected = set()
    for k in common:
        if "ok" not in (a[k].get("status"), b[k].get("status")):
            continue
        rel = a[k].get("output") or b[k].get("output")
        if not rel:
            results.append((f"volume:{_keyname(k)}", False, "ok row without an output path"))
            continue
        expected.add(os.path.normpath(rel))
        if a[k].get("output") and b[k].get("output") and \
                os.path.normpath(a[k]["output"]) != os.path.normpath(b[k]["output"]):
            results.append((f"volume:{rel}", False,
                            f"output {a[k]['output']!r} != reference {b[k]['output']!r}"))
            continue
        ok, msg = compare_volume(os.path.join(mriprep_out, rel),
                                 os.path.join(reference_out, rel), atol)
        results.append((f"volume:{rel}", ok, msg))

    # (e) nothing written for series that are not ok (and no leftovers of any kind)
    ok_outputs = {os.path.normpath(a[k]["output"]) for k in a
                  if a[k].get("status") == "ok" and a[k].get("output")}
    stray = []
    for root, _, files in os.walk(mriprep_out):
        for name in files:
            if name.endswith(".npy"):
                rel = os.path.normpath(os.path.relpath(os.path.join(root, name), mriprep_out))
                if rel not in ok_outputs:
                    stray.append(rel)
    results.append(("no-stray-npy", not stray,
                    _summary(sorted(stray)) + " (not the output of an ok row)" if stray else ""))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Compare mriprep's output (manifest.csv + .npy volumes) with the "
                    "notebook reference's (reference_manifest.csv + .npy volumes). Prints "
                    "PASS/FAIL per check; exit status 1 if any check failed. "
                    "Run with /usr/bin/python3.")
    p.add_argument("mriprep_out", metavar="MRIPREP_OUT", help="mriprep run's OUT folder")
    p.add_argument("reference_out", metavar="REFERENCE_OUT",
                   help="notebook_pipeline.py's OUT folder")
    p.add_argument("--atol", type=float, default=1e-5,
                   help="largest allowed absolute difference per voxel (default 1e-5)")
    args = p.parse_args(argv)
    results = compare(args.mriprep_out, args.reference_out, args.atol)
    for name, ok, msg in results:
        if ok:
            print(f"PASS {name}" + (f" ({msg})" if msg else ""))
        else:
            print(f"FAIL {name}: {msg}")
    failed = sum(1 for _, ok, _ in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
