#!/usr/bin/env python3
"""The CUDA 12 compile check: mriprep's device code, compiled for a P100 (sm_60).

CUDA 13 (what these machines have) no longer targets sm_60, and CUB's API moved between
CCCL 2 (CUDA 12) and CCCL 3 (CUDA 13). A Kaggle P100 user builds with CUDA 12 and
CUDA_ARCH=60, so CI compiles the device code with CUDA 12's own compiler too:

  1. CUDA 12.9 from PyPI (nvidia-cuda-nvrtc-cu12, -nvcc-cu12, -cccl-cu12, -runtime-cu12),
     installed with pip into --out (cached there).
  2. NVRTC 12 compiles kernels/cuda_kernels.cuh (every kernel, with the shared math
     headers and CUB's block primitives from CCCL 2.8) for compute_60, with -fmad=false.
  3. ptxas 12 assembles the PTX for sm_60.
  4. If the nvcc wheel had nvcc, it would compile kernels/cuda_backend.cu whole for
     sm_60; PyPI's wheels have no nvcc driver (only ptxas, libnvvm and headers), so that
     step says so and is skipped.

NVRTC has no C library, so tests/cuda12/include supplies the few libc headers the shared
headers include. Writes {"tests": [...]} (passed/failed/skipped, with reasons) for
tests/summarize_results.py. Run with any Python 3: /usr/bin/python3 tests/cuda12/check_cuda12.py
"""
import argparse
import ctypes
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
WHEELS = ["nvidia-cuda-nvrtc-cu12", "nvidia-cuda-nvcc-cu12", "nvidia-cuda-cccl-cu12", "nvidia-cuda-runtime-cu12"]
ARCH = "60"


def install(target):
    """CUDA 12 from PyPI into target; returns (root of the nvidia packages, None) or (None, why)."""
    nvidia = target / "nvidia"
    if (nvidia / "cuda_nvrtc" / "lib").is_dir() and (nvidia / "cuda_cccl" / "include").is_dir():
        return nvidia, None
    pips = [[p, "-m", "pip"] for p in (shutil.which("python3"), sys.executable, "/usr/bin/python3") if p]
    errors = []
    for pip in pips:
        probe = subprocess.run(pip + ["--version"], capture_output=True, text=True)
        if probe.returncode != 0:
            continue
        p = subprocess.run(pip + ["install", "-q", "--no-deps", "--disable-pip-version-check", "--target",
                                  str(target), *WHEELS], capture_output=True, text=True)
        if p.returncode == 0 and (nvidia / "cuda_nvrtc").is_dir():
            return nvidia, None
        errors.append(f"{' '.join(pip)}: {p.stderr.strip()[-300:]}")
    return None, "cannot install CUDA 12 from PyPI (" + ("; ".join(errors) or "no pip found") + ")"


def nvrtc_compile(nvidia, source_name, source):
    """Compiles CUDA C++ to PTX for compute_60 with NVRTC 12; returns (ptx, log)."""
    lib = ctypes.CDLL(str(nvidia / "cuda_nvrtc" / "lib" / "libnvrtc.so.12"))
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), source_name.encode(), 0, None, None) != 0:
        return None, "nvrtcCreateProgram failed"
    options = [f"--gpu-architecture=compute_{ARCH}", "-fmad=false", "--std=c++17",
               # CUB 2.8's own deprecation notices about its internals, not about our code
               "-diag-suppress=1444",
               f"-I{ROOT}", f"-I{ROOT / 'include'}", f"-I{ROOT / 'tests' / 'cuda12' / 'include'}",
               f"-I{nvidia / 'cuda_cccl' / 'include'}", f"-I{nvidia / 'cuda_runtime' / 'include'}"]
    argv = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    rc = lib.nvrtcCompileProgram(prog, len(options), argv)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    ptx = None
    if rc == 0:
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, buf)
        ptx = buf.value
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return ptx, log.value.decode(errors="replace").strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "cuda12")
    ap.add_argument("--results", type=pathlib.Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []

    def record(name, status, message):
        results.append({"name": f"cuda12.{name}", "status": status, "message": message})
        print(f"{status.upper()} cuda12.{name}: {message}")

    nvidia, why = install(args.out / "pypi")
    if nvidia is None:
        for name in ("nvrtc_device_code_compute_60", "ptxas_sm_60", "nvcc_whole_backend_sm_60"):
            record(name, "skipped", why)
    else:
        version = next((p.name.split("-")[1].replace(".dist", "") for p in
                        (args.out / "pypi").glob("nvidia_cuda_nvrtc_cu12-*.dist-info")), "?")
        ptx, log = nvrtc_compile(nvidia, "cuda_kernels_cu12.cu", '#include "kernels/cuda_kernels.cuh"\n')
        warnings = [line for line in log.splitlines() if "warning" in line and "deprecated" not in line]
        if ptx is None:
            record("nvrtc_device_code_compute_60", "failed", log[-3000:])
        else:
            kernels = sorted(set(l.split()[-1].rstrip("(") for l in ptx.decode().splitlines()
                                 if l.startswith(".visible .entry")))
            record("nvrtc_device_code_compute_60", "failed" if warnings else "passed",
                   "; ".join(warnings)[-2000:] if warnings else
                   f"NVRTC {version}: {len(kernels)} kernels ({', '.join(kernels)}) with CCCL 2.8")
            ptx_path = args.out / "cuda_kernels_sm60.ptx"
            ptx_path.write_bytes(ptx)
            ptxas = nvidia / "cuda_nvcc" / "bin" / "ptxas"
            p = subprocess.run([str(ptxas), f"-arch=sm_{ARCH}", str(ptx_path), "-o",
                                str(args.out / "cuda_kernels_sm60.cubin")], capture_output=True, text=True)
            record("ptxas_sm_60", "passed" if p.returncode == 0 else "failed",
                   "cubin for sm_60" if p.returncode == 0 else p.stderr[-2000:])
        nvcc = nvidia / "cuda_nvcc" / "bin" / "nvcc"
        if nvcc.exists():
            p = subprocess.run([str(nvcc), "-std=c++17", "-fmad=false", f"-I{ROOT}", f"-I{ROOT / 'include'}",
                                f"-I{nvidia / 'cuda_cccl' / 'include'}", f"-I{nvidia / 'cuda_runtime' / 'include'}",
                                "-gencode", f"arch=compute_{ARCH},code=sm_{ARCH}", "-c",
                                str(ROOT / "kernels" / "cuda_backend.cu"), "-o", str(args.out / "cuda_backend_sm60.o")],
                               capture_output=True, text=True)
            record("nvcc_whole_backend_sm_60", "passed" if p.returncode == 0 else "failed",
                   "kernels/cuda_backend.cu for sm_60" if p.returncode == 0 else p.stderr[-2000:])
        else:
            present = sorted(q.name for q in (nvidia / "cuda_nvcc" / "bin").glob("*"))
            record("nvcc_whole_backend_sm_60", "skipped",
                   f"PyPI's nvidia-cuda-nvcc-cu12 has no nvcc driver (its bin/ holds only {', '.join(present)}; "
                   "no cudafe++, cicc or fatbinary), so the host side of kernels/cuda_backend.cu is compiled "
                   "by the installed nvcc only; its device code is checked above")
    if args.results:
        args.results.write_text(json.dumps({"tests": results}, indent=1))
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
