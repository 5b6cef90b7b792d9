#!/usr/bin/env python3
"""The release bundle (make dist) and the wheel (make wheel), used where they are meant to
run: without the system's dcmtk and without apt.

    /usr/bin/python3 tests/e2e/test_dist.py [--results FILE.json] [-k SUBSTRING]

`make test` builds both first. The oracle is the program of this build, `build/mriprep
run`, on the same generated data (and on real files of pydicom's in JPEG, JPEG-LS and RLE):
the outputs must be byte-identical (volumes and manifest, bar its seconds column).
- The bundle is unpacked from its tarball into a fresh folder (so relocated), and run in a
  minimal root file system (chroot, in a mount namespace of its own) holding only the
  bundle, the data and the base libraries BASE below: no dcmtk, CharLS, libpng, giflib,
  libgomp, ICU or dcmtk's dictionary. build/mriprep must fail to start there (the control).
- The bundle's Python module and the wheel are run by a Python in a mount namespace
  (unshare -m) where the files of the Debian packages in HIDDEN_PACKAGES are covered by
  /dev/null; build/mriprep must fail to start there too.
- The wheel is installed into a fresh virtualenv of a Python that is not Debian's (the
  first python3 on PATH that is not /usr/bin/python3, or $MRIPREP_TEST_PYTHON); numpy and
  auditwheel come from PyPI, and those tests are skipped, saying so, where PyPI cannot be
  reached.
The chroot and the namespaces need root; without it those tests are skipped, saying why.
"""
import csv
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tarfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
from testlib import Failure, GeneratedData, Skip, Suite, check, output_digest, run  # noqa: E402

MRIPREP = ROOT / "build" / "mriprep"
DIST = ROOT / "dist"
# What a bare Debian 12 or Ubuntu 22.04 has, and all a bundled file may load from outside
# the bundle: glibc's libraries, the C++ runtime and zlib.
BASE = ("linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libdl.so.2",
        "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1")
# The packages whose files the namespace covers: dcmtk (its libraries, CharLS and the
# dictionary), OpenJPEG, the image libraries, OpenMP, and what dcmtk pulls in.
HIDDEN_PACKAGES = ("libdcmtk17", "libopenjp2-7", "libpng16-16", "libgif7", "libgomp1", "libicu72", "libxml2")
RUN_OPTION_SETS = [
    [],
    ["--preset", "volumetric", "--format", "nii.gz", "--intensity", "raw", "--rescale"],
    ["--dtype", "float16", "--layout", "dhw", "--size", "48x40", "--augment", "rot90", "--seed", "3"],
]
suite = Suite("dist", __doc__)


class Work(GeneratedData):
    _cache = {}
    bundle = None        # the bundle unpacked from its tarball (a relocated copy)
    venv = None          # the virtualenv the wheel is installed in
    venv_problem = None  # why there is none

    @classmethod
    def data(cls):
        return cls.dataset("data", "--patients", "2", "--test-patients", "1", "--size", "96",
                           "--slices", "6:20", "--problems", "--broken", "--seed", "4")

    @classmethod
    def codecs(cls):
        """Real files in compressed syntaxes (pydicom's): RLE, JPEG-LS, JPEG 2000, 12-bit
        lossy JPEG. Copies that have a position get their own (copies at one position are
        a 4D series, which run refuses); the pixel data stays as encoded."""
        path = cls.tmp / "codecs"
        if not path.exists():
            import pydicom
            import pydicom.data
            series = {"FLAIR": ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm",
                                "MR_small_jp2klossless.dcm"],
                      "T1w": ["JPEG-lossy.dcm"] * 3, "T2w": ["JPGExtended.dcm"] * 3}
            for modality, names in series.items():
                folder = path / "00001" / modality
                folder.mkdir(parents=True)
                for i, name in enumerate(names, 1):
                    ds = pydicom.dcmread(pydicom.data.get_testdata_file(name))
                    if "ImagePositionPatient" in ds:
                        ds.ImagePositionPatient = [float(v) for v in ds.ImagePositionPatient[:2]] + [5.0 * i]
                    ds.save_as(folder / f"Image-{i}.dcm")
        return path

    @classmethod
    def reference(cls, data, opts):
        """build/mriprep run's OUT for (data, opts), made once."""
        key = ("ref", str(data)) + tuple(opts)
        if key not in cls._cache:
            out = cls.tmp / f"ref{len(cls._cache)}"
            p = run([MRIPREP, "run", data, out, "--progress", "none", "-q", *opts])
            check(p.returncode in (0, 3), f"build/mriprep run {' '.join(opts)} exited {p.returncode}: {p.stderr[-800:]}")
            cls._cache[key] = out
        return cls._cache[key]


