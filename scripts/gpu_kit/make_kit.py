#!/usr/bin/env python3
"""make gpu-kit: build/gpu-kit/, what validates a bare GPU machine in one call (run.sh).

    scripts/gpu_kit/make_kit.py --bundle dist/mriprep-0.1.0-linux-x86_64 \\
        --tests build/dist/tests/test_cuda build/dist/tests/test_device_check --out build/gpu-kit

The kit:
    run.sh            the steps (scripts/gpu_kit/run.sh)
    kit.tar.gz        mriprep-kit/{bin,lib,share,licenses}: the release bundle's program,
                      libraries and dictionary (make dist: CUDA code for sm_75-90 + PTX),
                      and the GPU test binaries linked against the same objects, RUNPATH
                      $ORIGIN/../lib; packed because ICU's data alone is 31 MB unpacked
    data/small/       a generated dataset (scripts/make_dataset.py: problem and broken
                      cases included) for the CUDA-against-CPU comparisons
    numpy_dataset.py  makes the 512x512 dataset there (numpy only: no pydicom there)
    outputs.py, report.py, README.md
At most 48 MiB: checked here.
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "dist"))
import bundle  # noqa: E402  (the release bundle's ldd check, RUNPATH and tarball)

MAX_BYTES = 48 * 2**20

README = """# mriprep GPU kit

    bash run.sh OUTDIR

Runs on an x86-64 Linux machine with an NVIDIA GPU and its driver; uses compute-sanitizer
(CUDA's tools) and python3 with numpy when present; needs no dcmtk, pydicom or network.
Writes OUTDIR/report.md and OUTDIR/report.json (and logs/). Without a GPU every GPU step
is reported as skipped with the reason. Built by `make gpu-kit` from mriprep {version}.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, type=pathlib.Path)
    ap.add_argument("--tests", nargs="+", required=True, type=pathlib.Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    a = ap.parse_args()

    if a.out.exists():
        shutil.rmtree(a.out)
    tree = a.out / "mriprep-kit"
    for sub in ("bin", "lib", "share", "licenses"):
        shutil.copytree(a.bundle / sub, tree / sub, symlinks=True)
    for test in a.tests:
        shutil.copy2(test, tree / "bin" / test.name)
        bundle.set_runpath(tree / "bin" / test.name, "$ORIGIN/../lib")
    bundle.check_closed(tree)
    bundle.write_tarball(tree, a.out / "kit.tar.gz", bundle.source_date_epoch())
    shutil.rmtree(tree)

    subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "make_dataset.py"), str(a.out / "data" / "small"),
                    "--patients", "2", "--test-patients", "1", "--size", "96", "--slices", "6:20", "--problems",
                    "--broken", "--seed", "4"], check=True, capture_output=True)
    for name in ("run.sh", "numpy_dataset.py", "outputs.py", "report.py"):
        shutil.copy2(HERE / name, a.out / name)
    (a.out / "README.md").write_text(README.format(version=a.version))

    size = sum(p.stat().st_size for p in a.out.rglob("*") if p.is_file())
    if size > MAX_BYTES:
        raise bundle.BundleError(f"{a.out} is {size / 2**20:.1f} MiB, over the kit's {MAX_BYTES / 2**20:.0f} MiB")
    print(f"gpu-kit: {a.out} ({size / 2**20:.1f} MiB; bash {a.out}/run.sh OUTDIR)")


if __name__ == "__main__":
    try:
        main()
    except (bundle.BundleError, subprocess.CalledProcessError, OSError) as e:
        print(f"gpu-kit: {e}", file=sys.stderr)
        sys.exit(1)
