#!/usr/bin/env python3
"""Tests of libmriprep's public API and the Python binding (scripts/mriprep.py).

Run with /usr/bin/python3 (Debian's numpy). The oracle for every volume is the .npy that
the program `build/mriprep run` writes for the same series and options, compared byte for
byte (dtype, shape and bytes); data is generated with scripts/make_dataset.py. The last
test installs into a temporary DESTDIR and builds a C program against the installed
library through pkg-config.

    /usr/bin/python3 tests/e2e/test_binding.py [--results FILE.json] [-k SUBSTRING]
"""
import csv
import multiprocessing
import os
import pathlib
import re
import shutil
import sys
import threading

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(ROOT / "scripts"))
from testlib import Failure, GeneratedData, Skip, Suite, check, run  # noqa: E402

PY = "/usr/bin/python3"
MRIPREP = ROOT / "build" / "mriprep"
LIBRARY = ROOT / "build" / "libmriprep.so.1"
suite = Suite("binding", __doc__)

mriprep = None  # the module under test, imported in setup_problem()


class Work(GeneratedData):
    """Generated data and `mriprep run` outputs, made once per session."""
    _cache = {}

    @classmethod
    def small(cls):
        # Normal patients only: every series gives a volume (64x64 and smaller slices).
        return cls.dataset("small", "--patients", "2", "--test-patients", "1", "--size", "64",
                           "--slices", "6:24", "--seed", "11")

    @classmethod
    def problems(cls):
        # Missing modality, folders without .dcm, blank and all-dark series, broken files.
        return cls.dataset("problems", "--patients", "1", "--test-patients", "1", "--size", "64",
                           "--slices", "6:16", "--problems", "--broken", "--seed", "5")

    @classmethod
    def run_out(cls, data, *opts):
        """OUT of `mriprep run DATA OUT *opts` (made once per argument list)."""
        key = (str(data),) + opts
        if key not in cls._cache:
            out = cls.tmp / f"out{len(cls._cache)}"
            p = run([MRIPREP, "run", data, out, "--progress", "none", "-q", *opts])
            check(p.returncode in (0, 3), f"mriprep run exited {p.returncode}: {p.stderr[-1000:]}")
            cls._cache[key] = out
        return cls._cache[key]