def tarball():
    found = sorted(DIST.glob("mriprep-*-linux-x86_64.tar.gz"))
    check(len(found) == 1, f"expected one release tarball in {DIST} (make dist), found {[f.name for f in found]}")
    return found[0]


def wheel_file():
    found = sorted(DIST.glob("mriprep-*-py3-none-manylinux_*.whl"))
    check(len(found) == 1, f"expected one wheel in {DIST} (make wheel), found {[f.name for f in found]}")
    return found[0]


def unpacked_bundle():
    if Work.bundle is None:
        dest = Work.tmp / "unpacked"
        with tarfile.open(tarball()) as t:
            t.extractall(dest)
        (top,) = list(dest.iterdir())
        Work.bundle = top
    return Work.bundle


def elf_files(root):
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(p)
    return out


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root (chroot and mount namespaces); run make test as root to check this")
    if run(["unshare", "-m", "true"]).returncode != 0:
        raise Skip("unshare -m is not permitted here (a container without CAP_SYS_ADMIN)")


def hidden_files():
    """The regular files of HIDDEN_PACKAGES: libraries and dcmtk's dictionaries."""
    files = []
    for package in HIDDEN_PACKAGES:
        p = run(["dpkg", "-L", package])
        if p.returncode != 0:
            continue
        for line in p.stdout.splitlines():
            path = pathlib.Path(line)
            if path.is_file() and not path.is_symlink() and ("/lib" in line or line.endswith(".dic")):
                files.append(line)
    check(any("libdcmdata" in f for f in files), f"no dcmtk files found to hide (dpkg -L libdcmtk17): {files[:5]}")
    return files


def run_hidden(cmd, **kw):
    """cmd in a mount namespace where the hidden packages' files read as /dev/null."""
    script = "set -e; for f in \"$@\"; do mount --bind /dev/null \"$f\"; done; exec " + \
             " ".join(shlex.quote(str(c)) for c in cmd)
    return run(["unshare", "-m", "bash", "-c", script, "hide", *hidden_files()], **kw)


def control_fails(runner, program):
    p = runner([program, "--version"])
    check(p.returncode != 0, f"the control {program} started where dcmtk is hidden: the hiding does not hold")
    return p


# ---- the bundle ------------------------------------------------------------------------

@suite.test
def tarball_unpacks_to_the_bundle_tree():
    top = unpacked_bundle()
    staged = DIST / top.name
    mine = sorted(str(p.relative_to(top)) for p in top.rglob("*"))
    want = sorted(str(p.relative_to(staged)) for p in staged.rglob("*"))
    check(mine == want, f"tarball and dist/{top.name} differ: {sorted(set(mine) ^ set(want))[:10]}")
    for path in ("bin/mriprep", "lib/libmriprep.so.1", "share/mriprep/dicom.dic", "python/mriprep.py",
                 "include/mriprep/mriprep.h", "lib/pkgconfig/mriprep.pc", "README.md"):
        check((top / path).is_file(), f"{path} missing from the bundle")
    with tarfile.open(tarball()) as t:
        owners = {(m.uid, m.gid) for m in t.getmembers()}
    check(owners == {(0, 0)}, f"tar members owned by {owners}, expected 0:0")
    return f"{len(mine)} entries, {tarball().stat().st_size / 2**20:.1f} MiB"


@suite.test
def every_bundled_file_loads_only_the_bundle_and_base_libraries():
    top = unpacked_bundle()
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    base_used, bundled_used = set(), set()
    for elf in elf_files(top):
        p = run(["ldd", elf], env=env, expect=0)
        for line in p.stdout.splitlines():
            m = re.match(r"\s*(\S+)\s+=>\s+(not found|\S+)", line) or re.match(r"\s*(\S+)\s+\(0x", line)
            if not m:
                continue
            soname = os.path.basename(m.group(1))
            where = m.group(2) if m.lastindex == 2 else m.group(1)
            rel = elf.relative_to(top)
            check(where != "not found", f"{rel}: {soname} not found")
            if os.path.realpath(where).startswith(str(top.resolve()) + os.sep):
                bundled_used.add(soname)
            else:
                check(soname in BASE, f"{rel}: {soname} comes from {where}, outside the bundle and not a base library")
                base_used.add(soname)
    runpath = run(["patchelf", "--print-rpath", top / "bin" / "mriprep"], expect=0).stdout.strip()
    check(runpath == "$ORIGIN/../lib", f"bin/mriprep RUNPATH {runpath!r}")
    return (f"{len(elf_files(top))} ELF files; base used: {', '.join(sorted(base_used))}; "
            f"bundled: {len(bundled_used)} libraries")


