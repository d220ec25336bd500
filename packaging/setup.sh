#!/usr/bin/env bash
# Sets up everything Descent needs on a Debian machine: the system libraries Qt,
# OpenGL and Xvfb need (when missing and when we can install them), a virtual
# environment in .venv with torch pinned to the local CPU build, and Descent itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES="xvfb xauth libgl1 libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 \
libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-image0 libxcb-render-util0 \
libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libxcb-xkb1 libfontconfig1 libdbus-1-3 \
libglib2.0-0 fonts-dejavu-core \
librsvg2-bin appstream desktop-file-utils"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $DEB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "descent setup: installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "descent setup: warning: missing Debian packages:$missing (run as root to install them)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.descent-setup
want="$(cat pyproject.toml packaging/constraints.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  $VPY -m pip install -q --upgrade pip 2>/dev/null || true
  # TORCH_SPEC lets a user choose another build, e.g. a CUDA one (see README).
  $VPY -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
  if [ -z "${TORCH_SPEC:-}" ]; then
    $VPY -m pip install -q -c packaging/constraints.txt -e ".[test]"
  else
    $VPY -m pip install -q -e ".[test]"
  fi
  echo "$want" > "$stamp"
fi
