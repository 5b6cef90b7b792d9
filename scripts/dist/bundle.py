#!/usr/bin/env python3
"""make dist: a relocatable release bundle of this build, untar anywhere and run.

    scripts/dist/bundle.py --name mriprep-0.1.0-linux-x86_64 --version 0.1.0 \\
        --program build/dist/mriprep --library build/dist/libmriprep.so.1 --out dist

Writes OUT/NAME/ and OUT/NAME.tar.gz:

    bin/mriprep                 RUNPATH $ORIGIN/../lib
    lib/libmriprep.so.1         RUNPATH $ORIGIN (and the libmriprep.so link)
    lib/<soname>                every shared library the two need that is not a base
                                library (BASE_LIBRARIES), copied from this machine, RUNPATH
                                $ORIGIN so each finds its own dependencies beside it
    lib/pkgconfig/mriprep.pc    relative to its own folder (${pcfiledir})
    include/mriprep/mriprep.h
    share/mriprep/dicom.dic     dcmtk's data dictionary (and private.dic), found by mriprep
                                beside itself: no DCMDICTPATH needed
    share/mriprep/bundle.json   what was bundled, from which Debian packages and versions
    python/mriprep.py           the binding; finds ../lib/libmriprep.so.1
    licenses/<package>          the copyright file of each bundled library's package
    README.md

The bundle is checked before it is packed: `ldd` of every ELF file in it must resolve to
the bundle or to a base library, or the script fails naming the library. The tarball is
reproducible: sorted names, owner 0, mtimes from SOURCE_DATE_EPOCH (else the last commit's
time, else 0), gzip without a timestamp.
"""
import argparse
import gzip
import io
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

# What a bare Debian 12 or Ubuntu 22.04 (and any glibc 2.35 Linux) has: glibc's own
# libraries, the C++ runtime, zlib. The same as auditwheel's manylinux whitelist, less the
# ones mriprep does not use; everything else the program needs travels in lib/.
BASE_LIBRARIES = (
    "linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libdl.so.2",
    "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1",
)


class BundleError(Exception):
    pass


def sh(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def ldd(path, env=None):
    """{soname: resolved path or None} of everything `path` loads (ldd: the closure)."""
    p = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise BundleError(f"ldd {path} failed: {p.stderr.strip() or p.stdout.strip()}")
    found = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(not found|\S+)", line)
        if m:
            found[m.group(1)] = None if m.group(2) == "not found" else m.group(2)
        else:
            m = re.match(r"\s*(\S+)\s+\(0x", line)
            if m:
                found[os.path.basename(m.group(1))] = m.group(1)
    return found


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def debian_package(path):
    """(package, version) owning `path` (its real file), or (None, None) off Debian."""
    real = os.path.realpath(path)
    for candidate in (real, real.replace("/usr/lib/", "/lib/", 1), real.replace("/lib/", "/usr/lib/", 1)):
        p = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if p.returncode == 0:
            package = p.stdout.split(":", 1)[0].strip()
            version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                                     capture_output=True, text=True).stdout.strip()
            return package, version
    return None, None


def dcmtk_dictionaries(dcmdata_path):
    """dcmtk's dicom.dic and private.dic: the files dcmtk's default DCMDICTPATH names,
    read out of libdcmdata itself so the bundle carries the dictionary of that dcmtk."""
    text = open(os.path.realpath(dcmdata_path), "rb").read()
    m = re.search(rb"(/[\x21-\x7e]*dicom\.dic(?::/[\x21-\x7e]*\.dic)*)", text)
    if not m:
        raise BundleError(f"{dcmdata_path}: no default dictionary path (dicom.dic) found in dcmtk's library")
    paths = [pathlib.Path(p) for p in m.group(1).decode().split(":")]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BundleError(f"dcmtk's dictionary {', '.join(missing)} is not there (libdcmtk17 installed?)")
    return paths


def set_runpath(path, runpath):
    sh("patchelf", "--set-rpath", runpath, path)
    got = sh("patchelf", "--print-rpath", path).strip()
    if got != runpath:
        raise BundleError(f"{path}: RUNPATH is {got!r} after patchelf, expected {runpath!r}")


