#!/usr/bin/env bash
# Create .venv with neurocomp and everything its tests compare against. Idempotent: a second run
# returns at once unless this script, pyproject.toml or constraints.txt changed.
#
# Environment facts this copes with (see README "Set-up notes"):
#  - torch is pinned to 2.13.0, whose CPU wheel is on disk; a looser pin pulls a CUDA build.
#  - lava-nc 0.10.0 declares Python <3.11: installed with --ignore-requires-python and its pins.
#  - norse 1.1.0 requires torchvision (which pulls CUDA torch): installed with --no-deps.
#  - sinabs 3.1.3 declares nir<=1.0.4 and samna (a Speck driver it does not import for this):
#    installed with --no-deps, plus pbr, which it imports. rockpool 3.1.0 needs numpy and scipy.
#  - Spyx needs JAX and numpy 2, which Lava's pins exclude: scripts/spyx_golden.py makes its own
#    environment for the golden data in tests/data/spyx/.
#  - neurobench 2.3.0 requires torchaudio and tonic (no torchaudio matches torch 2.13; both only
#    serve its data sets): installed with --no-deps; its tqdm is in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
stamp="$VENV/.neurocomp-setup"
want=$(cat scripts/setup.sh pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/neurocomp" ]; then
    exit 0
fi
echo "setting up $VENV (about a minute on a fresh machine)..." >&2
"$PY" -m venv "$VENV"
log=$(mktemp)
pip() {
    if ! "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" >"$log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$log" >&2
        echo "setup failed: pip install $*" >&2
        exit 1
    fi
}
C="-c constraints.txt"
pip install $C "torch==2.13.0"
pip install $C --ignore-requires-python "lava-nc==0.10.0"
pip install $C -e ".[frameworks,dev,sweep]"
pip install $C "norse==1.1.0" --no-deps
pip install $C "sinabs==3.1.3" --no-deps
pip install $C "pbr>=6" "rockpool==3.1.0"
pip install $C "neurobench==2.3.0" --no-deps
"$VENV/bin/python" - <<'PY'
import importlib
for mod in ("neurocomp", "torch", "snntorch", "norse", "nir", "lava", "sanafe", "neurobench",
            "pandas", "pyarrow", "distributed", "sinabs", "rockpool"):
    importlib.import_module(mod) if mod != "lava" else importlib.util.find_spec("lava")
PY
echo "$want" > "$stamp"
