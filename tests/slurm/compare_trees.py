#!/usr/bin/env python3
"""Is a merged sharded output tree what a single `mriprep run` wrote? For
tests/slurm/test_slurm.sh; run with /usr/bin/python3 (standard library only).

    compare_trees.py OUT REF          exit 0 when equal, 1 with one line per difference

Checks:
  - OUT/manifest.csv equals REF/manifest.csv byte for byte except the last column
    (seconds): line by line with the last field cut off (the field is never quoted, so
    cutting at the last comma is exact even when a reason field holds commas), and the
    same rows parsed with csv give the same fields but the last;
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


def cut_last_field(line):
    return line[: line.rfind(b",")] if b"," in line else line


def compare_manifests(out_path, ref_path, problems):
    if not os.path.isfile(out_path):
        problems.append(f"{out_path}: missing")
        return
    out_raw, ref_raw = read_bytes(out_path), read_bytes(ref_path)
    out_lines, ref_lines = out_raw.split(b"\n"), ref_raw.split(b"\n")
    if len(out_lines) != len(ref_lines):
        problems.append(f"manifest.csv: {len(out_lines) - 1} lines, the single run's has {len(ref_lines) - 1}")
    listed = 0
    for i, (a, b) in enumerate(zip(out_lines, ref_lines)):
        if cut_last_field(a) != cut_last_field(b):
            listed += 1
            if listed <= MAX_LISTED:
                problems.append(f"manifest.csv line {i + 1}: {a.decode(errors='replace')!r} != single run's "
                                f"{b.decode(errors='replace')!r}")
    if listed > MAX_LISTED:
        problems.append(f"manifest.csv: {listed - MAX_LISTED} more lines differ")
    out_rows = list(csv.reader(io.StringIO(out_raw.decode("utf-8"), newline="")))
    ref_rows = list(csv.reader(io.StringIO(ref_raw.decode("utf-8"), newline="")))
    if [r[:-1] for r in out_rows] != [r[:-1] for r in ref_rows]:
        problems.append("manifest.csv: parsed with csv, the rows (but the seconds column) differ")
    if out_rows and ref_rows and out_rows[0] != ref_rows[0]:
        problems.append(f"manifest.csv header {out_rows[0]} != {ref_rows[0]}")


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