def manifest(out):
    with open(pathlib.Path(out) / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def same_array(mine, npy_path):
    """'' when `mine` equals the .npy byte for byte, else what differs."""
    ref = np.load(npy_path)
    if mine.dtype != ref.dtype:
        return f"dtype {mine.dtype} vs {ref.dtype}"
    if mine.shape != ref.shape:
        return f"shape {mine.shape} vs {ref.shape}"
    if mine.tobytes() != ref.tobytes():
        return f"{int(np.sum(mine.view(np.uint8) != ref.view(np.uint8)))} bytes differ"
    return ""


def series_dir(data, row):
    return pathlib.Path(data) / row["split"] / row["id"] / row["modality"]


def compare_options(run_opts, py_opts, data=None):
    """process_series(**py_opts) on every ok series equals `mriprep run *run_opts`."""
    data = data or Work.small()
    out = Work.run_out(data, *run_opts)
    rows = [r for r in manifest(out) if r["status"] == "ok"]
    check(rows, "mriprep run gave no ok series")
    for r in rows:
        vol = mriprep.process_series(series_dir(data, r), **py_opts)
        diff = same_array(vol, out / r["output"])
        check(not diff, f"{r['output']} with {run_opts}: {diff}")
    return f"{len(rows)} series byte-identical"


# ---- process_series against `mriprep run` ------------------------------------------------

@suite.test
def process_series_defaults():
    return compare_options([], {})


@suite.test
def process_series_size_slices_margin():
    return compare_options(["--size", "40", "--slices", "8", "--margin", "3"],
                           dict(size=40, slices=8, margin=3))


@suite.test
def process_series_rectangular_size_dark():
    return compare_options(["--size", "48x32", "--dark", "0.2"], dict(size="48x32", dark=0.2))


@suite.test
def process_series_tuple_size_is_width_height():
    return compare_options(["--size", "48x32", "--dark", "0.2"], dict(size=(48, 32), dark=0.2))


@suite.test
def process_series_float16_dhw():
    return compare_options(["--size", "56", "--slices", "12", "--dtype", "float16", "--layout", "dhw"],
                           dict(size=56, slices=12, dtype="float16", layout="dhw"))


@suite.test
def process_series_float16_hwd():
    return compare_options(["--size", "32", "--dtype", "float16"], dict(size=32, dtype="float16"))


@suite.test
def process_series_threads_1():
    return compare_options(["--size", "64", "--slices", "10"], dict(size=64, slices=10, threads=1))


@suite.test
def process_series_threads_2():
    return compare_options(["--size", "64", "--slices", "10"], dict(size=64, slices=10, threads=2, device="cpu"))


@suite.test
def process_series_volumetric_preset():
    # run's preset writes NIfTI; --format npy keeps every other choice of the preset.
    said = compare_options(["--preset", "volumetric", "--format", "npy", "--size", "48", "--slices", "16"],
                           dict(preset="volumetric", size=48, slices=16))
    ds = mriprep.Dataset(Work.small(), preset="volumetric", size=48, slices=16)
    item = ds[0]
    for mod, vol in item["volumes"].items():
        folder = pathlib.Path(Work.small()) / item["split"] / item["id"] / mod
        check(vol is not None and vol.tobytes() == mriprep.process_series(folder, preset="volumetric", size=48,
                                                                          slices=16).tobytes(),
              f"Dataset's {mod} differs from process_series'")
    return said + "; Dataset takes the preset too"


@suite.test
def process_series_volumetric_options():
    sets = [(["--order", "position", "--crop", "volume", "--center", "largest", "--slices", "8"],
             dict(order="position", crop="volume", center="largest", slices=8)),
            (["--intensity", "raw", "--rescale", "--norm", "nonzero", "--dtype", "float16", "--size", "40"],
             dict(intensity="raw", rescale=True, norm="nonzero", dtype="float16", size=40)),
            (["--reorient", "--depth", "pad", "--slices", "30", "--layout", "dhw", "--size", "32"],
             dict(reorient=True, depth="pad", slices=30, layout="dhw", size=32)),
            (["--intensity", "raw", "--norm", "nonzero", "--order", "position", "--size", "36x28"],
             dict(intensity="raw", norm="nonzero", order="position", size="36x28"))]
    said = [compare_options(run_opts, py_opts) for run_opts, py_opts in sets]
    return f"{len(sets)} option sets: " + "; ".join(said)


@suite.test
def api_version_1_callers_keep_working():
    """A program built against API 1 calls the mriprep_options_init symbol with a struct
    that ends at `device`: the library must neither write nor read past it."""
    import ctypes
    lib = mriprep._load()
    size = ctypes.sizeof(mriprep._Options)
    v1_bytes = mriprep._Options.order.offset
    raw = (ctypes.c_ubyte * size)(*([0xAB] * size))
    lib.mriprep_options_init.argtypes = [ctypes.c_void_p]
    lib.mriprep_options_init(ctypes.addressof(raw))
    opt = mriprep._Options.from_buffer(raw)
    check(opt.api_version == 1, f"api_version {opt.api_version}")
    check(all(b == 0xAB for b in raw[v1_bytes:]), "mriprep_options_init wrote past a version-1 struct")
    opt.width = opt.height = 40   # the rest (garbage where API 2 has pointers) must be ignored
    handle, message = ctypes.c_void_p(), ctypes.create_string_buffer(512)
    st = lib.mriprep_create(ctypes.byref(opt), ctypes.byref(handle), message, 512)
    check(st == 0, f"mriprep_create: {message.value}")
    try:
        data = Work.small()
        out = Work.run_out(data, "--size", "40")
        row = [r for r in manifest(out) if r["status"] == "ok"][0]
        res = mriprep._Result()
        st = lib.mriprep_process_series(handle, bytes(series_dir(data, row)), None, 0, ctypes.byref(res))
        check(st == 0 and res.outcome == 0, f"status {st}, outcome {res.outcome}: {res.reason}")
        vol = np.empty(tuple(res.shape), np.float32)
        check(lib.mriprep_copy_volume(handle, vol.ctypes.data, vol.nbytes) == 0, "copy")
        diff = same_array(vol, out / row["output"])
        check(not diff, diff)
    finally:
        lib.mriprep_destroy(handle)
    v2 = mriprep._Options()
    lib.mriprep_options_init_version(ctypes.byref(v2), 2)
    check(v2.api_version == 2 and v2.order == b"name" and v2.depth == b"keep" and v2.reorient == 0,
          f"version 2 defaults: {v2.api_version} {v2.order} {v2.depth} {v2.reorient}")
    return f"v1 init wrote {v1_bytes} of {size} bytes; a v1 context gives run's bytes"


@suite.test
def process_series_empty_and_failed_raise():
    data = Work.problems()
    out = Work.run_out(data, "--size", "32")
    rows = manifest(out)
    seen = {"empty": 0, "failed": 0}
    for r in rows:
        if r["status"] not in seen:
            continue
        seen[r["status"]] += 1
        exc = mriprep.EmptySeries if r["status"] == "empty" else mriprep.SeriesFailed
        try:
            mriprep.process_series(series_dir(data, r), size=32)
        except exc as e:
            check(r["reason"] in str(e) and str(series_dir(data, r)) in str(e),
                  f"{r['split']}/{r['id']}/{r['modality']}: message {e!s} lacks run's reason {r['reason']!r} "
                  f"or the path")
            check(e.result["status"] == r["status"], f"result {e.result}")
        else:
            raise Failure(f"{r['id']}/{r['modality']}: no {exc.__name__} for a series run calls {r['status']}")
    check(seen["empty"] >= 2 and seen["failed"] >= 1, f"the generated data lacks cases: {seen}")
    return f"{seen['empty']} empty, {seen['failed']} failed, reasons as in run's manifest"


@suite.test
def bad_path_names_the_path():
    missing = Work.tmp / "no" / "such" / "FLAIR"
    try:
        mriprep.process_series(missing)
    except mriprep.MriprepError as e:
        check(str(missing) in str(e) and e.status == "io" and e.path == str(missing), f"message: {e}")
        msg = str(e)
    else:
        raise Failure("no error for a folder that does not exist")
    a_file = next(Work.small().glob("train/*/FLAIR/*.dcm"))
    try:
        mriprep.process_series(a_file)
    except mriprep.MriprepError as e:
        check(str(a_file) in str(e), f"message: {e}")
    else:
        raise Failure("no error for a file given as a series folder")
    try:
        mriprep.Dataset(Work.tmp / "no-such-dataset")
    except mriprep.MriprepError as e:
        check("no-such-dataset" in str(e), f"message: {e}")
    else:
        raise Failure("no error for a dataset folder that does not exist")
    return msg


@suite.test
def bad_options_are_clear_errors():
    cases = [(dict(slices=0), "slices"), (dict(size=0), "size"), (dict(dark=2.0), "dark"),
             (dict(device="gpu"), "gpu"), (dict(device="cuda:99"), "cuda:99"), (dict(dtype="int8"), "int8"),
             (dict(layout="xyz"), "xyz"), (dict(order="bogus"), "bogus"), (dict(depth="fill"), "fill"),
             (dict(rescale=True), "rescale"), (dict(preset="fast"), "fast")]
    for opts, word in cases:
        try:
            mriprep.Context(**opts)
        except mriprep.MriprepError as e:
            check(word in str(e) and e.status == "usage", f"{opts}: {e} ({e.status})")
        else:
            raise Failure(f"{opts}: accepted")
    try:
        mriprep.Dataset(Work.small(), sizes=3)
    except TypeError as e:
        check("sizes" in str(e), str(e))
    else:
        raise Failure("Dataset accepted an unknown option")


@suite.test
def cuda_device_without_gpu_is_an_error():
    p = run(["nvidia-smi", "-L"]) if shutil.which("nvidia-smi") else None
    if p is not None and p.returncode == 0 and "GPU" in p.stdout:
        raise Skip("a GPU is present: tested by cuda_matches_cpu")
    try:
        mriprep.Context(device="cuda")
    except mriprep.MriprepError as e:
        check(e.status == "usage" and "cuda" in str(e).lower(), str(e))
    else:
        raise Failure("device='cuda' accepted without a GPU")
    ctx = mriprep.Context(device="auto")
    check(ctx.device == "cpu" and ctx.device_reason.startswith("--device auto"), ctx.device_reason)
    return ctx.device_reason


@suite.test
def cuda_matches_cpu():
    try:
        ctx = mriprep.Context(device="cuda", size=48)
    except mriprep.MriprepError as e:
        raise Skip(f"no usable CUDA device: {e}")
    out = Work.run_out(Work.small(), "--size", "48", "--device", "cpu")
    rows = [r for r in manifest(out) if r["status"] == "ok"]
    for r in rows:
        diff = same_array(ctx.process(series_dir(Work.small(), r)), out / r["output"])
        check(not diff, f"{r['output']}: {diff}")
    return f"{len(rows)} series on {ctx.device}"


# ---- Dataset ------------------------------------------------------------------------------

@suite.test
def dataset_matches_run_manifest():
    data = Work.problems()
    out = Work.run_out(data, "--size", "32", "--slices", "6")
    rows = manifest(out)
    ds = mriprep.Dataset(data, size=32, slices=6)
    by_key = {}
    for r in rows:
        by_key.setdefault((r["split"], r["id"]), []).append(r)
    check(len(ds) == len(by_key), f"{len(ds)} patients, run's manifest has {len(by_key)}")
    check(ds.labels_path.endswith("train_labels.csv"), f"labels: {ds.labels_path!r}")
    statuses = {}
    for i in range(len(ds)):
        item = ds[i]
        prows = by_key[(item["split"], item["id"])]
        check([r["modality"] for r in prows] == list(item["volumes"]), f"modalities of {item['id']}")
        label = prows[0]["label"]
        check(item["label"] == (int(label) if label else None), f"{item['id']}: label {item['label']} vs {label!r}")
        for r in prows:
            m = r["modality"]
            vol, status, reason = item["volumes"][m], item["status"][m], item["reasons"][m]
            statuses[status] = statuses.get(status, 0) + 1
            check(status == r["status"], f"{item['id']}/{m}: {status} vs run's {r['status']}")
            if r["status"] == "ok":
                diff = same_array(vol, out / r["output"])
                check(not diff and reason == "", f"{item['id']}/{m}: {diff}")
            else:
                check(vol is None and reason == r["reason"],
                      f"{item['id']}/{m}: volume {type(vol).__name__}, reason {reason!r} vs run's {r['reason']!r}")
    check(statuses.get("missing") and statuses.get("empty") and statuses.get("failed"),
          f"the generated data lacks cases: {statuses}")
    check(ds[-1]["id"] == ds[len(ds) - 1]["id"], "negative index")
    try:
        ds[len(ds)]
    except IndexError:
        pass
    else:
        raise Failure("no IndexError past the end")
    return ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))


