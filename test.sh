#!/usr/bin/env bash
# Quick start 2: install what is needed (incl. Chromium for the browser tests), run the test suite.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh --test
source scripts/env.sh
.venv/bin/ruff check analysis dashboard tests benchmarks scripts
exec .venv/bin/python -m pytest -q tests "$@"
