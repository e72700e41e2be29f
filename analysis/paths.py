"""Where things live on disk: the cache root (env LAYERSCOPE_CACHE, default <repo>/cache)."""
from __future__ import annotations

import os
from pathlib import Path

from analysis.errors import LayerScopeError

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    root = Path(os.environ.get("LAYERSCOPE_CACHE") or REPO_ROOT / "cache")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise LayerScopeError(f"The cache folder {root} is a file, not a folder: point LAYERSCOPE_CACHE to a "
                              "folder (it is created if missing).") from None
    except OSError as exc:
        raise LayerScopeError(f"Cannot create the cache folder {root} ({exc.strerror}): point LAYERSCOPE_CACHE "
                              "to a writable folder.") from None
    return root


def ensure_writable(folder: Path, what: str = "cache folder") -> Path:
    """`folder` (created if missing), or a LayerScopeError saying it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK | os.X_OK)
    except OSError as exc:
        raise LayerScopeError(f"Cannot create the {what} {folder} ({exc.strerror}): point LAYERSCOPE_CACHE to a "
                              "writable folder.") from None
    if not writable:
        raise LayerScopeError(f"The {what} {folder} is read-only: cached results can be read but nothing new can "
                              "be saved. Point LAYERSCOPE_CACHE to a writable folder.")
    return folder