@suite.test
def dataset_blank_series_is_none_with_reason():
    data = Work.problems()
    ds = mriprep.Dataset(data, size=32)
    blank = []
    for it in (ds[i] for i in range(len(ds))):
        for m, vol in it["volumes"].items():
            counts = re.fullmatch(r"no slice left \((\d+) blank, (\d+) dark of (\d+)\)", it["reasons"][m])
            if counts and counts.group(1) == counts.group(3):   # every slice blank
                check(vol is None and it["status"][m] == "empty", f"{it['id']}/{m}: {it['status'][m]}")
                blank.append(f"{it['id']}/{m}: {it['reasons'][m]}")
    check(blank, "no all-blank series found in the problems dataset")
    return "; ".join(blank)


@suite.test
def dataset_labels_and_modalities():
    data = Work.problems()
    labels = Work.tmp / "labels.csv"
    labels.write_text("BraTS21ID,MGMT_value\n0,1\n\"00002\",0\n")
    ds = mriprep.Dataset(data, modalities="T2w,FLAIR", labels=labels, size=16, slices=2)
    item = ds[0]
    check(list(item["volumes"]) == ["T2w", "FLAIR"], f"modalities {list(item['volumes'])}")
    got = {p["id"]: p["label"] for p in ds.patients if p["split"] == "train"}
    check(got.get("00000") == 1 and got.get("00002") == 0, f"labels {got}")
    check(all(v is None for k, v in got.items() if k not in ("00000", "00002")), f"labels {got}")
    none = mriprep.Dataset(data, labels=False, size=16, slices=2)
    check(all(none.patients[i]["label"] is None for i in range(len(none))), "labels=False still labelled")
    return f"{len(got)} train patients"


