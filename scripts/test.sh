#!/usr/bin/env bash
# The project's test command (README): set up, lint, type-check, build the docs, run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check neurocomp tests examples benchmarks
.venv/bin/mypy
# The documentation site: --strict turns every warning (broken link or anchor, a page missing
# from the nav, a docstring the API reference cannot render) into a failure.
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d "$site"
rm -rf "$site"
.venv/bin/python -m pytest -q "$@"
