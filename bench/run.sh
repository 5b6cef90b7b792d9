#!/usr/bin/env bash
# The benchmark (see bench/bench.py for options): mriprep vs the notebook pipeline,
# dcm2niix and the read limit on a generated 512x512 dataset, warm (page cache full) and
# cold (the dataset's pages dropped before each run); --warm-only / --cold-only (--warm,
# --cold) for one table. BENCH_PEERS=1 adds MONAI (bench/peers/, venv made once in
# bench/.peers-venv). `make bench` runs it with defaults: both tables.
set -euo pipefail
cd "$(dirname "$0")/.."
# --options [options]: each volumetric option alone, the preset and the formats against
# the default preset, warm, on bench/data (bench/bench_options.py --help).
if [[ "${1:-}" == "--options" ]]; then
  shift
  [[ -x build/mriprep ]] || make all
  exec /usr/bin/python3 bench/bench_options.py "$@"
fi
# --binding [options]: on-the-fly through the Python binding vs the notebook vs np.load
# of stored volumes, in patients/s (bench/bench_binding.py --help).
if [[ "${1:-}" == "--binding" ]]; then
  shift
  [[ -x build/mriprep && -e build/libmriprep.so.1 ]] || make all
  exec /usr/bin/python3 bench/bench_binding.py "$@"
fi
[[ -x build/mriprep && -x build/bench/decode_only ]] || make all build/bench/decode_only
exec /usr/bin/python3 bench/bench.py "$@"
