#!/usr/bin/env python3
"""Shards and merge: N shards of a run, merged, give what one run gives.

Run with /usr/bin/python3:  tests/e2e/test_shard.py [--results F.json] [-k NAME]

The oracle is an unsharded run of the same build on the same data: volumes byte for
byte, the merged manifest row for row (but for the time column). The partition is checked
for what shard.h promises: every series in exactly one shard, and LPT balance (the most
loaded shard carries at most one series more than the least loaded one can).
The Slurm job array itself is tests/slurm/test_slurm.sh.
"""
import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import GeneratedData, Skip, Suite, check, run  # noqa: E402

PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
suite = Suite("shard", __doc__)


class Work(GeneratedData):
    _cache = {}
    _runs = {}

    @classmethod
    def small(cls):
        # series of 10..60 slices, blank and missing series among them
        return cls.dataset("small", "--patients", "9", "--test-patients", "2", "--size", "96", "--slices", "10:60",
                           "--seed", "11", "--problems")

    @classmethod
    def medium(cls):
        # long enough to kill a shard in the middle
        return cls.dataset("medium", "--patients", "14", "--test-patients", "1", "--size", "256", "--seed", "5",
                           "--problems", "--broken")

    @classmethod
    def single(cls, data):
        """An unsharded run of `data` (the oracle), made once."""
        if data not in cls._runs:
            out = cls.tmp / f"single-{data.name}"
            p = run([MRIPREP, "run", data, out, "--progress", "none", "-q"])
            check(p.returncode in (0, 3), f"single run exited {p.returncode}: {p.stderr[-800:]}")
            cls._runs[data] = out
        return cls._runs[data]


def read_rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def volumes(out):
    out = pathlib.Path(out)
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.npy")}


def others(out):
    """Files in OUT that are neither volumes nor records."""
    out = pathlib.Path(out)
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and p.suffix != ".npy" and not p.name.startswith(("manifest.", "run.")))


def run_shard(data, out, k, n, *opts, expect=(0, 3)):
    p = run([MRIPREP, "run", data, out, "--shard", f"{k}/{n}", "--progress", "none", "-q", *opts])
    check(p.returncode in expect, f"shard {k}/{n} exited {p.returncode}: {p.stderr[-800:]}")
    return p


def same_as_single(single, out, what):
    check(read_rows(single / "manifest.csv") == read_rows(out / "manifest.csv"),
          f"{what}: the merged manifest differs from one run's")
    a, b = volumes(single), volumes(out)
    check(sorted(a) == sorted(b), f"{what}: other volumes: {sorted(set(a) ^ set(b))[:5]}")
    differ = [k for k in a if a[k] != b[k]]
    check(not differ, f"{what}: volumes differ: {differ[:5]}")
    check(not others(out), f"{what}: left in OUT: {others(out)}")


@suite.test
def four_shards_merged_equal_one_run():
    data = Work.small()
    single = Work.single(data)
    out = Work.tmp / "four"
    for k in range(4):
        run_shard(data, out, k, 4)
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    check(names == sorted([f"manifest.{k}-of-4.csv" for k in range(4)] + [f"run.{k}-of-4.json" for k in range(4)]),
          f"records in OUT: {names}")
    p = run([MRIPREP, "merge", out])
    check(p.returncode in (0, 3), f"merge exited {p.returncode}: {p.stderr[-800:]}")
    same_as_single(single, out, "4 shards")
    merged = json.loads((out / "run.json").read_text())
    one = json.loads((single / "run.json").read_text())
    check(merged["fingerprint"] == one["fingerprint"], "merged run.json: another fingerprint")
    for key in ("series", "ok", "empty", "missing", "failed", "excluded", "patients", "files"):
        check(merged["totals"][key] == one["totals"][key],
              f"merged totals.{key} {merged['totals'][key]}, one run {one['totals'][key]}")
    return f"{one['totals']['series']} series, {len(volumes(out))} volumes identical"