def minimal_root():
    """A root file system of the base libraries only, the bundle and the data."""
    root = Work.tmp / "rootfs"
    if root.exists():
        return root
    libdir = root / "lib" / "x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    for d in ("lib64", "dev", "proc", "tmp", "data"):
        (root / d).mkdir(exist_ok=True)
    found = {}
    for line in run(["ldconfig", "-p"], expect=0).stdout.splitlines():
        m = re.match(r"\s*(\S+) \(libc6,x86-64.*\) => (\S+)", line)
        if m and m.group(1) in BASE and m.group(1) not in found:
            found[m.group(1)] = m.group(2)
    for soname in BASE:
        if soname in found:
            shutil.copyfile(os.path.realpath(found[soname]), libdir / soname)
    shutil.copyfile(os.path.realpath("/lib64/ld-linux-x86-64.so.2"), libdir / "ld-linux-x86-64.so.2")
    os.chmod(libdir / "ld-linux-x86-64.so.2", 0o755)
    os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", root / "lib64" / "ld-linux-x86-64.so.2")
    shutil.copytree(unpacked_bundle(), root / "opt" / "mriprep", symlinks=True)
    shutil.copytree(Work.data(), root / "data" / "generated")
    shutil.copytree(Work.codecs(), root / "data" / "codecs")
    shutil.copyfile(MRIPREP, root / "control-mriprep")
    os.chmod(root / "control-mriprep", 0o755)
    return root


def run_chroot(cmd, **kw):
    root = minimal_root()
    chroot = shutil.which("chroot", path="/usr/sbin:/sbin:/usr/bin:/bin")
    check(chroot, "chroot (coreutils) not found")
    script = (f"set -e; mount --bind /dev {shlex.quote(str(root / 'dev'))}; "
              f"mount -t proc proc {shlex.quote(str(root / 'proc'))}; "
              f"exec {chroot} {shlex.quote(str(root))} " + " ".join(shlex.quote(str(c)) for c in cmd))
    return run(["unshare", "-m", "bash", "-c", script], env={"PATH": "/usr/bin:/bin"}, **kw)


@suite.test
def bundle_runs_in_a_minimal_root_without_dcmtk():
    need_root()
    root = minimal_root()
    p = run_chroot(["/control-mriprep", "--version"])
    check(p.returncode != 0 and "libdcm" in p.stderr,
          f"the control build/mriprep should not start in the minimal root (no dcmtk there): rc {p.returncode} "
          f"{p.stderr[-300:]}")
    p = run_chroot(["/opt/mriprep/bin/mriprep", "--version"], expect=0)
    check("dcmtk: yes" in p.stdout and re.search(r"cuda: (yes .*archs sm_75/80/86/89/90|no)", p.stdout),
          f"--version: {p.stdout}")
    p = run_chroot(["/opt/mriprep/bin/mriprep", "scan", "/data/generated", "--json", "/tmp/scan.json", "-q"])
    check(p.returncode in (0, 3), f"scan exited {p.returncode}: {p.stderr[-500:]}")
    mine = json.loads((root / "tmp" / "scan.json").read_text())
    q = run([MRIPREP, "scan", Work.data(), "--json", Work.tmp / "scan.json", "-q"])
    want = json.loads((Work.tmp / "scan.json").read_text())
    for key in ("files", "series", "patients"):
        check(json.dumps(mine.get(key), sort_keys=True) == json.dumps(want.get(key), sort_keys=True),
              f"scan's {key!r} differs from build/mriprep's")
    with open(Work.reference(Work.codecs(), []) / "manifest.csv") as f:
        codec_rows = {r["modality"]: r["status"] for r in csv.DictReader(f)}
    check(all(codec_rows.get(m) == "ok" for m in ("FLAIR", "T1w", "T2w")),
          f"build/mriprep should decode every compressed series: {codec_rows}")
    compared = 0
    for data in ("generated", "codecs"):
        for i, opts in enumerate(RUN_OPTION_SETS):
            out = f"/tmp/out-{data}-{i}"
            p = run_chroot(["/opt/mriprep/bin/mriprep", "run", f"/data/{data}", out, "--progress", "none", "-q", *opts])
            check(p.returncode in (0, 3), f"bundle run {data} {' '.join(opts)} exited {p.returncode}: {p.stderr[-500:]}")
            ref = Work.reference(Work.data() if data == "generated" else Work.codecs(), opts)
            a, b = output_digest(root / out.lstrip("/")), output_digest(ref)
            check(a == b, f"{data} {' '.join(opts)}: bundle and build/mriprep differ in "
                          f"{sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:6]}")
            compared += len(a)
    p = run_chroot(["/opt/mriprep/bin/mriprep", "show", "/data/codecs/00001/FLAIR", "--png", "/tmp/flair.png"])
    check(p.returncode == 0 and (root / "tmp" / "flair.png").stat().st_size > 0, f"show: {p.stderr[-300:]}")
    # Called through a link on PATH (argv[0] "mriprep"), it still finds its dictionary.
    link = root / "bin" / "mriprep"
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        os.symlink("/opt/mriprep/bin/mriprep", link)
    p = run_chroot(["mriprep", "info", "/data/codecs/00001/T1w/Image-1.dcm"])
    check(p.returncode == 0 and "JPEG" in p.stdout, f"info through a link on PATH: rc {p.returncode} {p.stderr[-300:]}")
    return f"scan, show, info and 6 runs identical to build/mriprep ({compared} files compared)"


