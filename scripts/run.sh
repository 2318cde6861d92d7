#!/usr/bin/env bash
# Set up (first run only) and run PneumoScan: the app opening a bundled sample, or, without a screen,
# a scan of the bundled samples into samples_pneumoscan.csv (replacing the one it wrote before). Installs the app only: ONNX Runtime, no TensorFlow.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e .
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then
    exec .venv/bin/pneumoscan assets/samples/PNEUMONIA_person1003_virus_1685.jpeg "$@"
fi
echo "No screen found: scanning the bundled samples instead of opening the app."
exec .venv/bin/pneumoscan-cli scan assets/samples --out samples_pneumoscan.csv --overwrite "$@"