@suite.test
def dataset_transform():
    ds = mriprep.Dataset(Work.small(), size=16, slices=4, layout="dhw",
                         transform=lambda it: (np.stack([v for v in it["volumes"].values()]), it["label"]))
    x, y = ds[0]
    check(x.shape[0] == 4 and x.shape[2:] == (16, 16) and x.shape[1] <= 4 and y in (0, 1), f"{x.shape}, {y}")


# ---- processes and threads ----------------------------------------------------------------

def _item_bytes(ds, i):
    it = ds[i]
    return it["id"], {m: (None if v is None else (v.dtype.str, v.shape, v.tobytes())) for m, v in it["volumes"].items()}


_FORK_DS = None


def _fork_worker(i):
    return _item_bytes(_FORK_DS, i)


@suite.test
def dataset_fork_workers():
    """DataLoader-like: the main process reads items first (its OpenMP threads start), then
    forked workers read every item; each builds its own context; same arrays."""
    global _FORK_DS
    data = Work.problems()
    _FORK_DS = mriprep.Dataset(data, size=24, slices=8, threads=2)
    expected = [_item_bytes(_FORK_DS, i) for i in range(len(_FORK_DS))]
    check(_FORK_DS.context().threads == 2, f"main process threads {_FORK_DS.context().threads}")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.map_async(_fork_worker, range(len(_FORK_DS))).get(timeout=120)
    check(got == expected, "workers' items differ from the main process's")
    # The main process's context still works after the fork.
    check(_item_bytes(_FORK_DS, 0) == expected[0], "main process after fork")
    return f"{len(got)} patients in 2 fork workers"