@suite.test
def every_series_is_in_exactly_one_shard_and_shards_are_balanced_by_files():
    data = Work.small()
    single = Work.single(data)
    everything = {(r["split"], r["id"], r["modality"]): int(r["files"] or 0) for r in read_rows(single / "manifest.csv")
                  if r["status"] != "missing"}
    report = []
    for n in (2, 3, 5, 7):
        out = Work.tmp / f"part{n}"
        seen, loads = {}, []
        for k in range(n):
            run_shard(data, out, k, n, "--dry-run")  # dry run: the partition without writing
            run_shard(data, out, k, n)
            rows = read_rows(out / f"manifest.{k}-of-{n}.csv")
            load = 0
            for r in rows:
                key = (r["split"], r["id"], r["modality"])
                check(key not in seen, f"N={n}: {key} is in shard {seen.get(key)} and shard {k}")
                seen[key] = k
                load += int(r["files"] or 0)
            loads.append(load)
        check(set(seen) >= set(everything), f"N={n}: series in no shard: {sorted(set(everything) - set(seen))[:5]}")
        biggest = max(everything.values())
        check(max(loads) - min(loads) <= biggest,
              f"N={n}: shard loads {loads} files differ by more than the largest series ({biggest})")
        # the same partition on a second look
        again = Work.tmp / f"part{n}-again"
        run_shard(data, again, n - 1, n)
        check(read_rows(again / f"manifest.{n - 1}-of-{n}.csv") == read_rows(out / f"manifest.{n - 1}-of-{n}.csv"),
              f"N={n}: shard {n - 1} took other series the second time")
        report.append(f"N={n} loads {loads}")
    return "; ".join(report)


@suite.test
def merge_lists_series_without_a_row_and_writes_nothing():
    data = Work.small()
    out = Work.tmp / "gap"
    for k in (0, 2):  # shard 1 never ran
        run_shard(data, out, k, 3)
    p = run([MRIPREP, "merge", out])
    check(p.returncode == 6, f"merge with a shard missing exited {p.returncode}, expected 6: {p.stderr[-500:]}")
    check("have no row" in p.stderr and "train/" in p.stderr, f"the missing series are not listed: {p.stderr[-500:]}")
    check(not (out / "manifest.csv").exists() and not (out / "run.json").exists(), "merge wrote records anyway")
    # nothing to merge at all
    empty = Work.tmp / "no-shards"
    empty.mkdir()
    p = run([MRIPREP, "merge", empty])
    check(p.returncode == 2 and "no shard records" in p.stderr, f"merge of an empty OUT: {p.returncode} {p.stderr}")
    p = run([MRIPREP, "merge"])
    check(p.returncode == 1, f"merge without OUT exited {p.returncode}")
    return "exit 6 listing the series; exit 2 with no records"


@suite.test
def shards_made_with_other_options_are_refused_by_merge():
    data = Work.small()
    out = Work.tmp / "mixed"
    run_shard(data, out, 0, 2)
    run_shard(data, out, 1, 2, "--size", "64")
    p = run([MRIPREP, "merge", out])
    check(p.returncode == 1 and "disagree" in p.stderr and "output options" in p.stderr,
          f"merge of shards with other sizes: exit {p.returncode}: {p.stderr[-500:]}")
    check(not (out / "manifest.csv").exists(), "merge wrote a manifest anyway")
    return p.stderr.strip().splitlines()[-1][:160]


@suite.test
def slurm_array_variables_choose_the_shard():
    data = Work.small()
    out = Work.tmp / "slurm-env"
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="12", SLURM_ARRAY_TASK_MIN="10", SLURM_ARRAY_TASK_MAX="13",
               SLURM_ARRAY_TASK_COUNT="4")
    p = run([MRIPREP, "run", data, out, "--progress", "none"], env=env)
    check(p.returncode in (0, 3), f"exit {p.returncode}: {p.stderr[-500:]}")
    check((out / "manifest.2-of-4.csv").is_file() and (out / "run.2-of-4.json").is_file(),
          f"task 12 of 10..13 did not write shard 2 of 4: {sorted(x.name for x in out.iterdir())}")
    # the same rows as --shard 2/4
    explicit = Work.tmp / "slurm-explicit"
    run_shard(data, explicit, 2, 4)
    check(read_rows(out / "manifest.2-of-4.csv") == read_rows(explicit / "manifest.2-of-4.csv"),
          "the environment's shard 2/4 holds other series than --shard 2/4")
    # --shard none and a one-task array: a whole run
    whole = Work.tmp / "slurm-none"
    p = run([MRIPREP, "run", data, whole, "--progress", "none", "-q", "--shard", "none"], env=env)
    check(p.returncode in (0, 3) and (whole / "manifest.csv").is_file(), f"--shard none: {p.returncode}")
    # an array with a step: the offset is not the shard number
    bad = dict(os.environ, SLURM_ARRAY_TASK_ID="8", SLURM_ARRAY_TASK_MIN="0", SLURM_ARRAY_TASK_COUNT="4")
    p = run([MRIPREP, "run", data, Work.tmp / "slurm-bad", "--progress", "none"], env=bad)
    check(p.returncode == 1 and "--shard K/N" in p.stderr, f"task 8 of a 4-task array: {p.returncode} {p.stderr}")
    check(not (Work.tmp / "slurm-bad").exists(), "a refused run created OUT")
    for text in ("4/4", "-1/4", "1/0", "a/b", "1/", "/4", "1/4x", "0/70000"):
        p = run([MRIPREP, "run", data, Work.tmp / "bad-shard", "--shard", text, "--progress", "none"])
        check(p.returncode == 1 and "--shard" in p.stderr, f"--shard {text}: exit {p.returncode} {p.stderr[-200:]}")
    return "task 12 of 10..13 -> shard 2/4; bad values refused"


