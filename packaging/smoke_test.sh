#!/usr/bin/env bash
# Build the PyInstaller bundle and prove it works without the source tree:
#   1. pyinstaller --noconfirm --clean build.spec          (skipped with --no-build)
#   2. PneumoScan --version                                 (model card read from the bundle)
#   3. PneumoScan --self-test                               (bundled model + sha256, samples, Grad-CAM)
#   4. PneumoScan --smoke-gui                               (main window offscreen, first prediction shown)
#   5. PneumoScan with no arguments for $SMOKE_GUI_SECONDS  (the real GUI start must not exit or crash)
#   6. size of dist/PneumoScan against $SMOKE_MAX_MB        (MB of 10^6 bytes; default: MAX_BUNDLE_MB in
#                                                           packaging/bundle_config.py, issue 21's 350)
# Exits non-zero at the first failure. Run from anywhere; uses $PYTHON (default: .venv/bin/python if
# present, else python3). The bundle runs from a temporary directory with PNEUMOSCAN_MODEL and
# PYTHONPATH unset, so it can only use what it carries.
#
#   packaging/smoke_test.sh [--no-build]
#   SMOKE_NICE=1 packaging/smoke_test.sh      # build under nice -n 19 on a shared machine
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
MAX_MB="${SMOKE_MAX_MB:-$("$PYTHON" -c 'import sys; sys.path.insert(0, "packaging"); import bundle_config; print(bundle_config.MAX_BUNDLE_MB)')}"
if [[ "$(uname -s)" == Linux ]] && ! command -v strip > /dev/null; then
    echo "warning: 'strip' (binutils) is not installed: libpython stays unstripped (+17 MB)" >&2
fi
if [[ "$(uname -s)" == Linux ]] && ! { command -v nm && { command -v gcc || command -v cc; }; } > /dev/null; then
    echo "warning: no C compiler or 'nm': OpenCV's FFmpeg and OpenBLAS are bundled (+87 MB, above the size guard)" >&2
fi
GUI_SECONDS="${SMOKE_GUI_SECONDS:-20}"
NICE=()
[[ -n "${SMOKE_NICE:-}" ]] && NICE=(nice -n 19)

step() { printf '\n=== %s\n' "$*"; }
fail() { printf '\nSMOKE TEST FAILED: %s\n' "$*" >&2; exit 1; }

if [[ "$BUILD" == 1 ]]; then
    step "build: pyinstaller --noconfirm --clean build.spec"
    start=$(date +%s)
    ${NICE[@]+"${NICE[@]}"} "$PYTHON" -m PyInstaller --noconfirm --clean build.spec || fail "the build failed"
    echo "build took $(( $(date +%s) - start )) s"
fi

case "$(uname -s)" in
    MINGW*|MSYS*|CYGWIN*) APP="$ROOT/dist/PneumoScan/PneumoScan-console.exe" ;;
    *) APP="$ROOT/dist/PneumoScan/PneumoScan" ;;
esac
[[ -x "$APP" ]] || fail "no executable at $APP"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # nothing from the checkout on any path the bundle might look at
unset PNEUMOSCAN_MODEL PYTHONPATH PYTHONHOME
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
if [[ "$(uname -s)" == Linux && -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    export QT_QPA_PLATFORM=offscreen
fi

step "--version"
"$APP" --version || fail "--version exited with $?"

step "--self-test"
start=$(date +%s)
"$APP" --self-test || fail "--self-test failed (see the FAIL lines above)"
echo "self-test took $(( $(date +%s) - start )) s"

step "--smoke-gui (QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-native})"
"$APP" --smoke-gui --timeout 300 || fail "--smoke-gui failed"

step "GUI start without arguments, ${GUI_SECONDS} s"
"$APP" > "$WORK/gui.log" 2>&1 &
pid=$!
for _ in $(seq "$GUI_SECONDS"); do
    sleep 1
    kill -0 "$pid" 2>/dev/null || break
done
if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "the GUI was still running after ${GUI_SECONDS} s: ok"
else
    code=0
    wait "$pid" || code=$?
    tail -n 30 "$WORK/gui.log" >&2
    fail "the GUI exited by itself with code $code within ${GUI_SECONDS} s"
fi

step "size"
cd "$ROOT"
size_bytes=$("$PYTHON" -c 'import sys; sys.path.insert(0, "packaging"); import bundle_config; print(bundle_config.bundle_bytes("dist/PneumoScan"))')
size_mb=$(( (size_bytes + 999999) / 1000000 ))
echo "dist/PneumoScan: ${size_mb} MB ($(du -sm dist/PneumoScan | cut -f1) MiB)"
(( size_bytes <= MAX_MB * 1000000 )) || fail "dist/PneumoScan is ${size_mb} MB, above the ${MAX_MB} MB guard (SMOKE_MAX_MB)"

printf '\nSMOKE TEST PASSED (%s MB)\n' "$size_mb"