@suite.test
def dataset_spawn_workers():
    """The dataset pickles without its context (spawn and forkserver workers)."""
    ds = mriprep.Dataset(Work.small(), size=16, slices=4)
    ds[0]
    expected = [_item_bytes(ds, i) for i in range(len(ds))]
    ctx = multiprocessing.get_context("spawn")
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), str(HERE)] + ([env_path] if env_path else []))
    try:
        with ctx.Pool(1) as pool:
            got = pool.starmap_async(_item_bytes, [(ds, i) for i in range(len(ds))]).get(timeout=120)
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_path
    check(got == expected, "spawned worker's items differ")
    return f"{len(got)} patients"


@suite.test
def several_contexts_one_process():
    data = Work.small()
    out_a = Work.run_out(data, "--size", "40", "--slices", "8", "--margin", "3")
    out_b = Work.run_out(data, "--size", "56", "--slices", "12", "--dtype", "float16", "--layout", "dhw")
    a = mriprep.Context(size=40, slices=8, margin=3, threads=1)
    b = mriprep.Context(size=56, slices=12, dtype="float16", layout="dhw", threads=1)
    rows = [r for r in manifest(out_a) if r["status"] == "ok"]
    # Interleaved on one thread.
    for r in rows:
        d = series_dir(data, r)
        check(not same_array(a.process(d), out_a / r["output"]), f"context a, {r['output']}")
        check(not same_array(b.process(d), out_b / r["output"]), f"context b, {r['output']}")
    # At once, one thread per context (the library releases the GIL).
    problems = []

    def worker(ctx, out):
        try:
            for _ in range(2):
                for r in rows:
                    diff = same_array(ctx.process(series_dir(data, r)), out / r["output"])
                    if diff:
                        problems.append(f"{r['output']}: {diff}")
        except Exception as e:  # reported below
            problems.append(repr(e))

    threads = [threading.Thread(target=worker, args=(a, out_a)), threading.Thread(target=worker, args=(b, out_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not problems, "; ".join(problems[:3]))
    a.close()
    try:
        a.process(series_dir(data, rows[0]))
    except mriprep.MriprepError as e:
        check("closed" in str(e), str(e))
    else:
        raise Failure("a closed context processed a series")
    return f"{len(rows)} series x 2 contexts, interleaved and in 2 threads"


# ---- the library and the install ----------------------------------------------------------

@suite.test
def library_exports_only_the_api():
    p = run(["nm", "-D", "--defined-only", LIBRARY], expect=0)
    names = [line.split()[-1].split("@")[0] for line in p.stdout.splitlines() if line.strip()]
    names = [n for n in names if not n.startswith("MRIPREP_")]  # the version nodes
    header = (ROOT / "include" / "mriprep" / "mriprep.h").read_text()
    check(names and all(n.startswith("mriprep_") for n in names), f"exports {sorted(names)[:10]}")
    undeclared = [n for n in names if f"{n}(" not in header]
    check(not undeclared, f"exported but not in mriprep.h: {undeclared}")
    return f"{len(names)} functions"


@suite.test
def module_finds_library_by_env():
    code = "import mriprep; print(mriprep.library_path())"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "scripts"), MRIPREP_LIBRARY=str(ROOT / "build"))
    p = run([PY, "-c", code], env=env, expect=0)
    check(p.stdout.strip() == str(ROOT / "build" / "libmriprep.so.1"), p.stdout)
    env["MRIPREP_LIBRARY"] = str(Work.tmp / "nowhere" / "libmriprep.so")
    p = run([PY, "-c", "import mriprep; mriprep.version()"], env=env)
    check(p.returncode != 0 and "nowhere" in p.stderr and "MRIPREP_LIBRARY" in p.stderr, p.stderr[-500:])


