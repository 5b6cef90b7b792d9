#!/usr/bin/env bash
# run_fuzzers.sh - what `make fuzz` runs (fuzz.mk passes the settings in the environment):
# probes clang + libFuzzer, builds each fuzzer, makes the seed corpora, runs each fuzzer
# for FUZZ_SECONDS from a working copy of its seeds and writes the results file
# ({"tests": [{"name": "fuzz.dicom", ...}, {"name": "fuzz.labels", ...}]}, the format
# tests/summarize_results.py reads).
#
#   passed   N executions in S s, corpus C files, no finding
#   failed   the artifact (crash-*, leak-*, timeout-*, oom-* under build/fuzz/artifacts-*/)
#            and the first lines of the report; or why the fuzzer did not build or run
#   skipped  clang or libFuzzer missing (a trivial target does not build or run), or
#            dcmtk's headers missing (fuzz.dicom)
#
# Exits 0 whatever was found (the results file says it; tests/summarize_results.py counts
# it), or 1 on a failed fuzzer when FUZZ_EXIT_STATUS=1. Logs: build/fuzz/*.log.
set -u
cd "$(dirname "$0")/../.."

FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_PYTHON=${FUZZ_PYTHON:-/usr/bin/python3}
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_RESULTS=${FUZZ_RESULTS:-build/test-results/fuzz.json}
FUZZ_MAKE=${FUZZ_MAKE:-make --no-print-directory -f fuzz.mk}
FUZZ_ARGS=${FUZZ_ARGS:-} # extra libFuzzer flags, e.g. "-jobs=4 -workers=4"
TARGETS=(dicom labels)
# UBSan's reports with their stack (libFuzzer's own handlers print the others').
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

mkdir -p "$FUZZ_DIR" "$(dirname "$FUZZ_RESULTS")"
declare -A status message

# A JSON string from any text: bytes that are not printable ASCII become '?', so the
# file is always valid UTF-8 whatever a report quotes from an input.
json_str() {
  local s
  s=$(printf '%s' "$1" | LC_ALL=C tr -c '[:print:]\n' '?')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

write_results() {
  local sep="" t
  {
    printf '{"tests": ['
    for t in "${TARGETS[@]}"; do
      printf '%s\n  {"name": "fuzz.%s", "status": "%s", "message": %s}' "$sep" "$t" "${status[$t]}" \
        "$(json_str "${message[$t]}")"
      sep=","
    done
    printf '\n]}\n'
  } >"$FUZZ_RESULTS"
}

finish() {
  local t failed=0
  write_results
  for t in "${TARGETS[@]}"; do
    echo "fuzz.$t: ${status[$t]}: ${message[$t]}"
    [[ ${status[$t]} == failed ]] && failed=1
  done
  echo "results: $FUZZ_RESULTS"
  # Like the other test steps, a finding is a failed result, not a failed command (so
  # `make test` still reaches its summary); FUZZ_EXIT_STATUS=1 makes it one too.
  [[ ${FUZZ_EXIT_STATUS:-0} == 1 ]] && exit $failed
  exit 0
}

# ---- probe: can this compiler build and run a libFuzzer target? -------------------
probe_dir=$FUZZ_DIR/probe
mkdir -p "$probe_dir"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);' \
  'int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }' \
  >"$probe_dir/probe.c"
why=""
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
  why="$FUZZ_CC not found (install clang and libclang-rt-dev)"
elif ! LC_ALL=C "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" \
  >"$probe_dir/probe.log" 2>&1; then
  why="$FUZZ_CC cannot build a libFuzzer target (-fsanitize=fuzzer,address,undefined): $(grep -m1 -E 'error|cannot' "$probe_dir/probe.log")"
elif ! "$probe_dir/probe" -runs=1 >>"$probe_dir/probe.log" 2>&1; then
  why="a trivial libFuzzer target built by $FUZZ_CC does not run: $(tail -n 1 "$probe_dir/probe.log")"
fi
if [[ -n $why ]]; then
  for t in "${TARGETS[@]}"; do status[$t]=skipped; message[$t]=$why; done
  finish
fi

# ---- build ---------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do status[$t]=""; done
if [[ ! -f /usr/include/dcmtk/dcmdata/dctk.h ]]; then
  status[dicom]=skipped
  message[dicom]="dcmtk headers not found (/usr/include/dcmtk/dcmdata/dctk.h): run make deps"
fi
for t in "${TARGETS[@]}"; do
  [[ -n ${status[$t]} ]] && continue
  log=$FUZZ_DIR/build-$t.log
  echo "== building $FUZZ_DIR/fuzz_$t (log: $log)"
  if ! $FUZZ_MAKE "$FUZZ_DIR/fuzz_$t" >"$log" 2>&1; then
    status[$t]=failed
    message[$t]="build failed ($log): $(grep -m3 -E 'error' "$log" | tr '\n' ' ')"
    continue
  fi
  # Warnings in our code are worth seeing even when the build passes.
  grep -E 'warning:' "$log" | sed 's/^/   /'
done

# ---- seeds ---------------------------------------------------------------------------
echo "== seeds: $FUZZ_PYTHON tests/fuzz/make_seeds.py $FUZZ_DIR/seeds"
seed_note=""
if ! "$FUZZ_PYTHON" tests/fuzz/make_seeds.py "$FUZZ_DIR/seeds" >"$FUZZ_DIR/seeds.log" 2>&1; then
  seed_note=" (seeds failed, see $FUZZ_DIR/seeds.log)"
