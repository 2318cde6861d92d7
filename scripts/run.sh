#!/usr/bin/env bash
# Set up (first run only) and run PneumoScan: the app opening a bundled sample, or, without a screen,
# a scan of the bundled samples into samples_pneumoscan.csv (replacing the one it wrote before). Installs the app only: ONNX Runtime, no TensorFlow.
# It installs only when .venv is missing or pyproject.toml changed since the last install (a stamp in .venv
# holds pyproject.toml's sha256), so once installed it starts at once, and offline.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/pneumoscan-pyproject.sha256
wanted="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || [ ! -x .venv/bin/pneumoscan ] || [ ! -x .venv/bin/pneumoscan-cli ]; then
    .venv/bin/python -m pip install --quiet -e .
    echo "$wanted" > "$stamp"
fi
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then
    exec .venv/bin/pneumoscan assets/samples/PNEUMONIA_person1003_virus_1685.jpeg "$@"
fi
echo "No screen found: scanning the bundled samples instead of opening the app."
exec .venv/bin/pneumoscan-cli scan assets/samples --out samples_pneumoscan.csv --overwrite "$@"