@suite.test
def installed_c_program_and_module():
    if not shutil.which("pkg-config"):
        raise Skip("pkg-config is not installed (make deps)")
    dest = Work.tmp / "destdir"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    p = run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr/local"], env=env)
    check(p.returncode == 0, f"make install: {p.stderr[-1500:]}")
    prefix = dest / "usr" / "local"
    for rel in ["bin/mriprep", "lib/libmriprep.so.1", "lib/libmriprep.so", "include/mriprep/mriprep.h",
                "lib/pkgconfig/mriprep.pc"]:
        check((prefix / rel).exists(), f"not installed: {rel}")
    pc_env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"), PKG_CONFIG_SYSROOT_DIR=str(dest))
    p = run(["pkg-config", "--cflags", "--libs", "mriprep"], env=pc_env, expect=0)
    flags = p.stdout.split()
    check(f"-I{prefix}/include" in flags and f"-L{prefix}/lib" in flags and "-lmriprep" in flags, p.stdout)
    exe = Work.tmp / "use_installed"
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", ROOT / "tests" / "install" / "use_installed.c",
         "-o", exe, *flags], expect=0)
    # Which libmriprep the program loads: the installed one.
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))
    p = run(["ldd", exe], env=run_env, expect=0)
    check(str(prefix / "lib" / "libmriprep.so.1") in p.stdout, p.stdout)
    # The static library: its only global definitions are the API's (the internal
    # functions are local, so they cannot clash with a program's), and a program links
    # with it and pkg-config --static alone.
    archive = prefix / "lib" / "libmriprep.a"
    p = run(["nm", "--defined-only", "-g", archive], expect=0)
    strong = [f[2] for f in (line.split() for line in p.stdout.splitlines()) if len(f) == 3 and f[1] in "TDBR"]
    internal = [name for name in strong if not name.startswith("mriprep_")]
    check(strong and not internal, f"libmriprep.a defines {len(internal)} internal globals: {internal[:8]}")
    p = run(["pkg-config", "--static", "--libs", "mriprep"], env=pc_env, expect=0)
    static_flags = [str(archive) if f == "-lmriprep" else f for f in p.stdout.split()]
    static_exe = Work.tmp / "use_installed_static"
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", ROOT / "tests" / "install" / "use_installed.c",
         f"-I{prefix}/include", "-o", static_exe, *static_flags], expect=0)
    p = run(["ldd", static_exe], expect=0)
    check("libmriprep" not in p.stdout, f"the static program loads a libmriprep: {p.stdout}")

    data = Work.small()
    out = Work.run_out(data, "--size", "56", "--slices", "12", "--dtype", "float16", "--layout", "dhw")
    rows = [r for r in manifest(out) if r["status"] == "ok"][:3]
    for r in rows:
        for program in (exe, static_exe):
            raw = Work.tmp / "volume.raw"
            p = run([program, data, series_dir(data, r), raw, "56", "56", "12", "float16", "dhw"], env=run_env)
            check(p.returncode == 0, f"{program.name} exited {p.returncode}: {p.stdout[-1500:]}{p.stderr[-500:]}")
            ref = np.load(out / r["output"])
            check(p.stdout.split() == ["shape", *map(str, ref.shape)], f"{p.stdout!r} vs {ref.shape}")
            check(raw.read_bytes() == ref.tobytes(), f"{program.name} {r['output']}: bytes differ")

    # The installed Python module, importable from its folder, loads the installed library.
    pydirs = list((prefix / "lib").glob("python3*/dist-packages/mriprep.py"))
    check(len(pydirs) == 1, f"python module: {pydirs}")
    code = ("import sys, numpy as np, mriprep; print(mriprep.library_path()); "
            "v = mriprep.process_series(sys.argv[1], size=56, slices=12, dtype='float16', layout='dhw'); "
            "sys.exit(0 if v.tobytes() == np.load(sys.argv[2]).tobytes() else 1)")
    mod_env = dict(os.environ, PYTHONPATH=str(pydirs[0].parent))
    mod_env.pop("MRIPREP_LIBRARY", None)
    p = run([PY, "-c", code, series_dir(data, rows[0]), out / rows[0]["output"]], env=mod_env, cwd=Work.tmp)
    check(p.returncode == 0, f"installed module: {p.stdout}{p.stderr[-1000:]}")
    check(p.stdout.strip() == str(prefix / "lib" / "libmriprep.so.1"), f"loaded {p.stdout.strip()}")
    p = run(["make", "-s", "-C", ROOT, "uninstall", f"DESTDIR={dest}", "PREFIX=/usr/local"], env=env, expect=0)
    left = [str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file() or f.is_symlink()]
    check(not left, f"left after uninstall: {left}")
    return (f"{len(rows)} series via the installed shared and static C library (the static one exports "
            f"{len(strong)} API symbols, nothing else), 1 via the installed module")


def setup_problem():
    global mriprep
    if not MRIPREP.exists() or not LIBRARY.exists():
        return f"{MRIPREP} or {LIBRARY} is missing: run make first"
    try:
        import mriprep as module
    except Exception as e:
        return f"cannot import scripts/mriprep.py: {e!r}"
    mriprep = module
    try:
        mriprep.version()
    except mriprep.MriprepError as e:
        return str(e)
    return None


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