@suite.test
def a_dictionary_that_does_not_load_is_a_clear_error():
    dcm = next(Work.codecs().rglob("*.dcm"))
    for bad in ("/dev/null", str(Work.tmp / "no-such.dic")):
        p = run([unpacked_bundle() / "bin" / "mriprep", "info", dcm], env={"DCMDICTPATH": bad, "PATH": "/usr/bin:/bin"})
        check(p.returncode != 0 and f"data dictionary did not load from {bad}" in p.stderr,
              f"DCMDICTPATH={bad}: rc {p.returncode}, stderr {p.stderr[-300:]}")
    return "an empty and a missing DCMDICTPATH name the path"


@suite.test
def bundle_python_module_without_system_dcmtk():
    need_root()
    control_fails(run_hidden, MRIPREP)
    top = unpacked_bundle()
    ref = Work.reference(Work.data(), [])
    code = f"""
import sys, csv, pathlib, numpy as np
sys.path.insert(0, {str(top / 'python')!r})
import mriprep
assert mriprep.library_path() == {str(top / 'lib' / 'libmriprep.so.1')!r}, mriprep.library_path()
n = 0
for row in csv.DictReader(open({str(ref / 'manifest.csv')!r})):
    if row["status"] != "ok":
        continue
    v = mriprep.process_series(pathlib.Path({str(Work.data())!r}) / row["split"] / row["id"] / row["modality"])
    want = np.load(pathlib.Path({str(ref)!r}) / row["output"])
    assert v.dtype == want.dtype and v.shape == want.shape and v.tobytes() == want.tobytes(), row["output"]
    n += 1
print(n)
"""
    p = run_hidden(["/usr/bin/python3", "-c", code])
    check(p.returncode == 0, f"the bundle's module with dcmtk hidden: {p.stderr[-1500:]}")
    return f"{p.stdout.strip()} series from python/mriprep.py equal to build/mriprep run"


# ---- the wheel ---------------------------------------------------------------------------

def other_python():
    if os.environ.get("MRIPREP_TEST_PYTHON"):
        return os.environ["MRIPREP_TEST_PYTHON"]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = pathlib.Path(folder) / "python3"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            if real.startswith("/usr/bin/"):
                continue
            if run([candidate, "-c", "import venv"]).returncode == 0:
                return str(candidate)
    return None


