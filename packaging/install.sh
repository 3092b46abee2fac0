#!/usr/bin/env bash
# Install Refrain for the current user: the bundle (packaging/dist/refrain, from packaging/build.sh) or this
# checkout's .venv, a `refrain` command in ~/.local/bin, the desktop entry, the icon and the MIME type of
# .refrain projects (double-click opens them in Refrain).
#   packaging/install.sh            install          packaging/install.sh --uninstall    remove
# XDG_DATA_HOME and PREFIX_BIN (default ~/.local/share, ~/.local/bin) choose where.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
BIN=${PREFIX_BIN:-$HOME/.local/bin}
APPS=$DATA/applications; ICONS=$DATA/icons/hicolor/scalable/apps; MIME=$DATA/mime

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN/refrain" "$APPS/refrain.desktop" "$ICONS/refrain.svg" "$MIME/packages/refrain-project.xml"
    rm -rf "$DATA/refrain"
    # the bundle's compiled kernels: numba keeps a frozen program's cache in its per-user folder, in a
    # subfolder named after the sha1 of the kernels' source folder inside the installed bundle
    key=$(printf '%s' "$DATA/refrain/_internal/engine" | sha1sum | cut -d' ' -f1)
    rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/numba/engine_$key"
    command -v update-mime-database >/dev/null && update-mime-database "$MIME" >/dev/null 2>&1 || true
    echo "refrain: removed"
    exit 0
fi

mkdir -p "$BIN" "$APPS" "$ICONS" "$MIME/packages"
if [ -x packaging/dist/refrain/refrain ]; then
    rm -rf "$DATA/refrain"
    cp -a packaging/dist/refrain "$DATA/refrain"          # the bundle: no Python needed
    ln -sf "$DATA/refrain/refrain" "$BIN/refrain"
elif [ -x .venv/bin/refrain ]; then
    ln -sf "$PWD/.venv/bin/refrain" "$BIN/refrain"        # a checkout set up by ./run.sh
else
    echo "refrain: error: build the bundle (packaging/build.sh) or run ./run.sh first" >&2
    exit 2
fi
sed "s|^Exec=.*|Exec=$BIN/refrain app %f|" packaging/refrain.desktop > "$APPS/refrain.desktop"
cp packaging/refrain.svg "$ICONS/refrain.svg"
cp packaging/refrain-project.xml "$MIME/packages/refrain-project.xml"
command -v update-mime-database >/dev/null && update-mime-database "$MIME" >/dev/null 2>&1 || true
command -v update-desktop-database >/dev/null && update-desktop-database "$APPS" >/dev/null 2>&1 || true
# compile the engine's native callback and EQ/compressor kernels now, not at the first start (about 10 s)
echo "refrain: compiling the audio kernels (once)"
("$BIN/refrain" bench engine --tracks 1 --seconds 0.2 --device null --load none --json >/dev/null 2>&1) ||
    echo "refrain: note: the kernels will compile at the first start instead" >&2
echo "refrain: installed $BIN/refrain, $APPS/refrain.desktop, the icon and application/x-refrain-project"
