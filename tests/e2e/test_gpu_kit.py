#!/usr/bin/env python3
"""The GPU kit (make gpu-kit -> build/gpu-kit/), here where there is no GPU, as on a bare
machine: `env -i PATH=/usr/bin:/bin bash build/gpu-kit/run.sh OUTDIR` must run what needs
no GPU, report every GPU step as skipped with its reason (or run it, where a GPU exists),
and write report.md and report.json. Also: the kit's size, and its DICOM writer
(numpy_dataset.py, used where pydicom is missing) against pydicom through the notebook
pipeline.

    /usr/bin/python3 tests/e2e/test_gpu_kit.py [--results FILE.json] [-k SUBSTRING]
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from testlib import GeneratedData, Suite, check, run  # noqa: E402
from compare_outputs import compare  # noqa: E402

KIT = ROOT / "build" / "gpu-kit"
MRIPREP = ROOT / "build" / "mriprep"
suite = Suite("gpu_kit", __doc__)


class Work(GeneratedData):
    _cache = {}
    report = None

    @classmethod
    def kit_report(cls):
        if cls.report is None:
            out = cls.tmp / "report"
            p = run(["env", "-i", "PATH=/usr/bin:/bin", "KIT_PATIENTS=1", "bash", KIT / "run.sh", out])
            check(p.returncode == 0, f"run.sh exited {p.returncode}: {p.stdout[-1500:]} {p.stderr[-800:]}")
            cls.report = json.loads((out / "report.json").read_text()), out
        return cls.report


@suite.test
def kit_is_at_most_48_mib_and_carries_what_it_needs():
    size = sum(p.stat().st_size for p in KIT.rglob("*") if p.is_file())
    check(size <= 48 * 2**20, f"build/gpu-kit is {size / 2**20:.1f} MiB")
    for name in ("run.sh", "kit.tar.gz", "numpy_dataset.py", "outputs.py", "report.py", "data/small/train_labels.csv"):
        check((KIT / name).is_file(), f"{name} missing from the kit")
    listing = run(["tar", "tzf", KIT / "kit.tar.gz"], expect=0).stdout.split()
    for name in ("mriprep-kit/bin/mriprep", "mriprep-kit/bin/test_cuda", "mriprep-kit/bin/test_device_check",
                 "mriprep-kit/lib/libdcmdata.so.17", "mriprep-kit/share/mriprep/dicom.dic"):
        check(name in listing, f"{name} missing from kit.tar.gz")
    return f"{size / 2**20:.1f} MiB"


@suite.test
def run_without_a_gpu_skips_each_gpu_step_with_its_reason():
    report, out = Work.kit_report()
    steps = {s["name"]: s for s in report["steps"]}
    check(report["counts"]["failed"] == 0, f"failed steps: {[s for s in report['steps'] if s['status'] == 'failed']}")
    for name in ("devices", "test_device_check", "test_cuda", "bench512"):
        check(steps.get(name, {}).get("status") == "passed", f"{name}: {steps.get(name)}")
    gpu_steps = [s for s in report["steps"] if s["name"].startswith(("cuda_vs_cpu:", "sanitizer:"))]
    check(len([s for s in gpu_steps if s["name"].startswith("cuda_vs_cpu:")]) >= 8, f"option sets: {gpu_steps}")
    check(len([s for s in gpu_steps if s["name"].startswith("sanitizer:")]) >= 4, f"sanitizers: {gpu_steps}")
    if report["gpu"]:
        check(all(s["status"] == "passed" for s in gpu_steps), f"{gpu_steps}")
        return "a GPU is present: every GPU step ran and passed"
    check(all(s["status"] == "skipped" and "no CUDA device" in s["detail"] for s in gpu_steps),
          f"GPU steps not skipped with the reason: {[s for s in gpu_steps if s['status'] != 'skipped'][:3]}")
    check("self-check cpu: passed" in steps["devices"]["detail"], steps["devices"])
    check(report["bench512"]["cpu"]["files"] > 0 and "cuda" not in report["bench512"], f"{report['bench512']}")
    md = (out / "report.md").read_text()
    check("| cuda_vs_cpu:volumetric | skipped |" in md and "## 512x512 dataset" in md, md[:800])
    return f"{report['counts']}; {len(gpu_steps)} GPU steps skipped with the reason"


@suite.test
def numpy_writer_files_read_the_same_in_pydicom_and_mriprep():
    data = Work.tmp / "numpy-data"
    run(["/usr/bin/python3", KIT / "numpy_dataset.py", data, "--patients", "1", "--size", "80", "--slices", "9:12",
         "--seed", "2"], expect=0)
    out = Work.tmp / "numpy-out"
    run([MRIPREP, "run", data, out, "-q", "--progress", "none", "--size", "40"], expect=0)
    ref = Work.tmp / "numpy-ref"
    run(["/usr/bin/python3", ROOT / "tests" / "reference" / "notebook_pipeline.py", data, ref, "-q", "--size", "40"],
        expect=0)
    results = compare(str(out), str(ref), 1e-5)
    failed = [f"{n}: {m}" for n, ok, m in results if not ok]
    volumes = [n for n, ok, m in results if n.startswith("volume:")]
    check(len(volumes) == 4 and not failed, f"{len(volumes)} volumes; {failed[:3]}")
    return "4 series: mriprep (dcmtk) equals the notebook pipeline (pydicom) within 1e-5"


def setup_problem():
    if not (KIT / "run.sh").is_file():
        return f"{KIT} is missing: run make gpu-kit (make test does)"
    return None


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