def check_closed(root):
    """Every ELF file's libraries resolve inside `root` or to a base library."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    problems = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or not is_elf(path):
            continue
        for soname, where in ldd(path, env).items():
            if soname in BASE_LIBRARIES:
                continue
            if where is None:
                problems.append(f"{path.relative_to(root)}: {soname} not found")
            elif not os.path.realpath(where).startswith(str(root.resolve()) + os.sep):
                problems.append(f"{path.relative_to(root)}: {soname} resolves outside the bundle ({where})")
    if problems:
        raise BundleError("the bundle is not self-contained:\n  " + "\n  ".join(problems))


def source_date_epoch():
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    p = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip() else 0


def write_tarball(root, tarball, mtime):
    """root's tree as tarball, byte-reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [root] + sorted(root.rglob("*"), key=lambda p: str(p.relative_to(root)))
        for path in entries:
            info = tar.gettarinfo(str(path), arcname=str(pathlib.Path(root.name) / path.relative_to(root))
                                  if path != root else root.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            if info.isfile():
                info.mode = 0o755 if info.mode & stat.S_IXUSR else 0o644
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                if info.isdir():
                    info.mode = 0o755
                tar.addfile(info)
    with open(tarball, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())


def program_features(program):
    """`mriprep --version`'s lines, run from the bundle (it must start there)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "DCMDICTPATH")}
    p = subprocess.run([str(program), "--version"], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise BundleError(f"{program} --version exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout.splitlines()


README = """# mriprep {version}, release bundle ({name})

Untar anywhere and run; nothing to install, no environment variables:

    tar xzf {name}.tar.gz
    {name}/bin/mriprep --version
    {name}/bin/mriprep run DATA OUT

- `bin/mriprep`: the program. Put `bin/` on PATH, or link to it from a folder on PATH
  (`ln -s $PWD/{name}/bin/mriprep ~/.local/bin/`): it finds its libraries and dcmtk's
  data dictionary beside itself through the real path.
- `python/mriprep.py`: the Python binding (needs numpy). `sys.path.insert(0, "{name}/python")`
  then `import mriprep`; it loads `lib/libmriprep.so.1` of this bundle.
- `include/`, `lib/libmriprep.so`, `lib/pkgconfig/mriprep.pc`: the C API.
  `PKG_CONFIG_PATH={name}/lib/pkgconfig pkg-config --cflags --libs mriprep`.
- `lib/`: the shared libraries the program needs beyond a bare Linux with glibc 2.35 or
  newer (Debian 12, Ubuntu 22.04): {bundled}.
  Assumed present: {base}.
- `licenses/`: the copyright file of each bundled library's package.
- CUDA: the runtime is linked in; a GPU needs only the NVIDIA driver. {cuda}

Built on {built_on} from mriprep {version}; share/mriprep/bundle.json lists the packages
and versions bundled. For a P100 (sm_60), build a bundle with CUDA 12:
`make dist CUDA_ARCH="60 75 80 86 89 90"` on a machine with CUDA 12's nvcc.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--program", required=True, type=pathlib.Path)
    ap.add_argument("--library", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    a = ap.parse_args()

    root = a.out / a.name
    if root.exists():
        shutil.rmtree(root)
    for sub in ("bin", "lib/pkgconfig", "include/mriprep", "share/mriprep", "python", "licenses"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    shutil.copy2(a.program, root / "bin" / "mriprep")
    soname = a.library.name
    shutil.copy2(a.library, root / "lib" / soname)
    os.symlink(soname, root / "lib" / "libmriprep.so")

    # The libraries: the closure of what the program and the library load, less the base.
    needed = {}
    for elf in (a.program, a.library):
        for name, where in ldd(elf).items():
            if name in BASE_LIBRARIES:
                continue
            if where is None:
                raise BundleError(f"{elf}: {name} not found on this machine")
            needed[name] = where
    bundled = []
    for name, where in sorted(needed.items()):
        target = root / "lib" / name
        shutil.copyfile(os.path.realpath(where), target)
        os.chmod(target, 0o755)
        package, version = debian_package(where)
        bundled.append({"soname": name, "from": os.path.realpath(where), "package": package,
                        "version": version})
        if package:
            copyright_file = pathlib.Path("/usr/share/doc") / package / "copyright"
            if copyright_file.is_file():
                shutil.copyfile(copyright_file, root / "licenses" / package)
    for entry in bundled:
        set_runpath(root / "lib" / entry["soname"], "$ORIGIN")
    set_runpath(root / "lib" / soname, "$ORIGIN")
    set_runpath(root / "bin" / "mriprep", "$ORIGIN/../lib")

    dcmdata = next((w for n, w in needed.items() if n.startswith("libdcmdata.")), None)
    if dcmdata is None:
        raise BundleError(f"{a.program} does not load dcmtk's libdcmdata")
    dictionaries = dcmtk_dictionaries(dcmdata)
    for d in dictionaries:
        shutil.copyfile(d, root / "share" / "mriprep" / d.name)

    shutil.copyfile(ROOT / "include" / "mriprep" / "mriprep.h", root / "include" / "mriprep" / "mriprep.h")
    shutil.copyfile(ROOT / "scripts" / "mriprep.py", root / "python" / "mriprep.py")
    (root / "lib" / "pkgconfig" / "mriprep.pc").write_text(
        "prefix=${pcfiledir}/../..\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n"
        "Name: mriprep\nDescription: brain MRI DICOM series to model-ready volumes (release bundle)\n"
        f"Version: {a.version}\nCflags: -I${{includedir}}\n"
        "Libs: -L${libdir} -Wl,-rpath,${libdir} -lmriprep\n")

    check_closed(root)
    features = program_features(root / "bin" / "mriprep")
    cuda = next((line for line in features if line.startswith("cuda:")), "cuda: no")
    os_release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', pathlib.Path("/etc/os-release").read_text(), re.M))
    built_on = os_release.get("PRETTY_NAME", "Linux")
    (root / "share" / "mriprep" / "bundle.json").write_text(json.dumps({
        "name": a.name, "version": a.version, "built_on": built_on, "features": features,
        "bundled": bundled, "base_libraries": list(BASE_LIBRARIES),
        "dictionaries": [d.name for d in dictionaries]}, indent=2) + "\n")
    (root / "README.md").write_text(README.format(
        version=a.version, name=a.name, built_on=built_on, cuda=cuda.replace("cuda: ", "This build: "),
        bundled=", ".join(e["soname"] for e in bundled), base=", ".join(BASE_LIBRARIES)))

    tarball = a.out / f"{a.name}.tar.gz"
    write_tarball(root, tarball, source_date_epoch())
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"dist: {tarball} ({tarball.stat().st_size / 2**20:.1f} MiB; unpacked {size / 2**20:.1f} MiB, "
          f"{len(bundled)} bundled libraries)")


if __name__ == "__main__":
    try:
        main()
    except (BundleError, subprocess.CalledProcessError, OSError) as e:
        detail = getattr(e, "stderr", None)
        print(f"bundle: {e}{': ' + detail.strip() if detail else ''}", file=sys.stderr)
        sys.exit(1)
