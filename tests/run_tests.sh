#!/usr/bin/env bash
# Runs every test of mriprep: the external oracles' data first, then each GoogleTest
# binary given as an argument, then the end-to-end tests against the notebook pipeline.
# Ends with one line of its own: "N passed, N failed, N skipped" over all of them, and
# exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
results=build/test-results
rm -rf "$results"
mkdir -p "$results"

# The oracles' data: pydicom's arrays of real and generated DICOM files (test_dicom),
# numpy's float16 conversions and .npy headers (test_kernels, test_writer). A script that
# fails is a failed test of its own.
export MRIPREP_ORACLE_DIR=build/oracle/dicom MRIPREP_NUMERIC_ORACLE_DIR=build/oracle/numeric
for oracle in dicom numeric; do
  script=tests/oracle/make_${oracle}_oracle.py
  [[ -f $script ]] || continue
  dir=build/oracle/$oracle
  if ! $PY "$script" "$dir" >"$results/oracle-$oracle.log" 2>&1; then
    echo "oracle: $script failed:"; cat "$results/oracle-$oracle.log"
    printf '{"tests":[{"name":"oracle.%s","status":"failed","message":"see %s"}]}\n' \
      "$oracle" "$results/oracle-$oracle.log" >"$results/oracle-$oracle.json"
  fi
done

for bin in "$@"; do
  name=$(basename "$bin")
  echo "== $name"
  "$bin" --gtest_brief=1 --gtest_output="json:$results/$name.gtest.json" >"$results/$name.gtest.log" 2>&1
  rc=$?
  tail -n 40 "$results/$name.gtest.log"
  if [[ ! -s "$results/$name.gtest.json" ]]; then
    # No report: the binary crashed or could not start. That is one failed test.
    printf '{"tests":[{"name":"%s","status":"failed","message":"exited %s without a report"}]}\n' \
      "$name" "$rc" >"$results/$name.crash.json"
  fi
done

# CUDA 12 (PyPI) compiles the device code for sm_60, what a P100 user builds; skipped
# with the reason when PyPI cannot be reached.
echo "== CUDA 12 compile check (tests/cuda12/check_cuda12.py)"
$PY tests/cuda12/check_cuda12.py --out build/cuda12 --results "$results/cuda12.json"
if [[ ! -s "$results/cuda12.json" ]]; then
  printf '{"tests":[{"name":"cuda12","status":"failed","message":"no report"}]}\n' >"$results/cuda12.crash.json"
fi

# The Python-driven tests: each writes its own results file.
for script in tests/e2e/test_e2e.py tests/e2e/test_scan.py tests/test_show.py tests/test_plot_scan.py; do
  [[ -f $script ]] || continue
  name=$(basename "$script" .py)
  echo "== $script"
  $PY "$script" --results "$results/$name.json"
  rc=$?
  if [[ ! -s "$results/$name.json" ]]; then
    printf '{"tests":[{"name":"%s","status":"failed","message":"exited %s without a report"}]}\n' \
      "$name" "$rc" >"$results/$name.crash.json"
  fi
done

$PY tests/summarize_results.py "$results"
