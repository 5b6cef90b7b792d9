#!/usr/bin/env bash
# The GPU kit (make gpu-kit -> build/gpu-kit/): validates mriprep's CUDA backend on a bare
# x86-64 Linux GPU machine that has only the NVIDIA driver, CUDA's tools (compute-sanitizer)
# and a python3 with numpy; no dcmtk, no pydicom, no network.
#
#   bash run.sh OUTDIR        (about 3-6 minutes with a GPU; under a minute without)
#
# Steps, each recorded as passed / failed / skipped with its reason and time:
#   devices        mriprep devices --check (the device self-check on every GPU; without
#                  one, the harness against the CPU)
#   test_device_check, test_cuda   the unit tests (test_cuda skips itself without a GPU)
#   cuda_vs_cpu:*  mriprep run --device cuda against --device cpu, byte for byte, on the
#                  kit's generated dataset, for the end-to-end option sets
#   sanitizer:*    compute-sanitizer memcheck, racecheck, synccheck, initcheck on a short run
#                  (memcheck also on devices --check: every self-check path)
#   bench512       a 512x512 dataset made here (numpy_dataset.py), timed --device cpu (all
#                  cores) and --device cuda, per-stage times from run.json, outputs compared
# then OUTDIR/report.md and OUTDIR/report.json. Exit 0 when nothing failed.
set -u
KIT=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: bash run.sh OUTDIR}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work
LOGS=$OUT/logs
rm -rf "$WORK" "$LOGS" "$OUT/steps.tsv"
mkdir -p "$WORK" "$LOGS"
STEPS=$OUT/steps.tsv
PY=$(command -v python3 || true)
T0=$(date +%s)

# record NAME STATUS SECONDS DETAIL
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ' | cut -c1-600)" >>"$STEPS"
  printf '%-28s %-8s %6ss  %s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | head -c 200)"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "mriprep GPU kit: $(date -u +%FT%TZ) on $(hostname), $(nproc) cores; results in $OUT"
tar xzf "$KIT/kit.tar.gz" -C "$WORK" || { echo "run.sh: cannot unpack $KIT/kit.tar.gz" >&2; exit 2; }
BIN=$WORK/mriprep-kit/bin
MRIPREP=$BIN/mriprep
"$MRIPREP" --version | tee "$LOGS/version.txt"

# ---- the device and its self-check -----------------------------------------------------
t=$(now)
"$MRIPREP" devices --check >"$LOGS/devices.txt" 2>&1
rc=$?
cat "$LOGS/devices.txt"
GPU_WHY=$(grep -m1 '^no CUDA device' "$LOGS/devices.txt" || true)
if grep -q '^cuda:[0-9].*compute capability' "$LOGS/devices.txt" && ! grep -q 'no code for it' "$LOGS/devices.txt"; then
  GPU=yes
else
  GPU=no
  [[ -n "$GPU_WHY" ]] || GPU_WHY="no usable CUDA device (see logs/devices.txt)"
fi
record devices "$([[ $rc -eq 0 ]] && echo passed || echo failed)" "$(since "$t")" \
  "$(grep -E '^self-check (cpu|cuda:[0-9]+):' "$LOGS/devices.txt" | tr '\n' ' ' || echo "exit $rc")"

# ---- unit tests ---------------------------------------------------------------------------
gtest() { # name: runs bin/NAME, counts from its JSON
  local name=$1 t json=$LOGS/$1.json
  t=$(now)
  "$BIN/$name" --gtest_brief=1 --gtest_output="json:$json" >"$LOGS/$name.txt" 2>&1
  local rc=$? counts="exit $rc"
  if [[ -s "$json" && -n "$PY" ]]; then
    counts=$("$PY" - "$json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
tests = [t for s in d.get("testsuites", []) for t in s.get("testsuite", [])]
skipped = sum(t.get("result") == "SKIPPED" for t in tests)
failed = sum(bool(t.get("failures")) for t in tests)
print(f"{len(tests) - skipped - failed} passed, {failed} failed, {skipped} skipped")
EOF
)
  fi
  local status=passed
  [[ $rc -eq 0 ]] || status=failed
  [[ $status == passed && $counts == "0 passed, 0 failed, "* ]] && status=skipped
  record "$name" "$status" "$(since "$t")" "$counts"
}
gtest test_device_check
gtest test_cuda

