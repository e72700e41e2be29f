"""The layout pages' results, cached on disk: aligned UMAP maps of every block, GridCut layouts,
thumbnails. One definition of each cache entry, used by the UMAP / GridCut pages, the Tour and
`layerscope precompute --warm` (which fills them before a class opens the app).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.descriptors.results_cache import cached_arrays
from analysis.layouts.gridcut import (
    AUTO_EXACT_COMPARE_MAX_N,
    EXACT_MAX_N,
    GridLayout,
    exact_grid,
    gridcut,
    neighbourhood_preservation,
)
from analysis.layouts.thumbnails import thumbnails
from analysis.layouts.umap_maps import aligned_umaps
from analysis.progress import Progress

UMAP_DEFAULTS: dict[str, Any] = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "seed": 0}
MAPS_VERSION = 1  # bump when the way maps are computed changes (invalidates the disk cache)
GRID_VERSION = 2  # 2: spare cells at the end of the bottom row
THUMB_SIDE = 64  # stored thumbnail side; the grid renders cells up to this size


class Maps(dict):
    """block name -> (n, 2) float32 coords, plus residuals / methods / notes per block."""

    residuals: dict[str, float]
    methods: dict[str, str]
    notes: list[str]
    from_disk: bool


def maps_parts(store, params: dict[str, Any]) -> dict[str, Any]:
    return {"store": store.key, "blocks": [b.name for b in store.blocks], **params, "version": MAPS_VERSION}


def aligned_maps(store, params: dict[str, Any] | None = None, progress: Progress | None = None) -> Maps:
    """The aligned 2-D UMAP map of every block of a cache entry (computed once, then read from disk).
    params: n_neighbors, min_dist, metric, seed (UMAP_DEFAULTS when None)."""
    params = dict(UMAP_DEFAULTS if params is None else params)
    names = [b.name for b in store.blocks]
    computed = []

    def compute() -> dict[str, np.ndarray]:
        computed.append(True)
        m = aligned_umaps(store.block_arrays(),
                          n_neighbors=params["n_neighbors"], min_dist=params["min_dist"], metric=params["metric"],
                          random_state=params["seed"], progress=progress)
        out = {f"coords_{i}": m[name] for i, name in enumerate(names)}
        out["residuals"] = np.array([np.nan if m.residuals[nm] is None else m.residuals[nm] for nm in names])
        out["methods"] = np.array([m.methods[nm] for nm in names])
        out["notes"] = np.array([f"{nm}: {note}" for nm in names for note in m.notes[nm]] or [""])
        out["seconds"] = np.array(m.seconds)
        return out

    raw = cached_arrays("umap_aligned", maps_parts(store, params), compute)
    maps = Maps({name: raw[f"coords_{i}"] for i, name in enumerate(names)})
    maps.residuals = {nm: float(r) for nm, r in zip(names, raw["residuals"])}
    maps.methods = {nm: str(m) for nm, m in zip(names, raw["methods"])}
    maps.notes = [str(s) for s in raw["notes"] if str(s)]
    maps.from_disk = not computed
    return maps


def default_compare(n: int) -> bool:
    """Whether the GridCut page compares with the exact assignment by default (cheap enough)."""
    return n <= min(AUTO_EXACT_COMPARE_MAX_N, EXACT_MAX_N)


def grid_layout(store, block: str, params: dict[str, Any], maps: Maps, mode: str = "gridcut",
                group_col: str | None = None, compare: bool | None = None) -> tuple[GridLayout, float]:
    """A block's GridCut (or exact) layout of the map, cached on disk, and its neighbourhood
    preservation in the 2-D map. compare None: the page's default for this many images."""
    if compare is None:
        compare = mode == "gridcut" and default_compare(store.n)
    b_index = [b.name for b in store.blocks].index(block) + 1
    parts = {"store": store.key, "block": block, **params, "mode": mode, "groups": group_col,
             "compare": compare, "version": GRID_VERSION, "maps": MAPS_VERSION}

    def compute() -> dict[str, np.ndarray]:
        emb, X = maps[block], store.descriptors(b_index)
        if mode == "exact":
            g = exact_grid(emb, X)
        else:
            groups = None if group_col is None else store.labels[group_col].astype(str).to_numpy()
            g = gridcut(emb, groups, X=X, compare_exact=compare, random_state=params["seed"])
        q_map = neighbourhood_preservation(emb, g.cell_of, g.cols, g.k, g.radius)
        return {"cell_of": g.cell_of, "image_at": g.image_at, "shape": np.array([g.rows, g.cols]),
                "quality": np.array(g.quality), "quality_map": np.array(q_map),
                "exact_quality": np.array(np.nan if g.exact_quality is None else g.exact_quality),
                "seconds": np.array(g.seconds), "kr": np.array([g.k, g.radius]),
                "method": np.array(g.method), "notes": np.array(g.notes or [""])}

    z = cached_arrays("gridcut", parts, compute)
    eq = float(z["exact_quality"])
    layout = GridLayout(rows=int(z["shape"][0]), cols=int(z["shape"][1]), cell_of=z["cell_of"], image_at=z["image_at"],
                        quality=float(z["quality"]), exact_quality=None if np.isnan(eq) else eq,
                        method=str(z["method"]), seconds=float(z["seconds"]),
                        notes=[str(s) for s in z["notes"] if str(s)], k=int(z["kr"][0]), radius=int(z["kr"][1]),
                        quality_space="descriptors")
    return layout, float(z["quality_map"])


def store_thumbnails(store, side: int = THUMB_SIDE, progress: Progress | None = None) -> np.ndarray:
    """(n, side, side, 3) uint8 thumbnails of a cache entry's images (computed once, on disk)."""
    return cached_arrays("thumbnails", {"store": store.key, "side": side, "version": 1},
                         lambda: {"thumbs": thumbnails(store.paths, side, progress=progress)})["thumbs"]
