"""Where things live on disk: the cache root (env LAYERSCOPE_CACHE, default <repo>/cache)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    root = Path(os.environ.get("LAYERSCOPE_CACHE") or REPO_ROOT / "cache")
    root.mkdir(parents=True, exist_ok=True)
    return root
