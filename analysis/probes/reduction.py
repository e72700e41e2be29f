"""Dimensionality reduction (UMAP, PCA) used by the descriptor analyses.

UMAP is given ``random_state``, which makes it deterministic and single-threaded (good on a
shared 2-core machine). The first UMAP call in a process pays ~10 s of numba compilation.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

from analysis.errors import LayerScopeError
from analysis.probes.neighbours import METRICS

REDUCERS = ("umap", "pca")
# UMAP computes the kNN graph exactly below this many rows and with pynndescent (approximate, and
# ~25-40 s of numba JIT once per process) from it on. `reduce` hands UMAP an exact graph from
# there on too, so every size gets the same exact graph and a 10 000-image report skips the JIT.
UMAP_SMALL_DATA = 4096
# UMAP accepts more metrics than the kNN probes (neighbours.METRICS); the shared ones come first.
UMAP_METRICS = METRICS + ("manhattan", "correlation")
# Warnings umap emits for our deliberate settings (seeded => one thread; precomputed kNN => no
# transform of new rows; disconnected points of duplicate-heavy data); anything else is a note.
_EXPECTED_WARNINGS = ("n_jobs value", "knn_search_index", "precomputed_knn[2]", "transforming new data",
                      "disconnected")


def fit_umap(
    X: np.ndarray,
    n_components: int,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    random_state: int,
    n_epochs: int | None = None,
    init: np.ndarray | None = None,
    exact_knn_max_n: int = 0,
    notes: list[str] | None = None,
):
    """The one UMAP fit: a fitted ``umap.UMAP`` (``.embedding_`` for X, ``umap_transform`` for new rows).

    n_neighbors is clamped to n - 1. init: an (n, n_components) starting layout, or None
    (spectral; random when n_components >= n - 1, where spectral init cannot work).
    exact_knn_max_n: up to this many rows the kNN graph is computed exactly with scikit-learn and
    handed to UMAP — exact, and it avoids pynndescent's ~25 s numba JIT — but the reducer can then
    not transform new rows, so probes that transform keep the default 0.
    notes: pass a list to collect what went unusually (undefined distances, umap warnings).
    """
    import umap  # heavy import (numba): only when UMAP is actually asked for

    n = len(X)
    if n_components < 1 or n < n_components + 2:
        raise LayerScopeError(
            f"UMAP to {n_components} dimensions needs at least {n_components + 2} images; got {n}. "
            "Use fewer dimensions or more images."
        )
    if metric not in UMAP_METRICS:
        raise LayerScopeError(f"Unsupported metric {metric!r}; use one of {UMAP_METRICS}.")
    X = np.asarray(X, dtype=np.float32)
    nn = int(max(2, min(n_neighbors, n - 1)))
    kwargs = {}
    if n <= exact_knn_max_n:
        kwargs["precomputed_knn"] = _exact_knn(X, nn, metric, notes)
    reducer = umap.UMAP(
        n_components=int(n_components),
        n_neighbors=nn,
        min_dist=float(min_dist),
        metric=metric,
        n_epochs=n_epochs,
        init=init if init is not None else ("spectral" if n_components < n - 1 else "random"),
        random_state=int(random_state),
        n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so avoids its warning
        **kwargs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reducer.fit(X)
    for w in caught:
        msg = " ".join(str(w.message).split())
        if notes is not None and not any(s in msg for s in _EXPECTED_WARNINGS):
            notes.append(f"umap: {msg[:200]}")
    return reducer


def _exact_knn(X: np.ndarray, n_neighbors: int, metric: str, notes: list[str] | None) -> tuple:
    """UMAP's precomputed_knn triple from an exact brute-force search."""
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=n_neighbors, metric=metric, algorithm="brute").fit(X).kneighbors(X)
    bad = ~np.isfinite(dist)
    if bad.any():  # e.g. correlation / cosine of an all-constant or all-zero row
        dist[bad] = np.nanmax(np.where(bad, np.nan, dist)) if (~bad).any() else 1.0
        if notes is not None:
            notes.append(f"{int(bad.any(axis=1).sum())} images have undefined {metric} distances "
                         "(constant or zero descriptors): treated as far from everything.")
    return idx.astype(np.int64), dist.astype(np.float32), None


def umap_transform(reducer, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        return reducer.transform(np.asarray(X, dtype=np.float32))


def reduce(
    X: np.ndarray,
    method: str = "umap",
    n_components: int = 5,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    random_state: int,
) -> np.ndarray:
    """Embed X to n_components dims with UMAP (on an exact kNN graph at every size) or PCA
    (capped at min(n, d))."""
    if method == "umap":
        exact = len(X) if len(X) >= UMAP_SMALL_DATA else 0  # below: UMAP's own exact graph
        return fit_umap(
            X, n_components, n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state,
            exact_knn_max_n=exact,
        ).embedding_.astype(np.float64)
    if method == "pca":
        k = min(int(n_components), X.shape[0], X.shape[1])
        if k < 1:
            raise LayerScopeError(f"PCA needs at least one dimension; got n_components={n_components}.")
        with np.errstate(invalid="ignore", divide="ignore"):  # constant input: variance ratio 0/0
            return PCA(n_components=k, random_state=int(random_state)).fit_transform(
                np.asarray(X, dtype=np.float64)
            )
    raise LayerScopeError(f"unknown reduction {method!r}; choose one of {', '.join(REDUCERS)}.")


def default_dims(n_features: int, cap: int = 64, n_images: int | None = None) -> list[int]:
    """2, 4, 8, … up to min(n_features, cap), and (given n_images, the rows UMAP is fitted on)
    only dimensions UMAP can reach: d <= n_images - 2."""
    top = min(int(n_features), int(cap))
    if n_images is not None:
        top = min(top, int(n_images) - 2)
    dims, d = [], 2
    while d <= top:
        dims.append(d)
        d *= 2
    return dims
