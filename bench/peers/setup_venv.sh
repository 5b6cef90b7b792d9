#!/usr/bin/env bash
# Creates bench/.peers-venv once (reused afterwards): the Python environment of the peer
# pipelines that bench/bench.py times when BENCH_PEERS=1 (bench/peers/*.py).
#   torch (the CPU wheel when its own index answers, else the default wheel from PyPI,
#   which brings the CUDA libraries: several GB), monai, pydicom, numpy.
# The venv is made with pyenv's python3 (or $BENCH_PEERS_PYTHON), not Debian's
# /usr/bin/python3, so that pip never touches the system's packages. It is complete when
# bench/.peers-venv/.complete exists (pip freeze of what was installed); delete the
# folder to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=bench/.peers-venv
if [[ -f $VENV/.complete ]]; then exit 0; fi

PY=${BENCH_PEERS_PYTHON:-}
if [[ -z $PY ]]; then
  PY=$(pyenv which python3 2>/dev/null || command -v python3 || true)
fi
[[ -n $PY ]] || { echo "setup_venv: no python3 found (set BENCH_PEERS_PYTHON)" >&2; exit 1; }
case "$(readlink -f "$PY")" in
  /usr/bin/*) echo "setup_venv: note: $PY is the system Python; set BENCH_PEERS_PYTHON to another one" >&2 ;;
esac
echo "setup_venv: creating $VENV with $PY ($("$PY" --version 2>&1))"

# torch with its CUDA wheels takes about 5-6 GB once installed, more while pip unpacks.
avail_kb=$(df --output=avail -k bench | tail -1)
df -h bench | sed 's/^/setup_venv: /'
if (( avail_kb < 12 * 1024 * 1024 )); then
  echo "setup_venv: less than 12 GB free under bench/: not installing torch here" >&2
  exit 1
fi

rm -rf "$VENV"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --no-input --timeout 30 --retries 1)
TORCH_INDEX=${BENCH_PEERS_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
if "${PIP[@]}" --index-url "$TORCH_INDEX" torch; then
  echo "setup_venv: torch from $TORCH_INDEX"
else
  echo "setup_venv: $TORCH_INDEX not reachable: torch from the default index (with its CUDA libraries)"
  "${PIP[@]}" torch
fi
"${PIP[@]}" monai pydicom numpy
"$VENV/bin/python" - <<'PY'
import monai, numpy, pydicom, torch
from monai.data import PydicomReader
print(f"setup_venv: monai {monai.__version__}, torch {torch.__version__}, pydicom {pydicom.__version__}, "
      f"numpy {numpy.__version__}")
PY
"$VENV/bin/python" -m pip freeze > "$VENV/.complete"
echo "setup_venv: done ($(du -sh "$VENV" | cut -f1))"