@suite.test
def killed_shard_rerun_alone_completes_the_merge():
    data = Work.medium()
    single = Work.single(data)
    out = Work.tmp / "killed"
    for k in (0, 1, 3):
        run_shard(data, out, k, 4)
    duration = max(json.loads((single / "run.json").read_text())["elapsed_s"] / 4, 0.2)
    kills = 0
    last_killed = False
    for delay in (0.1, 0.25, 0.5):  # the first kill comes early; each rerun resumes what is left
        p = subprocess.Popen([str(MRIPREP), "run", str(data), str(out), "--shard", "2/4", "--progress", "none", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay * duration)
        last_killed = p.poll() is None
        if last_killed:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    p = run([MRIPREP, "merge", out])
    if last_killed:
        # killed with series left: nothing merged; killed after its last row: merged
        # from the rows its .partial manifest holds
        late = p.returncode in (0, 3) and (out / "manifest.2-of-4.csv.partial").is_file()
        check(p.returncode == 6 or late, f"merge after killing shard 2 exited {p.returncode}: {p.stderr[-400:]}")
        if late:
            (out / "manifest.csv").unlink()
            (out / "run.json").unlink()
    p = run_shard(data, out, 2, 4)
    state = json.loads((out / "run.2-of-4.json").read_text())
    check(state["state"] == "complete", f"rerun shard state {state['state']}")
    p = run([MRIPREP, "merge", out])
    check(p.returncode in (0, 3), f"merge after the rerun exited {p.returncode}: {p.stderr[-400:]}")
    same_as_single(single, out, "killed and rerun shard")
    if not kills:
        raise Skip("shard 2 finished before every kill: this machine is too fast for the dataset")
    return f"{kills} kill -9s of shard 2/4, rerun resumed {state['totals']['resumed']} series, merge identical"


@suite.test
def a_whole_run_finishes_what_shards_left_and_a_shard_overwrite_keeps_the_others():
    data = Work.small()
    single = Work.single(data)
    out = Work.tmp / "finish"
    for k in (0, 1):  # shards 2 and 3 never ran
        run_shard(data, out, k, 4)
    p = run([MRIPREP, "run", data, out, "--progress", "none", "-q"])
    check(p.returncode in (0, 3), f"whole run exited {p.returncode}: {p.stderr[-400:]}")
    done = json.loads((out / "run.json").read_text())
    ok_in_shards = sum(r["status"] == "ok" for k in (0, 1) for r in read_rows(out / f"manifest.{k}-of-4.csv"))
    check(done["totals"]["resumed"] == ok_in_shards,
          f"the whole run kept {done['totals']['resumed']} series, the shards had finished {ok_in_shards}")
    same_as_single(single, out, "whole run after 2 of 4 shards")

    # --overwrite in one shard: its own volumes and records go, the other shard's stay
    out = Work.tmp / "overwrite"
    for k in (0, 1):
        run_shard(data, out, k, 2)
    before = volumes(out)
    mine = {(r["output"]) for r in read_rows(out / "manifest.0-of-2.csv") if r["output"]}
    p = run_shard(data, out, 0, 2, "--size", "64", "--overwrite")
    after = volumes(out)
    theirs = [v for v in before if v not in mine]
    check(all(after.get(v) == before[v] for v in theirs), "--overwrite in shard 0 changed shard 1's volumes")
    check(all(after.get(v) != before[v] for v in mine), "--overwrite in shard 0 left its old volumes")
    check((out / "manifest.1-of-2.csv").is_file() and (out / "run.1-of-2.json").is_file(),
          "--overwrite in shard 0 removed shard 1's records")
    return f"whole run kept {ok_in_shards} series; overwrite touched {len(mine)} of {len(before)} volumes"


def setup_problem():
    return None if MRIPREP.is_file() else f"{MRIPREP} not built: run make first"


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
