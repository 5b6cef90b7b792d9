"""The harness the Python-driven test scripts share (tests/e2e/test_e2e.py, test_scan.py,
tests/test_show.py, tests/test_plot_scan.py).

A script registers tests with @suite.test, uses check() and Failure/Skip, and ends with
`sys.exit(suite.main(work))`: every test runs in order (or those matching -k), one
PASS/FAIL/SKIP line each, a temporary folder in work.tmp, and with --results FILE a JSON
report {"tests": [{"name", "status", "message"}]} that tests/summarize_results.py counts.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "gpu_kit"))
from outputs import output_digest  # noqa: E402,F401  (re-exported: byte-identical `run` outputs)


class Failure(Exception):
    """A check did not hold; the message says what was expected and what came."""


class Skip(Exception):
    """The test cannot run here; the message says why (printed and counted as skipped)."""


def check(cond, message):
    if not cond:
        raise Failure(message)


def run(cmd, expect=None, **kw):
    """Runs a command, text output captured; `expect`: the exit code it must give."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if expect is not None and p.returncode != expect:
        raise Failure(f"{' '.join(map(str, cmd))} exited {p.returncode}, expected {expect}\n"
                      f"stderr: {p.stderr[-2000:]}")
    return p


class Suite:
    def __init__(self, prefix, doc):
        self.prefix = prefix   # test names are "<prefix>.<function>"
        self.doc = doc
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self, work, setup_problem=None):
        """Runs the tests with work.tmp set to a fresh folder. setup_problem(): a reason
        the suite cannot run at all (reported as one failed test), or None."""
        ap = argparse.ArgumentParser(description=self.doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        ap.add_argument("--results", help="write results as JSON here")
        ap.add_argument("-k", help="run only tests whose name contains this")
        ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
        args = ap.parse_args()
        results = []

        def record(name, status, message):
            results.append({"name": f"{self.prefix}.{name}", "status": status, "message": message[-2000:]})
            print(f"{ {'passed': 'PASS', 'failed': 'FAIL', 'skipped': 'SKIP'}[status]} {name}"
                  f"{': ' + message if message else ''}", flush=True)

        why = setup_problem() if setup_problem else None
        if why:
            record("setup", "failed", why)
        else:
            work.tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"mriprep-{self.prefix}-"))
            try:
                for fn in self.tests:
                    if args.k and args.k not in fn.__name__:
                        continue
                    try:
                        record(fn.__name__, "passed", fn() or "")
                    except Skip as e:
                        record(fn.__name__, "skipped", str(e))
                    except Failure as e:
                        record(fn.__name__, "failed", str(e))
                    except Exception:
                        record(fn.__name__, "failed", traceback.format_exc())
            finally:
                if args.keep:
                    print(f"kept {work.tmp}")
                else:
                    shutil.rmtree(work.tmp, ignore_errors=True)
        if args.results:
            pathlib.Path(args.results).write_text(json.dumps({"tests": results}, indent=1))
        failed = sum(r["status"] == "failed" for r in results)
        skipped = sum(r["status"] == "skipped" for r in results)
        print(f"{self.prefix}: {len(results) - failed - skipped} passed, {failed} failed, {skipped} skipped")
        return 1 if failed else 0


class GeneratedData:
    """What the end-to-end scripts make once per session in a suite's tmp folder:
    datasets from scripts/make_dataset.py (cached by name) and runs of build/mriprep into
    fresh folders. A script subclasses it (giving it its own cache) as its `work`."""
    tmp = None
    _cache = {}

    @classmethod
    def dataset(cls, name, *args):
        if name not in cls._cache:
            path = cls.tmp / name
            run(["/usr/bin/python3", ROOT / "scripts" / "make_dataset.py", path, *args], expect=0)
            cls._cache[name] = path
        return cls._cache[name]

    @classmethod
    def mriprep_run(cls, name, data, *opts, expect=None):
        """`mriprep run DATA tmp/NAME` (the folder emptied first): (OUT, completed process)."""
        out = cls.tmp / name
        if out.exists():
            shutil.rmtree(out)
        p = run([ROOT / "build" / "mriprep", "run", data, out, "--progress", "none", *opts], expect=expect)
        return out, p