def venv():
    """A fresh virtualenv of a non-Debian Python with the wheel (and auditwheel) installed."""
    if Work.venv is None and Work.venv_problem is None:
        python = other_python()
        if python is None:
            Work.venv_problem = "no Python other than Debian's /usr/bin/python3 here (set MRIPREP_TEST_PYTHON)"
            return None
        path = Work.tmp / "venv"
        run([python, "-m", "venv", path], expect=0)
        pip = [path / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
        p = run([*pip, "install", wheel_file()])
        if p.returncode != 0:
            if re.search(r"No matching distribution found for numpy|Could not find a version|NewConnectionError|"
                         r"Temporary failure in name resolution|Network is unreachable", p.stderr):
                Work.venv_problem = f"numpy could not be fetched from PyPI for the fresh venv: {p.stderr.strip()[-300:]}"
                return None
            raise Failure(f"pip install {wheel_file().name} into a fresh venv of {python}: {p.stderr[-1500:]}")
        run([*pip, "install", "auditwheel"])   # optional: wheel_tag_is_what_auditwheel_says skips without it
        Work.venv = path
    if Work.venv is None:
        raise Skip(Work.venv_problem)
    return Work.venv


@suite.test
def wheel_installs_in_a_fresh_venv_and_equals_run():
    need_root()
    path = venv()
    python = path / "bin" / "python"
    version = run([python, "-c", "import sys; print(sys.version.split()[0], sys.executable)"], expect=0).stdout.strip()
    control_fails(run_hidden, MRIPREP)
    env = {"PATH": f"{path / 'bin'}:/usr/bin:/bin", "HOME": str(Work.tmp)}
    mriprep = path / "bin" / "mriprep"
    check(shutil.which("mriprep", path=env["PATH"]) == str(mriprep), f"the venv's PATH finds {shutil.which('mriprep', path=env['PATH'])}")
    p = run_hidden(["mriprep", "--version"], env=env)
    check(p.returncode == 0 and p.stdout.startswith("mriprep ") and "dcmtk: yes" in p.stdout,
          f"mriprep --version from the venv's PATH: rc {p.returncode} {p.stdout} {p.stderr[-500:]}")
    out = Work.tmp / "wheel-run"
    p = run_hidden(["mriprep", "run", Work.data(), out, "--progress", "none", "-q"], env=env)
    check(p.returncode in (0, 3), f"the venv's mriprep run exited {p.returncode}: {p.stderr[-500:]}")
    check(output_digest(out) == output_digest(Work.reference(Work.data(), [])), "the venv's mriprep run differs from build/mriprep run")
    ref = Work.reference(Work.data(), ["--layout", "dhw", "--size", "64", "--slices", "16"])
    code = f"""
import csv, pathlib, numpy as np, mriprep
lib = mriprep.library_path()
assert "/site-packages/mriprep/lib/" in lib, lib
rows = [r for r in csv.DictReader(open({str(ref / 'manifest.csv')!r}))]
ref = pathlib.Path({str(ref)!r})
same = lambda v, w: v.dtype == w.dtype and v.shape == w.shape and v.tobytes() == w.tobytes()
n = 0
for r in rows:
    if r["status"] == "ok":
        v = mriprep.process_series(pathlib.Path({str(Work.data())!r}) / r["split"] / r["id"] / r["modality"],
                                   layout="dhw", size=64, slices=16)
        assert same(v, np.load(ref / r["output"])), r["output"]
        n += 1
ds = mriprep.Dataset({str(Work.data())!r}, layout="dhw", size=64, slices=16)
for i in range(len(ds)):
    item = ds[i]
    for modality, v in item["volumes"].items():
        row = [r for r in rows if r["id"] == item["id"] and r["split"] == item["split"] and r["modality"] == modality]
        assert len(row) == 1, (item["id"], modality)
        assert (v is None) == (row[0]["status"] != "ok"), (item["id"], modality, row[0]["status"])
        if v is not None:
            assert same(v, np.load(ref / row[0]["output"])), row[0]["output"]
            n += 1
print(n)
"""
    p = run_hidden([python, "-c", code], env=env)
    check(p.returncode == 0, f"process_series / Dataset in the venv: {p.stderr[-1500:]}")
    return f"Python {version}: mriprep run and {p.stdout.strip()} arrays (process_series, Dataset) equal build/mriprep run"


@suite.test
def wheel_tag_is_what_auditwheel_says():
    path = venv()
    auditwheel = path / "bin" / "auditwheel"
    if not auditwheel.exists():
        raise Skip("auditwheel could not be installed from PyPI")
    p = run([auditwheel, "show", wheel_file()], expect=0)
    text = " ".join(p.stdout.split())
    m = re.search(r'consistent with the following platform tag: "(manylinux_2_(\d+)_x86_64)"', text)
    check(m, f"auditwheel show said: {text[:600]}")
    check(wheel_file().name.endswith(f"-py3-none-{m.group(1)}.whl"),
          f"{wheel_file().name}: auditwheel says {m.group(1)}")
    check(int(m.group(2)) <= 35, f"{m.group(1)} does not install on glibc 2.35 (Ubuntu 22.04, Kaggle)")
    return f"{m.group(1)}: installs on glibc 2.{m.group(2)} and newer"


def setup_problem():
    if not MRIPREP.exists():
        return f"{MRIPREP} is missing: run make first"
    if not list(DIST.glob("*.tar.gz")) or not list(DIST.glob("*.whl")):
        return f"no bundle or wheel in {DIST}: run make dist wheel (make test does)"
    return None


if __name__ == "__main__":
    sys.exit(suite.main(Work, setup_problem))
