#!/usr/bin/env python3
"""make wheel: a wheel of the release bundle, which pip installs without a compiler.

    scripts/dist/wheel.py dist/mriprep-0.1.0-linux-x86_64 --version 0.1.0 --out dist

The wheel holds one package, `mriprep`:

    mriprep/__init__.py          the binding (scripts/mriprep.py); finds mriprep/lib/
    mriprep/bin/mriprep          the program; the `mriprep` console command runs it
    mriprep/lib/                 libmriprep.so.1 and the bundle's libraries (RUNPATH
                                 $ORIGIN, as in the bundle)
    mriprep/share/mriprep/       dcmtk's dictionary, found beside bin/ and lib/
    mriprep/licenses/            the bundled libraries' copyright files

It is not built by setuptools: the bundle is already what auditwheel's repair makes (the
non-base libraries vendored, RUNPATH set), so this writes the zip and its .dist-info
itself, reproducibly (sorted, fixed times). Its tag is py3-none-manylinux_2_NN_x86_64: the
binding is ctypes, so any Python 3; NN is the oldest glibc the ELF files really need,
from their symbol versions (GLIBC_2.x directly; GLIBCXX_3.4.x through the glibc of the
first manylinux policy whose libstdc++ has it, as auditwheel's policy table says).
"""
import argparse
import base64
import hashlib
import pathlib
import re
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

# auditwheel's manylinux policies (policy/manylinux-policy.json): the newest GLIBCXX each
# allows, for the policies from glibc 2.17 on. A library needing GLIBCXX_3.4.30 (gcc 12's
# libstdc++) is manylinux_2_35 at least, whatever its GLIBC versions say.
GLIBCXX_POLICY = ((2, 17, 19), (2, 24, 22), (2, 27, 24), (2, 31, 28), (2, 34, 29),
                  (2, 35, 30), (2, 39, 33))
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class WheelError(Exception):
    pass


def symbol_versions(path):
    """The GLIBC_2.x minors and GLIBCXX_3.4.x patch numbers `path` requires."""
    p = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        raise WheelError(f"objdump -T {path}: {p.stderr.strip()}")
    glibc = {int(m) for m in re.findall(r"\bGLIBC_2\.(\d+)", p.stdout)}
    glibcxx = {int(m) for m in re.findall(r"\bGLIBCXX_3\.4\.(\d+)", p.stdout)}
    return glibc, glibcxx


def manylinux_minor(elf_files):
    """(glibc minor of the tag, {file: its own need}) for the ELF files."""
    need = {}
    for f in elf_files:
        glibc, glibcxx = symbol_versions(f)
        minor = max(glibc, default=17)
        for cxx in glibcxx:
            allowed = [g for (_, g, c) in GLIBCXX_POLICY if c >= cxx]
            if not allowed:
                raise WheelError(f"{f} needs GLIBCXX_3.4.{cxx}, newer than every manylinux policy known here")
            minor = max(minor, min(allowed))
        need[f] = minor
    return max(need.values(), default=17), need


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def metadata(version):
    readme = (ROOT / "README.md").read_text()
    summary = "Brain MRI DICOM series to model-ready volumes, fast: the notebook's pipeline as one C program"
    return (f"Metadata-Version: 2.1\nName: mriprep\nVersion: {version}\nSummary: {summary}\n"
            "Requires-Python: >=3.8\nRequires-Dist: numpy\n"
            "Description-Content-Type: text/markdown\n\n" + readme)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle", type=pathlib.Path, help="the unpacked release bundle (make dist)")
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    a = ap.parse_args()
    b = a.bundle
    if not (b / "bin" / "mriprep").is_file():
        raise WheelError(f"{b}: not a release bundle (no bin/mriprep); run make dist")

    # arcname -> (source file, executable)
    files = {"mriprep/__init__.py": (b / "python" / "mriprep.py", False),
             "mriprep/bin/mriprep": (b / "bin" / "mriprep", True)}
    for sub in ("lib", "share/mriprep", "licenses"):
        for f in sorted((b / sub).iterdir()):
            if f.is_file() and not f.is_symlink():   # lib/libmriprep.so: a link, not needed by ctypes
                files[f"mriprep/{sub}/{f.name}"] = (f, is_elf(f))

    elf = [src for src, _ in files.values() if is_elf(src)]
    minor, _ = manylinux_minor(elf)
    tag = f"py3-none-manylinux_2_{minor}_x86_64"
    name = f"mriprep-{a.version}"
    dist_info = f"{name}.dist-info"
    wheel = a.out / f"{name}-{tag}.whl"

    generated = {
        f"{dist_info}/METADATA": metadata(a.version).encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: mriprep scripts/dist/wheel.py\n"
                               f"Root-Is-Purelib: false\nTag: {tag}\n").encode(),
        f"{dist_info}/entry_points.txt": b"[console_scripts]\nmriprep = mriprep:console_main\n",
        f"{dist_info}/top_level.txt": b"mriprep\n",
    }
    for old in a.out.glob(f"{name}-*.whl"):
        old.unlink()
    records = []
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data, executable):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_TIME)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            records.append(record_line(arcname, data))
        for arcname in sorted(files):
            src, executable = files[arcname]
            add(arcname, src.read_bytes(), executable)
        for arcname in sorted(generated):
            add(arcname, generated[arcname], False)
        record = "\n".join(records + [f"{dist_info}/RECORD,,"]) + "\n"
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=ZIP_TIME)
        info.external_attr = (0o644 | 0o100000) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, record)
    print(f"wheel: {wheel} ({wheel.stat().st_size / 2**20:.1f} MiB; glibc 2.{minor} or newer)")


if __name__ == "__main__":
    try:
        main()
    except (WheelError, OSError) as e:
        print(f"wheel: {e}", file=sys.stderr)
        sys.exit(1)
