#!/usr/bin/env bash
# Smoke test of the PyInstaller bundle: --version, the default experiment's screenshot (under
# Xvfb when there is no display), a headless run (its numba cache in Descent's cache folder) and an
# export; prints its size and start time.
# Usage: bash packaging/smoke_bundle.sh dist/bundle/descent
set -euo pipefail
B=$(cd "$1" && pwd)
W=$(mktemp -d)
X=""
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then X="xvfb-run -a -s -screen\ 0\ 1600x1000x24"; fi
echo "bundle size: $(du -sh "$B" | cut -f1)"
t0=$(date +%s.%N)
"$B/descent" --version
t1=$(date +%s.%N)
echo "start time (--version, cold): $(echo "$t1 - $t0" | bc) s"
cd "$W"
t0=$(date +%s.%N)
eval $X "$B/descent" --screenshot shot.png --run-for 15
t1=$(date +%s.%N)
echo "screenshot of the default experiment: $(echo "$t1 - $t0" | bc) s (15 s of training included)"
test -s shot.png
# numba's cache goes to Descent's own cache folder (the kernels compile on a fresh cache: the
# first start of a new bundle spends that time before its first step)
XDG_CACHE_HOME="$W/cache" OMP_NUM_THREADS=1 "$B/descent" run --set train.epochs=2 --set data.n_samples=200 \
  --set probes.enabled=true --out run.descent --quiet
if [ -z "$(find "$W/cache/Descent/numba" -name '*.nbi' 2>/dev/null)" ] || [ -e "$W/cache/numba" ]; then
  echo "numba's cache is not in Descent's cache folder: $(find "$W/cache" -maxdepth 2 | tr '\n' ' ')" >&2
  exit 1
fi
echo "numba cache: $(find "$W/cache/Descent/numba" -name '*.nbi' | wc -l) kernels in \$XDG_CACHE_HOME/Descent/numba"
"$B/descent" info run.descent | head -3
QT_QPA_PLATFORM=offscreen "$B/descent" export run.descent --to out --format csv,png,svg
ls out | head -3
echo "bundle smoke test passed in $W"
