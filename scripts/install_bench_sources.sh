#!/usr/bin/env bash
# Install the registry packages that scripts/make_benchmark.py draws its images from.
#
# Idempotent: packages already present are skipped. Needs root (or sudo) for apt.
#   Debian: tuxpaint-stamps-default (photo cut-outs, GPL-2), plasma-workspace-wallpapers,
#           mate-backgrounds and any lomiri-wallpapers* (wallpaper photos).
#   npm:    simple-icons (brand-logo SVGs, CC0) into $AUTHCHECK_BENCH_NPM
#           (default: $HOME/.cache/authcheck-bench/npm).
# Python deps (scikit-image, scikit-learn, augly, cairosvg) come from the repo's `bench`
# extra; this script only checks that they import.
set -euo pipefail

NPM_DIR="${AUTHCHECK_BENCH_NPM:-${1:-$HOME/.cache/authcheck-bench/npm}}"
PYTHON="${PYTHON:-python3}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "error: need root or sudo for apt-get" >&2; exit 1
    fi
fi

APT_PKGS=(tuxpaint-stamps-default plasma-workspace-wallpapers mate-backgrounds)

missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# lomiri wallpapers are optional: only a few Debian releases carry them.
lomiri_checked=0
if [ "${#missing[@]}" -gt 0 ] || ! dpkg-query -W 'lomiri-wallpapers*' >/dev/null 2>&1; then
    echo "== apt-get update"
    $SUDO apt-get update -qq
    lomiri_checked=1
fi
if [ "$lomiri_checked" -eq 1 ]; then
    while read -r name _; do
        [ -n "$name" ] || continue
        dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$name")
    done < <(apt-cache search --names-only '^lomiri-wallpapers' 2>/dev/null || true)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "== Debian image packages already installed"
fi

if [ -f "$NPM_DIR/node_modules/simple-icons/package.json" ]; then
    echo "== simple-icons already in $NPM_DIR"
else
    command -v npm >/dev/null 2>&1 || {
        echo "== installing npm"; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm; }
    mkdir -p "$NPM_DIR"
    echo "== npm install simple-icons into $NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent simple-icons
fi

# Python deps: check only, they belong to the `bench` extra.
if ! "$PYTHON" - <<'PY'
import importlib, sys
bad = []
for mod in ("numpy", "PIL", "skimage", "sklearn", "augly", "cairosvg"):
    try:
        importlib.import_module(mod)
    except Exception as exc:  # noqa: BLE001 - report every failure
        bad.append(f"{mod} ({type(exc).__name__}: {exc})")
if bad:
    print("error: missing Python modules: " + ", ".join(bad), file=sys.stderr)
    print("install them with: pip install -e '.[bench]'  (or pip install scikit-image "
          "scikit-learn augly cairosvg)", file=sys.stderr)
    sys.exit(1)
PY
then
    echo "warning: Python deps incomplete (see above); make_benchmark.py skips missing sources" >&2
fi

echo "== done. simple-icons: $NPM_DIR/node_modules/simple-icons"
