#!/usr/bin/env bash
# Build the wheel and sdist, install the wheel into a brand-new virtual environment (the pinned
# CPU torch first, or pip would pull a multi-GB CUDA build) and run the installed app headless:
# --version, a short run, info, export (CSV, PNG/SVG, TensorBoard) and the resources lookup.
# Usage: bash packaging/smoke_wheel.sh [WORKDIR]   (takes minutes: it downloads or copies every dependency)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-$(mktemp -d)}
mkdir -p "$W"
PY=${PYTHON:-python3}
# `build` from the checkout's environment (the test extra has it), the new venv from the plain interpreter
BUILD_PY=${BUILD_PYTHON:-.venv/bin/python}
"$BUILD_PY" -m build --outdir "$W/dist" . >"$W/build.log"
"$PY" -m venv "$W/venv"
V="$W/venv/bin"
"$V/pip" install -q "${TORCH_SPEC:-torch==2.13.0}"
"$V/pip" install -q "$W"/dist/descent-*.whl "tensorboard>=2.14"
cd "$W"
"$V/descent" --version
OMP_NUM_THREADS=1 "$V/descent" run --set train.epochs=2 --set data.n_samples=200 --out run.descent --quiet
"$V/descent" info run.descent | head -5
QT_QPA_PLATFORM=offscreen "$V/descent" export run.descent --to out --format csv,png,svg,tensorboard
"$V/python" -c "from engine.resources import resource; import sys; n = resource('icons', 'descent.svg'); \
print('resources from', n); sys.exit(not n.is_file() or 'site-packages' not in str(n))"
ls out
echo "wheel smoke test passed in $W"
