#!/usr/bin/env bash
# Runs tests of mriprep and collects their results in build/test-results, in the format
# tests/summarize_results.py counts. Phases (one per call, so make can chain them):
#
#   tests/run_tests.sh unit BIN...         the oracles' data, then each GoogleTest binary
#   tests/run_tests.sh unit-as NAME BIN... the same binaries built otherwise (NAME: asan),
#                                          their results prefixed with NAME
#   tests/run_tests.sh system              the CUDA 12 compile check, the Python-driven
#                                          end-to-end tests (the Python binding and the
#                                          installed C library included) and the Slurm test
#   tests/run_tests.sh dist                the release bundle and wheel (tests/e2e/test_dist.py)
#                                          and the GPU kit (tests/e2e/test_gpu_kit.py)
#   tests/run_tests.sh variants            the NO_OMP and SIMD=0 builds' outputs against the
#                                          default build's (tests/e2e/test_variants.py)
#   tests/run_tests.sh summary             one line: "N passed, N failed, N skipped"
#   tests/run_tests.sh reset               start a fresh results folder
#
# A phase never stops at a failure; the summary's exit status says whether anything failed.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
results=build/test-results
mkdir -p "$results"
export MRIPREP_ORACLE_DIR=build/oracle/dicom MRIPREP_NUMERIC_ORACLE_DIR=build/oracle/numeric

no_report() { # name rc file: a test program that wrote no results counts as one failure
  printf '{"tests":[{"name":"%s","status":"failed","message":"exited %s without a report"}]}\n' "$1" "$2" >"$3"
}

oracles() {
  # pydicom's arrays of real and generated DICOM files (test_dicom), numpy's float16
  # conversions and .npy headers (test_kernels, test_writer).
  for oracle in dicom numeric; do
    local script=tests/oracle/make_${oracle}_oracle.py
    if ! $PY "$script" "build/oracle/$oracle" >"$results/oracle-$oracle.log" 2>&1; then
      echo "oracle: $script failed:"; cat "$results/oracle-$oracle.log"
      no_report "oracle.$oracle" 1 "$results/oracle-$oracle.json"
    fi
  done
}

gtests() { # prefix bin...
  local prefix=$1; shift
  for bin in "$@"; do
    local name=$prefix$(basename "$bin")
    echo "== $name"
    "$bin" --gtest_brief=1 --gtest_output="json:$results/$name.gtest.json" >"$results/$name.gtest.log" 2>&1
    local rc=$?
    tail -n 40 "$results/$name.gtest.log"
    [[ -s "$results/$name.gtest.json" ]] || no_report "$name" "$rc" "$results/$name.crash.json"
  done
}

pyscripts() { # script...: each Python-driven test script, its report in $results/<name>.json
  for script in "$@"; do
    local name
    name=$(basename "$script" .py)
    echo "== $script"
    $PY "$script" --results "$results/$name.json"
    local rc=$?
    [[ -s "$results/$name.json" ]] || no_report "$name" "$rc" "$results/$name.crash.json"
  done
}

case "${1:-}" in
  reset) rm -rf "$results"; mkdir -p "$results" ;;
  unit) shift; oracles; gtests "" "$@" ;;
  unit-as) name=$2; shift 2; [[ -d build/oracle/dicom ]] || oracles; gtests "$name-" "$@" ;;
  system)
    # CUDA 12 (PyPI) compiles the device code for sm_60, what a P100 user builds; skipped
    # with the reason when PyPI cannot be reached.
    echo "== CUDA 12 compile check (tests/cuda12/check_cuda12.py)"
    $PY tests/cuda12/check_cuda12.py --out build/cuda12 --results "$results/cuda12.json"
    [[ -s "$results/cuda12.json" ]] || no_report cuda12 1 "$results/cuda12.crash.json"
    pyscripts tests/e2e/test_e2e.py tests/e2e/test_scan.py tests/e2e/test_reliability.py \
              tests/e2e/test_shard.py tests/test_show.py tests/test_plot_scan.py \
              tests/e2e/test_volumetric.py tests/e2e/test_binding.py tests/e2e/test_hostile.py \
              tests/e2e/test_series_kinds.py tests/e2e/test_jpeg2000.py tests/e2e/test_real_files.py
    # A real single-node Slurm (installed and started by the test, stopped by PID at the
    # end): a 4-task array and merge against one run, and one shard resubmitted.
    echo "== tests/slurm/test_slurm.sh"
    bash tests/slurm/test_slurm.sh "$results/slurm.json"
    rc=$?
    [[ -s "$results/slurm.json" ]] || no_report slurm "$rc" "$results/slurm.crash.json"
    ;;
  dist)
    # The release bundle and the wheel (make dist wheel, built before), run in a minimal
    # root and a namespace without the system's dcmtk, and a fresh non-Debian virtualenv.
    # The GPU kit (make gpu-kit) run as on a bare machine, with env -i.
    pyscripts tests/e2e/test_dist.py tests/e2e/test_gpu_kit.py
    ;;
  variants)
    echo "== tests/e2e/test_variants.py"
    $PY tests/e2e/test_variants.py --results "$results/variants.json"
    rc=$?
    [[ -s "$results/variants.json" ]] || no_report variants "$rc" "$results/variants.crash.json"
    ;;
  summary) exec $PY tests/summarize_results.py "$results" ;;
  *) echo "usage: tests/run_tests.sh reset|unit BIN...|unit-as NAME BIN...|system|dist|variants|summary" >&2; exit 2 ;;
esac
