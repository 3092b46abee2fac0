#!/usr/bin/env bash
# Build the one-folder bundle: packaging/dist/refrain/refrain (run from anywhere; needs ./run.sh's .venv).
# Prints the bundle's size. Usage: packaging/build.sh [--clean]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q -c requirements.lock pyinstaller
"$PY" -m PyInstaller --noconfirm ${1:-} --log-level WARN \
    --distpath packaging/dist --workpath packaging/build packaging/refrain.spec
du -sh packaging/dist/refrain | awk '{print "refrain: bundle " $1 " in packaging/dist/refrain"}'
