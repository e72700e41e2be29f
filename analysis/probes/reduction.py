"""Dimensionality reduction (UMAP, PCA) used by the descriptor analyses.

UMAP is given ``random_state``, which makes it deterministic and single-threaded (good on a
shared 2-core machine). The first UMAP call in a process pays ~10 s of numba compilation.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

from analysis.errors import LayerScopeError

REDUCERS = ("umap", "pca")


def fit_umap(
    X: np.ndarray,
    n_components: int,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    random_state: int,
):
    """A fitted ``umap.UMAP`` (use ``.embedding_`` for X, ``.transform`` for new rows)."""
    import umap  # heavy import (numba): only when UMAP is actually asked for

    n = len(X)
    if n_components < 1 or n < n_components + 2:
        raise LayerScopeError(
            f"UMAP to {n_components} dimensions needs at least {n_components + 2} images; got {n}. "
            "Use fewer dimensions or more images."
        )
    reducer = umap.UMAP(
        n_components=int(n_components),
        n_neighbors=int(max(2, min(n_neighbors, n - 1))),
        min_dist=float(min_dist),
        metric=metric,
        random_state=int(random_state),
        # Spectral init needs n_components < n - 1; random init is the documented fallback.
        init="spectral" if n_components < n - 1 else "random",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        warnings.filterwarnings("ignore", message=".*disconnected.*")
        reducer.fit(np.asarray(X, dtype=np.float32))
    return reducer


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
    """Embed X to n_components dims with UMAP or PCA (PCA capped at min(n, d))."""
    if method == "umap":
        return fit_umap(
            X, n_components, n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state
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


def umap_spaces(
    X: np.ndarray, dims: list[int], *, n_neighbors: int = 15, min_dist: float = 0.1, random_state: int
) -> dict[str, np.ndarray]:
    """{"UMAP-<d>": embedding} for each d in dims (one fit per dimension)."""
    return {
        f"UMAP-{d}": reduce(X, "umap", d, n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state)
        for d in dims
    }


def default_dims(n_features: int, cap: int = 64) -> list[int]:
    """2, 4, 8, … up to min(n_features, cap)."""
    top = min(int(n_features), int(cap))
    dims, d = [], 2
    while d <= top:
        dims.append(d)
        d *= 2
    return dims
