#!/usr/bin/env python3
"""The builds the code claims, against the default one: `make NO_OMP=1` (no OpenMP: one
thread, every pragma ignored) in build-noomp and `make SIMD=0` (the portable loops of the
slice-stats and crop + resize + moments engines) in build-nosimd must give the default
build's outputs byte for byte: volumes, rotated copies and manifest (all but its seconds
column), on a generated dataset with every problem case, for option sets that between them
take every path (notebook and volumetric, float16, dhw, fractional and enlarging resizes,
margins, raw intensity with rescale, nonzero norm, padding, rot90).

    /usr/bin/python3 tests/e2e/test_variants.py [--results FILE.json] [-k SUBSTRING]

`make test` builds the variants first (make variants-run); a variant that was not built
is a failure here, not a skip: the claim is that it builds.
"""
import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import GeneratedData, Suite, check, output_digest, run  # noqa: E402

DEFAULT = ROOT / "build" / "mriprep"
VARIANTS = {"noomp": (ROOT / "build-noomp" / "mriprep", "openmp: no"),
            "nosimd": (ROOT / "build-nosimd" / "mriprep", "simd: no")}
OPTION_SETS = [
    [],
    ["--dtype", "float16", "--layout", "dhw", "--size", "48x40", "--slices", "12", "--margin", "2"],
    ["--size", "300", "--dark", "0.05", "--augment", "rot90", "--seed", "3"],
    ["--preset", "volumetric", "--intensity", "raw", "--rescale"],
    ["--order", "position", "--crop", "volume", "--norm", "nonzero", "--depth", "pad", "--center", "largest",
     "--format", "nii", "--size", "100x37"],
]
suite = Suite("variants", __doc__)


class Work(GeneratedData):
    _cache = {}


def outputs(binary, data, name, opts):
    out = Work.tmp / name
    if out.exists():
        shutil.rmtree(out)
    p = run([binary, "run", data, out, "--progress", "none", "-q", *opts])
    check(p.returncode in (0, 3), f"{binary} {' '.join(opts)} exited {p.returncode}: {p.stderr[-800:]}")
    return output_digest(out)


def variant_test(variant):
    def test():
        binary, feature = VARIANTS[variant]
        check(binary.exists(), f"{binary} was not built (make variants-run builds it)")
        version = run([binary, "--version"], expect=0).stdout
        check(feature in version, f"{binary} --version does not say '{feature}':\n{version}")
        data = Work.dataset("data", "--patients", "3", "--test-patients", "1", "--size", "96", "--problems",
                            "--broken", "--seed", "5")
        compared = 0
        for i, opts in enumerate(OPTION_SETS):
            want = outputs(DEFAULT, data, f"default-{i}", opts)
            got = outputs(binary, data, f"{variant}-{i}", opts)
            check(want.keys() == got.keys(), f"{' '.join(opts)}: other files: {sorted(want.keys() ^ got.keys())}")
            differ = [k for k in want if want[k] != got[k]]
            check(not differ, f"{' '.join(opts) or 'defaults'}: {len(differ)} files differ: {differ[:5]}")
            compared += len(want)
        return f"{compared} files identical over {len(OPTION_SETS)} option sets"
    test.__name__ = f"{variant}_gives_the_default_builds_bytes"
    return test


for name in VARIANTS:
    suite.test(variant_test(name))

if __name__ == "__main__":
    sys.exit(suite.main(Work))
