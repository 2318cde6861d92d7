#!/usr/bin/env bash
# Set up a virtual environment (first run only), run the linters (ruff, mypy), the architecture contracts
# and the test suite on both backends (the dev extra adds TensorFlow, Keras and the ONNX exporter to the
# onnxruntime app). Subsets and the tools one by one: docs/development.md.
#
#   scripts/test.sh                 # everything, as CI runs it
#   scripts/test.sh --fast          # all but the training tests (pytest -m "not training")
#   scripts/test.sh [--fast] ARGS   # ARGS go to pytest, e.g. tests/test_cli.py -x
set -euo pipefail
cd "$(dirname "$0")/.."
MARKS=()
if [[ "${1:-}" == "--fast" ]]; then
    shift
    MARKS=(-m "not training")
fi
if [ ! -x .venv/bin/python ]; then
    echo "First run: creating .venv and installing the dev extra (TensorFlow, Keras, the ONNX exporter, Dask;" \
         "2.7 GB): about 1 minute from a fast package mirror, several on a slow connection." >&2
    python3 -m venv .venv
fi
echo "The suite takes about 4 minutes on two idle cores (up to 14 when they are busy); --fast skips the" \
     "training tests: about 2 minutes." >&2
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/ruff check app model_training tests benchmarks packaging scripts
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest -q ${MARKS[@]+"${MARKS[@]}"} "$@"
