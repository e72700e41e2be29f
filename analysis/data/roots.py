"""The data root: the folders a dashboard user may open (datasets, the files a CSV lists, weights).

The dashboard is a server: without a root, anyone with a browser could list and view the server's
files. `LAYERSCOPE_DATA_ROOT` (several folders separated by ':') sets the roots; by default they
are the project's `data/` folder and the cache's generated datasets. The CLI, run by the machine's
own user, passes no roots and may read anything. Messages never echo a path outside the roots.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from analysis.errors import LayerScopeError
from analysis.paths import REPO_ROOT, cache_root

ENV = "LAYERSCOPE_DATA_ROOT"


def data_roots() -> list[Path]:
    """The allowed roots, resolved (symlinks followed), generated datasets always included."""
    raw = os.environ.get(ENV, "")
    roots = [Path(r).expanduser() for r in raw.split(os.pathsep) if r.strip()] or [REPO_ROOT / "data"]
    roots.append(cache_root() / "datasets")
    out: list[Path] = []
    for r in roots:
        r = r.resolve()
        if r not in out:
            out.append(r)
    return out


def is_within(path: str | os.PathLike, roots: Sequence[Path]) -> bool:
    """True when `path` (symlinks and '..' resolved) lies inside one of `roots`."""
    try:
        p = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loops, NUL bytes
        return False
    return any(p == r or r in p.parents for r in roots)


def roots_text(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots)


def require_within(path: str | os.PathLike, roots: Sequence[Path] | None, what: str = "path") -> Path:
    """`path` resolved, or a LayerScopeError (not naming the path) when it is outside `roots`.

    roots=None means no restriction (the CLI)."""
    p = Path(path).expanduser()
    if roots is None:
        return p
    if not is_within(p, roots):
        raise LayerScopeError(
            f"That {what} is outside the data root this dashboard may read ({roots_text(roots)}). Put "
            f"the data under it, or start the app with {ENV}=/your/data (several: separated by ':')."
        )
    return p.resolve()
