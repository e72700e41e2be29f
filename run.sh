#!/usr/bin/env bash
# Quick start 1: install what is needed, compute the built-in descriptors once, open the dashboard
# (app --warm: every page runs once in the server process before it answers: first visits < 3 s).
# Serves on 127.0.0.1 only; ADDRESS=0.0.0.0 bash run.sh serves a class network (see README, Security).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
.venv/bin/layerscope precompute --model efficientnet_lite0 --data garments --warm  # --warm: first page visits < 3 s
exec .venv/bin/layerscope app --warm --port "${PORT:-8501}" --address "${ADDRESS:-127.0.0.1}" "$@"
