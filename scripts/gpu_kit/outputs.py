#!/usr/bin/env python3
"""Are two `mriprep run` outputs byte-identical? Standard library only (the GPU kit runs it
where only python3 is installed; the tests import output_digest from here).

    python3 outputs.py OUT_A OUT_B     prints "identical: N files" (exit 0) or what differs (exit 1)

Every file under OUT is compared by SHA-256, run.json left out (it holds timings and the
device) and the manifest's seconds column (its only timing) blanked.
"""
import csv
import hashlib
import pathlib
import sys


def output_digest(out):
    """{relative path: sha256} of a `mriprep run` OUT, run.json left out and the manifest's
    seconds column blanked: equal digests mean byte-identical outputs."""
    out = pathlib.Path(out)
    files = {}
    for f in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "run.json"):
        rel = str(f.relative_to(out))
        if rel == "manifest.csv":
            with f.open(newline="") as fh:
                rows = list(csv.reader(fh))
            col = rows[0].index("seconds")
            for r in rows[1:]:
                r[col] = ""
            files[rel] = hashlib.sha256(repr(rows).encode()).hexdigest()
        else:
            files[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = output_digest(sys.argv[1]), output_digest(sys.argv[2])
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not a:
        print(f"no outputs in {sys.argv[1]}")
        return 1
    if differ:
        print(f"{len(differ)} of {len(set(a) | set(b))} files differ: {', '.join(differ[:8])}")
        return 1
    print(f"identical: {len(a)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
