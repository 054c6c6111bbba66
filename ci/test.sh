#!/usr/bin/env bash
# Install fastact with its test and CUDA extras into a fresh virtualenv and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-ci
. .venv-ci/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test,cuda]"
python -m pytest -q tests
