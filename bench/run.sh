#!/usr/bin/env bash
# The benchmark (see bench/bench.py for options): mriprep vs the notebook pipeline and
# the read limit on a generated 512x512 dataset. `make bench` runs it with defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/mriprep && -x build/bench/decode_only ]] || make all build/bench/decode_only
exec /usr/bin/python3 bench/bench.py "$@"
