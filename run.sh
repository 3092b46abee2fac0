#!/usr/bin/env bash
# Refrain set-up and entry point.
#   ./run.sh          set up (.venv, pinned packages, Debian packages when root), then start Refrain
#   ./run.sh test     set up, then run the linters and the test suite
set -euo pipefail
cd "$(dirname "$0")"

# Runtime: synth + SoundFont, PortAudio, liblilv (LV2 hosting), the libraries Qt's xcb and offscreen platforms
# load, and a font. Tests: the JACK dummy server and real LV2 plugins. Training data (and its tests): Festival's
# singing voices for sung vocals; flite and espeak-ng for the splitter's two-speaker speech.
DEBS="fluidsynth fluid-soundfont-gm timgm6mb-soundfont libportaudio2 liblilv-0-0 jackd2 x42-plugins lsp-plugins-lv2 swh-lv2
 festival festvox-kallpc16k festvox-kdlpc16k flite espeak-ng
 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1"
PY=${PYTHON:-python3}

install_debs() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 0
    local missing=""
    for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    echo "refrain: installing Debian packages:$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_venv() {
    local stamp=.venv/.refrain-stamp
    local want
    want=$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    echo "refrain: setting up .venv (first run takes a few minutes)" >&2
    [ -x .venv/bin/python ] || "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    # torch first, from its pinned CPU build, so nothing later pulls a CUDA build.
    .venv/bin/python -m pip install -q "$(grep '^torch==' requirements.lock)"
    .venv/bin/python -m pip install -q -c requirements.lock -e ".[train,dev,cluster]"
    # Open-Unmix (the separator's baseline) without its torchaudio requirement, whose only wheel is a
    # CUDA build: models/separator/umx_compat.py stands in for the import it never uses here.
    .venv/bin/python -m pip install -q --no-deps "$(grep '^openunmix==' requirements.lock)"
    echo "$want" > "$stamp"
}

install_debs
install_venv

case "${1:-run}" in
    run)
        shift || true
        # The app when a display exists and Qt can open it (creating the QApplication is the real test).
        if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && timeout 30 .venv/bin/python -c \
            "from PySide6.QtWidgets import QApplication; QApplication([])" >/dev/null 2>&1; then
            exec .venv/bin/refrain app "$@"
        fi
        exec .venv/bin/refrain demo "$@"
        ;;
    test)
        shift
        .venv/bin/ruff check .
        .venv/bin/mypy engine models app
        exec .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: ./run.sh [run|test] [args...]" >&2
        exit 2
        ;;
esac
