#!/usr/bin/env bash
# run_lab.sh - builds and runs the kernel labs (bench/lab/stats.c, bench/lab/resize.c) and
# prints, per lab, a table: variant, verified (bit-identical to v1 on every test input:
# yes/NO), median time, speed-up vs v1. Everything it writes is under build/lab/.
#
#   bench/lab/run_lab.sh [--quick] [--native] [--synthetic] [--reps N]
#     --quick      fewer passes, sampled instead of exhaustive identity checks (~10 s)
#     --native     also run the -march=native builds (does the picture change?)
#     --synthetic  do not decode bench/data; time on generated MR-like slices only
#
# Real slices: the first run decodes bench/data with build/libmriprep_internal.a (made by the main
# Makefile, never by this script) into build/lab/slices.bin (every 20th file, 200 slices);
# without that library or bench/data the labs use generated slices.
# Single-threaded throughout. Exit status 1 when some variant differs from its v1.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=() native=0 synthetic=0 reps=()
while (($#)); do
    case $1 in
    --quick) quick=(--quick) ;;
    --native) native=1 ;;
    --synthetic) synthetic=1 ;;
    --reps) reps=(--reps "$2"); shift ;;
    *) echo "usage: $0 [--quick] [--native] [--synthetic] [--reps N]" >&2; exit 2 ;;
    esac
    shift
done

make -s -f bench/lab/Makefile all
real=()
if ((!synthetic)); then
    if [[ ! -s build/lab/slices.bin && -f build/libmriprep_internal.a && -d bench/data ]]; then
        if make -s -f bench/lab/Makefile extract 2>build/lab/extract.log; then
            find bench/data -name '*.dcm' | LC_ALL=C sort | build/lab/extract build/lab/slices.bin 200 ||
                rm -f build/lab/slices.bin
        else
            echo "(could not link build/lab/extract, see build/lab/extract.log: generated slices only)"
        fi
    fi
    [[ -s build/lab/slices.bin ]] && real=(--real build/lab/slices.bin)
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "kernel lab: $cpu, $(nproc) cores, $(gcc --version | head -n 1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
run() { # title binary
    echo
    echo "==== $1"
    "$2" "${quick[@]}" "${reps[@]}" "${real[@]}" || status=1
}
run "stats (baseline x86-64: -std=c11 -O3 -ffp-contract=off -fno-fast-math -fno-math-errno)" build/lab/stats
run "resize (baseline x86-64, same flags)" build/lab/resize
if ((native)); then
    run "stats, -march=native" build/lab/native/stats
    run "resize, -march=native" build/lab/native/resize
fi
exit $status
