#!/bin/sh
# Make sure `uv` is on PATH (installs it from PyPI with pip when missing).
set -eu
here=$(dirname "$0")
if command -v uv >/dev/null 2>&1; then exit 0; fi
if ! command -v pip3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
  "$here/apt-get.sh" update -qq && "$here/apt-get.sh" install -y -qq python3-pip python3-venv
fi
python3 -m pip install -q --break-system-packages uv 2>/dev/null || python3 -m pip install -q uv
