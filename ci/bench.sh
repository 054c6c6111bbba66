#!/usr/bin/env bash
# Install fastact into a fresh virtualenv and run the benchmark against NumPy (the README's main command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-bench
. .venv-bench/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e .
fastact bench "$@"
