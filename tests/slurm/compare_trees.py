#!/usr/bin/env python3
"""Is a merged sharded output tree what a single `mriprep run` wrote? For
tests/slurm/test_slurm.sh; run with /usr/bin/python3 (standard library only).

    compare_trees.py OUT REF          exit 0 when equal, 1 with one line per difference

Checks:
  - OUT/manifest.csv equals REF/manifest.csv but for the seconds column: the same
    number of lines, the same header, and the rows parsed with csv give the same fields
    but seconds (found by its header name);
  - every .npy under REF exists under OUT with identical bytes, and OUT has no other .npy;
  - OUT holds no temporary file (".<name>.tmp.<digits>") and no "*.partial" manifest;
  - OUT/run.json is JSON.

    compare_trees.py --missing OUT REF N
prints the (split,id,modality) of every REF row that no OUT/manifest.K-of-N.csv has, one
per line "split,id,modality" (what `mriprep merge` should list as missing).
"""
import csv
import filecmp
import io
import json
import os
import re
import sys

MAX_LISTED = 10


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def compare_manifests(out_path, ref_path, problems):
    if not os.path.isfile(out_path):
        problems.append(f"{out_path}: missing")
        return
    out_raw, ref_raw = read_bytes(out_path), read_bytes(ref_path)
    out_lines, ref_lines = out_raw.count(b"\n"), ref_raw.count(b"\n")
    if out_lines != ref_lines:
        problems.append(f"manifest.csv: {out_lines} lines, the single run's has {ref_lines}")
    out_rows = list(csv.reader(io.StringIO(out_raw.decode("utf-8"), newline="")))
    ref_rows = list(csv.reader(io.StringIO(ref_raw.decode("utf-8"), newline="")))
    if not out_rows or not ref_rows or out_rows[0] != ref_rows[0]:
        problems.append(f"manifest.csv header {out_rows[:1]} != {ref_rows[:1]}")
        return
    seconds = out_rows[0].index("seconds")

    def strip(row):
        return row[:seconds] + row[seconds + 1:]

    listed = 0
    for i, (a, b) in enumerate(zip(out_rows, ref_rows)):
        if strip(a) != strip(b):
            listed += 1
            if listed <= MAX_LISTED:
                problems.append(f"manifest.csv row {i}: {a!r} != single run's {b!r}")
    if listed > MAX_LISTED:
        problems.append(f"manifest.csv: {listed - MAX_LISTED} more rows differ")


def files_under(root, pred):
    found = []
    for d, dirs, files in os.walk(root):
        for name in files:
            if pred(name):
                found.append(os.path.relpath(os.path.join(d, name), root))
    return sorted(found)


TEMP = re.compile(r"^\..+\.tmp\.\d+$")


def compare(out, ref):
    problems = []
    compare_manifests(os.path.join(out, "manifest.csv"), os.path.join(ref, "manifest.csv"), problems)
    ref_npy = files_under(ref, lambda n: n.endswith(".npy"))
    out_npy = files_under(out, lambda n: n.endswith(".npy"))
    if not ref_npy:
        problems.append(f"{ref}: no .npy at all (the reference run wrote nothing?)")
    missing = [p for p in ref_npy if p not in set(out_npy)]
    extra = [p for p in out_npy if p not in set(ref_npy)]
    differ = [p for p in ref_npy if p not in missing
              and not filecmp.cmp(os.path.join(out, p), os.path.join(ref, p), shallow=False)]
    for what, paths in (("missing", missing), ("not in the single run", extra), ("bytes differ", differ)):
        if paths:
            problems.append(f".npy {what}: {len(paths)}: {', '.join(paths[:MAX_LISTED])}")
    temps = files_under(out, lambda n: bool(TEMP.match(n)) or n.endswith(".partial"))
    if temps:
        problems.append(f"temporary files left: {', '.join(temps[:MAX_LISTED])}")
    try:
        with open(os.path.join(out, "run.json")) as f:
            json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"run.json: {e}")
    return problems, len(ref_npy)


def missing_rows(out, ref, n):
    have = set()
    for k in range(n):
        path = os.path.join(out, f"manifest.{k}-of-{n}.csv")
        if os.path.isfile(path):
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    have.add((row["split"], row["id"], row["modality"]))
    with open(os.path.join(ref, "manifest.csv"), newline="", encoding="utf-8") as f:
        return [(r["split"], r["id"], r["modality"]) for r in csv.DictReader(f)
                if (r["split"], r["id"], r["modality"]) not in have]


def main(argv):
    if len(argv) == 5 and argv[1] == "--missing":
        for key in missing_rows(argv[2], argv[3], int(argv[4])):
            print(",".join(key))
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems, n_npy = compare(argv[1], argv[2])
    for p in problems:
        print(p)
    if not problems:
        print(f"equal: manifest.csv (but seconds) and {n_npy} volumes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