# ---- --device cuda against --device cpu --------------------------------------------------
OPTION_SETS=(
  "notebook|"
  "volumetric|--preset volumetric"
  "volumetric_raw_npy|--preset volumetric --format npy --intensity raw --rescale"
  "float16|--dtype float16"
  "dhw_float16|--layout dhw --dtype float16 --size 48x40 --slices 12"
  "augment|--augment rot90 --seed 7"
  "margin_size|--size 128x96 --margin 3 --slices 32 --dark 0.05"
  "enlarge|--size 300"
  "position_largest_pad|--order position --crop volume --norm nonzero --depth pad --center largest --size 100x37"
)
for entry in "${OPTION_SETS[@]}"; do
  name=${entry%%|*} opts=${entry#*|}
  if [[ $GPU == no ]]; then record "cuda_vs_cpu:$name" skipped 0 "$GPU_WHY"; continue; fi
  t=$(now)
  dir=$WORK/cmp/$name
  # shellcheck disable=SC2086
  "$MRIPREP" run "$KIT/data/small" "$dir/cpu" --device cpu -q --progress none $opts >"$LOGS/cmp-$name-cpu.txt" 2>&1
  rc_cpu=$?
  # shellcheck disable=SC2086
  "$MRIPREP" run "$KIT/data/small" "$dir/cuda" --device cuda -q --progress none $opts >"$LOGS/cmp-$name-cuda.txt" 2>&1
  rc_cuda=$?
  if [[ $rc_cpu -ne $rc_cuda || ($rc_cpu -ne 0 && $rc_cpu -ne 3) ]]; then
    record "cuda_vs_cpu:$name" failed "$(since "$t")" "exit $rc_cpu (cpu) / $rc_cuda (cuda): $(tail -c 300 "$LOGS/cmp-$name-cuda.txt")"
  elif [[ -z "$PY" ]]; then
    record "cuda_vs_cpu:$name" skipped "$(since "$t")" "no python3 to compare the outputs"
  else
    detail=$("$PY" "$KIT/outputs.py" "$dir/cpu" "$dir/cuda" 2>&1)
    record "cuda_vs_cpu:$name" "$([[ $? -eq 0 ]] && echo passed || echo failed)" "$(since "$t")" "$detail"
  fi
done

# ---- compute-sanitizer ---------------------------------------------------------------------
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer 2>/dev/null | head -n 1)
mkdir -p "$WORK/tiny/train"
cp -r "$KIT/data/small/train/00000" "$WORK/tiny/train/"
sanitize() { # name tool args...
  local name=$1 tool=$2 t
  shift 2
  if [[ $GPU == no ]]; then record "sanitizer:$name" skipped 0 "$GPU_WHY"; return; fi
  if [[ -z "$SANITIZER" ]]; then record "sanitizer:$name" skipped 0 "compute-sanitizer not found"; return; fi
  t=$(now)
  timeout 150 "$SANITIZER" --tool "$tool" --error-exitcode 86 "$@" >"$LOGS/sanitizer-$name.txt" 2>&1
  local rc=$? summary
  summary=$(grep -m1 'ERROR SUMMARY\|RACECHECK SUMMARY' "$LOGS/sanitizer-$name.txt" || echo "no summary")
  if [[ $rc -eq 124 ]]; then record "sanitizer:$name" failed "$(since "$t")" "timed out after 150 s"
  elif [[ $rc -eq 0 ]]; then record "sanitizer:$name" passed "$(since "$t")" "$summary"
  else record "sanitizer:$name" failed "$(since "$t")" "exit $rc: $summary; $(grep -m3 '=========' "$LOGS/sanitizer-$name.txt" | tr '\n' ' ')"
  fi
}
for tool in memcheck racecheck synccheck initcheck; do
  rm -rf "$WORK/san-$tool"
  MRIPREP_DEVICE_CHECK=off sanitize "$tool" "$tool" "$MRIPREP" run "$WORK/tiny" "$WORK/san-$tool" --device cuda -q \
    --progress none --preset volumetric --size 64
done
sanitize memcheck_selfcheck memcheck "$MRIPREP" devices --check

# ---- a 512x512 dataset, timed ----------------------------------------------------------------
t=$(now)
if [[ -z "$PY" ]] || ! "$PY" -c 'import numpy' 2>/dev/null; then
  record bench512 skipped 0 "no python3 with numpy to make the dataset"
else
  "$PY" "$KIT/numpy_dataset.py" "$WORK/data512" --patients "${KIT_PATIENTS:-4}" --size 512 --slices 40:80 \
    >"$LOGS/data512.txt" 2>&1
  gen=$(since "$t")
  devices=(cpu)
  [[ $GPU == yes ]] && devices=(cpu cuda)
  ok=1
  for round in 1 2; do
    for d in "${devices[@]}"; do
      rm -rf "$WORK/b512-$d"
      "$MRIPREP" run "$WORK/data512" "$WORK/b512-$d" --device "$d" --threads 0 -q --progress none \
        >"$LOGS/bench512-$d-$round.txt" 2>&1 || ok=0
      cp "$WORK/b512-$d/run.json" "$LOGS/bench512-$d-$round.run.json" 2>/dev/null || ok=0
    done
  done
  detail="dataset: $(cat "$LOGS/data512.txt") in ${gen}s"
  if [[ $GPU == yes && $ok == 1 ]]; then
    cmp=$("$PY" "$KIT/outputs.py" "$WORK/b512-cpu" "$WORK/b512-cuda" 2>&1) || ok=0
    detail="$detail; cuda vs cpu: $cmp"
  elif [[ $GPU == no ]]; then
    detail="$detail; cpu only ($GPU_WHY)"
  fi
  record bench512 "$([[ $ok == 1 ]] && echo passed || echo failed)" "$(since "$t")" "$detail"
fi

# ---- the report --------------------------------------------------------------------------------
if [[ -n "$PY" ]]; then
  "$PY" "$KIT/report.py" "$OUT" "$GPU" "$GPU_WHY" "$(( $(date +%s) - T0 ))"
else
  echo "run.sh: no python3: report.md and report.json not written; steps in $STEPS" >&2
fi
! grep -q $'\tfailed\t' "$STEPS"