fi
sed 's/^/   /' "$FUZZ_DIR/seeds.log"

# ---- run -----------------------------------------------------------------------------
# The first lines of a sanitizer's or an invariant's report: what went wrong, the first
# four frames outside the sanitizers, libFuzzer and libc (where it happened: dcmtk or
# ours) and the first frame of ours, and the SUMMARY line; addresses left out.
report_head() {
  awk '
    !on && /==[0-9]+== ?ERROR|fuzz invariant failed|runtime error:|ERROR: libFuzzer/ { on = 1 }
    !on { next }
    /^ *#[0-9]+ / {
      if ($0 ~ / in (__sanitizer|__asan|__lsan|__ubsan|__interceptor|fuzzer::|operator new|operator delete|malloc|calloc|realloc|raise|abort|__pthread_kill|__libc_start|_start|main \()/) next
      if ($0 ~ /libc\.so|compiler-rt|sanitizer_common/) next
      sub(/ *\(BuildId: [0-9a-f]*\)/, ""); sub(/0x[0-9a-f]+ in /, "")
      gsub(/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/, "std::string")
      ours = $0 ~ /\/(src|tests)\//
      # The first four frames, then the first of ours if none of those was.
      if (frames < 4 || (ours && !shown_ours)) { print; frames++; shown_ours = shown_ours || ours }
      next
    }
    /^SUMMARY:/ { sub(/ *\(BuildId: [0-9a-f]*\)/, ""); gsub(/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/, "std::string"); print; exit }
    /^(MS:|base unit|artifact_prefix|NOTE:|    |$)/ { next }
    lines++ < 3 { print }
  ' "$1"
}

for t in "${TARGETS[@]}"; do
  [[ -n ${status[$t]} ]] && continue
  bin=$FUZZ_DIR/fuzz_$t
  corpus=$FUZZ_DIR/corpus-$t
  artifacts=$FUZZ_DIR/artifacts-$t
  log=$FUZZ_DIR/fuzz_$t.log
  mkdir -p "$corpus" "$artifacts"
  # The working corpus keeps what earlier runs found; the seeds are added, never replaced.
  [[ -d $FUZZ_DIR/seeds/$t ]] && cp -n "$FUZZ_DIR/seeds/$t/." "$corpus/" -r 2>/dev/null
  echo "== fuzz.$t: $bin for ${FUZZ_SECONDS} s from $(find "$corpus" -type f | wc -l) inputs (log: $log)"
  stamp=$FUZZ_DIR/.start-$t
  touch "$stamp"
  start=$SECONDS
  # libFuzzer stops itself; timeout only guards against a fuzzer that never returns.
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  timeout -s KILL $((FUZZ_SECONDS + 3 * FUZZ_TIMEOUT + 120)) \
    "$bin" "$corpus" -dict="tests/fuzz/$t.dict" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
    -rss_limit_mb="$FUZZ_RSS_MB" -artifact_prefix="$artifacts/" -print_final_stats=1 $FUZZ_ARGS \
    >"$log" 2>&1 </dev/null
  rc=$?
  wall=$((SECONDS - start))
  # The input folders of processes that crashed (fuzz_util.h names them by pid; a
  # normal exit removes its own). kill -0 only asks whether the process still exists.
  for base in "${MRIPREP_FUZZ_TMPDIR:-}" /dev/shm "${TMPDIR:-}" /tmp; do
    [[ -n $base ]] || continue
    for d in "$base/mriprep-fuzz-$t".*; do
      [[ -d $d ]] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"
    done
  done

  # The count: libFuzzer's last "Done N runs in S second(s)", else its final stats, else
  # (-fork mode) its last status line "#N: cov: ...".
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n 1)
  [[ -z $runs ]] && runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  [[ -z $runs ]] && runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)
  [[ -z $secs ]] && secs=$wall
  files=$(find "$corpus" -type f | wc -l)
  # What this run found: the unit libFuzzer names, and every artifact newer than the
  # start (-fork mode with -ignore_crashes names none in its log but still saves them).
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  found=$(find "$artifacts" -type f -newer "$stamp" | wc -l)
  [[ -z $artifact && $found -gt 0 ]] && artifact=$(find "$artifacts" -type f -newer "$stamp" | sort | head -n 1)
  rm -f "$stamp"
  if [[ $rc -eq 0 && -z $artifact ]]; then
    status[$t]=passed
    message[$t]="${runs:-?} executions in $secs s, corpus $files files, no finding$seed_note"
  elif [[ -n $artifact ]]; then
    status[$t]=failed
    more=""
    ((found > 1)) && more=" (and $((found - 1)) more in $artifacts/)"
    message[$t]="$artifact$more after ${runs:-?} executions in $wall s (log: $log; reproduce: $bin $artifact):
$(report_head "$log")"
  else
    status[$t]=failed
    message[$t]="$bin exited $rc after $wall s without a finding (log: $log):
$(tail -n 6 "$log")"
  fi
  echo "   ${status[$t]}: ${message[$t]%%$'\n'*}"
done
finish
