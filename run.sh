#!/usr/bin/env bash
# Quick start 1: install what is needed, compute the built-in descriptors once, open the dashboard.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
.venv/bin/python -m analysis precompute --model efficientnet_lite0 --data garments
exec .venv/bin/python -m streamlit run dashboard/app.py --server.headless true \
  --server.port "${PORT:-8501}" --server.address "${ADDRESS:-0.0.0.0}" "$@"
