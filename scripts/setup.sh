#!/usr/bin/env bash
# Idempotent set-up: a local .venv with requirements.txt, plus optional system packages.
#   scripts/setup.sh            runtime only
#   scripts/setup.sh --test     also Chromium + chromedriver (browser tests)
# Each step is skipped when already done (requirements hash stamp; packages already present).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing requirements (first time: ~3 GB, a few minutes)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
  .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  # The project itself, editable: `import analysis` from anywhere and the `layerscope` command.
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps -e .
  echo "$want" > "$stamp"
else
  echo "[setup] requirements already installed"
fi

apt_install() {  # best effort: root or passwordless sudo; otherwise say what is missing
  local SUDO=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && SUDO=sudo; } || true
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "[setup] apt-get install $*"
    $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
  else
    echo "[setup] please install with your package manager: $*"
  fi
}
# tcmalloc speeds up CPU inference 1.3-2.4x here (LD_PRELOAD in run.sh / test.sh); optional.
if ! ls /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1; then apt_install libtcmalloc-minimal4 || true; fi
if [ "${1:-}" = "--test" ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
  apt_install chromium chromium-driver fonts-noto-color-emoji
fi
