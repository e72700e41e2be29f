"""On-disk cache for expensive analysis results (UMAP maps, grids, activation-maximisation images).

Keyed with the one cache key function (store.cache_key) over everything the result depends on;
stored as .npz (arrays, no pickle) or .json, written atomically, so a crash never leaves a
half-written result and a process restart still finds it.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from analysis.atomic import write_bytes_atomic, write_json_atomic
from analysis.descriptors.store import cache_key
from analysis.paths import cache_root


def result_path(namespace: str, parts: dict[str, Any], suffix: str) -> Path:
    return cache_root() / "results" / namespace / f"{cache_key(parts)}{suffix}"


def cached_arrays(namespace: str, parts: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Return compute() (a dict of arrays), computing it only when not on disk for `parts`."""
    path = result_path(namespace, parts, ".npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        pass  # absent or damaged: compute again
    out = compute()
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in out.items()})
    _save(lambda: write_bytes_atomic(path, buf.getvalue()))
    return out


def cached_json(namespace: str, parts: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """Return compute() (JSON-serialisable), computing it only when not on disk for `parts`."""
    path = result_path(namespace, parts, ".json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    out = compute()
    _save(lambda: write_json_atomic(path, out))
    return out


def _save(write: Callable[[], None]) -> None:
    """Saving is an optimisation: a read-only or full cache still returns the computed result."""
    try:
        write()
    except OSError:
        pass
