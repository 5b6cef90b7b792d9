#!/usr/bin/env bash
# same_outputs.sh - are two builds of mriprep byte-identical on real-sized data?
#
#   bench/same_outputs.sh OLD_MRIPREP NEW_MRIPREP [DATA]
#
# Runs both programs on DATA (default bench/data, made by `make bench`) with nine option
# sets that between them take every path of the pipeline (notebook and volumetric
# presets, float16, dhw, sizes and margins, raw intensity with rescale, nonzero norm,
# padding, largest-box centring, NIfTI and gzip, rot90 copies), and compares the SHA-256
# of every volume and of the manifest with its `seconds` column blanked (the only column
# that is a timing). run.json is compared on its fingerprint and totals. Prints one line
# per option set and exits 1 when any differs. A refactoring that claims to change no
# output bytes is checked with this before it lands (outputs go to a temporary folder,
# about 3 GB at a time, removed as it goes).
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") data=$(realpath "${3:-bench/data}")
work=$(mktemp -d "${TMPDIR:-/tmp}/mriprep-same.XXXXXX")
trap 'rm -rf "$work"' EXIT

option_sets=(
    ""
    "--dtype float16 --layout dhw --threads 1"
    "--size 128x96 --slices 32 --margin 3 --dark 0.05"
    "--preset volumetric"
    "--preset volumetric --format npy --intensity raw --rescale"
    "--order position --crop volume --norm nonzero --depth pad --center largest --format nii"
    "--augment rot90 --seed 7 --reorient"
    "--format nii --layout hwd --size 64 --augment rot90 --intensity raw"
    "--preset volumetric --format npy --dtype float16 --layout dhw"
)

# digest OUT: one line per file under OUT, "sha256  relative path", run.json and the
# manifest's seconds column excepted.
digest() {
    local out=$1
    (cd "$out" && find . -type f ! -name run.json ! -name manifest.csv -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum)
    /usr/bin/python3 - "$out" <<'PY'
import csv, hashlib, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = list(csv.reader((out / "manifest.csv").open(newline="")))
col = rows[0].index("seconds")
for r in rows[1:]:
    r[col] = ""
print(hashlib.sha256(repr(rows).encode()).hexdigest(), " manifest.csv (seconds blanked)")
run = json.loads((out / "run.json").read_text())
print(run.get("fingerprint"), json.dumps(run.get("totals"), sort_keys=True), " run.json")
PY
}

status=0
for i in "${!option_sets[@]}"; do
    opts=${option_sets[$i]}
    for which in old new; do
        bin=$old; [[ $which == new ]] && bin=$new
        rm -rf "$work/out"
        # shellcheck disable=SC2086 # the option set is words
        "$bin" run "$data" "$work/out" -q --progress none $opts || [[ $? == 3 ]]
        digest "$work/out" >"$work/$which.$i.txt"
    done
    files=$(wc -l <"$work/old.$i.txt")
    if cmp -s "$work/old.$i.txt" "$work/new.$i.txt"; then
        echo "same      $files digests  run ${opts:-(defaults)}"
    else
        echo "DIFFERENT run ${opts:-(defaults)}:"
        diff "$work/old.$i.txt" "$work/new.$i.txt" | head -n 10
        status=1
    fi
done
exit $status
