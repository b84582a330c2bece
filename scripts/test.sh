#!/usr/bin/env bash
# The project's test command (README): set up, lint, type-check, run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check neurocomp tests examples benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
