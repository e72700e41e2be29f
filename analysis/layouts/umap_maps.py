"""2-D maps of block descriptors: seeded UMAP per block, aligned across blocks.

- :func:`umap_2d`: one block's descriptors (n x d) -> :class:`Map2D` (n x 2, normalised:
  centred, root-mean-square radius 1), with notes when parameters were clamped or a
  fallback (PCA) was used.
- :func:`aligned_umaps`: every block of a model, each map initialised from the previous
  block's map and then rotated / reflected onto it (orthogonal Procrustes), so that stepping
  from block to block does not flip or spin the picture.
- :func:`procrustes_align`: the rotation/reflection helper, with a residual.
- :func:`warm_up`: pays numba's one-off JIT cost (~4-9 s per process) on tiny data.

The UMAP fit itself is the one in :mod:`analysis.probes.reduction` (with an exact kNN graph up to
EXACT_KNN_MAX_N images). The GridCut thumbnail grid lives in :mod:`analysis.layouts.gridcut`, its
rendering in :mod:`analysis.layouts.thumbgrid`, the assignment solvers in
:mod:`analysis.layouts.assignment`.
Inputs may be read-only memory maps: nothing here writes into them.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError
from analysis.probes.reduction import UMAP_METRICS, fit_umap
from analysis.progress import Progress

UMAP_MIN_DISTINCT = 8  # fewer distinct descriptors than this: UMAP is meaningless -> PCA
# Up to this many images we compute the kNN graph exactly with scikit-learn and hand it to
# UMAP: this avoids pynndescent, whose numba JIT costs ~25 s once per process, and is exact.
EXACT_KNN_MAX_N = 20000


@dataclass
class Map2D:
    """A normalised 2-D map of n images.

    coords: (n, 2) float32, centred, root-mean-square distance from the origin 1 (all zero
    when every descriptor is identical).
    method: "umap", "pca" (fallback), "single" (one image) or "constant" (all identical).
    n_neighbors: the value actually used (after clamping); seconds: wall time.
    """

    coords: np.ndarray
    method: str
    notes: list[str] = field(default_factory=list)
    n_neighbors: int = 0
    seconds: float = 0.0


class AlignedMaps(dict):
    """``dict`` block name -> (n, 2) float32 coords, in block order, plus diagnostics:

    notes[name]: list of notes for that block; methods[name]: Map2D.method;
    residuals[name]: Procrustes residual to the previous block's map (None for the first;
    0 = same picture, ~1 = unrelated); seconds: total wall time.
    """

    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, list[str]] = {}
        self.methods: dict[str, str] = {}
        self.residuals: dict[str, float | None] = {}
        self.seconds: float = 0.0


def umap_2d(
    X: np.ndarray,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    n_epochs: int | None = None,
    init: np.ndarray | None = None,
    random_state: int = 0,
) -> Map2D:
    """Seeded 2-D UMAP of one block's descriptors (n x d).

    init: optional (n, 2) starting layout (e.g. the previous block's map); None = spectral.
    Degenerate inputs never crash: one image -> a point at the origin; all rows identical ->
    all zeros; fewer than 8 distinct rows -> PCA; n_neighbors >= n -> clamped to n - 1; a
    UMAP failure -> PCA. Each case adds a note. Deterministic for a given random_state
    (single-threaded, as umap requires for reproducibility).
    """
    t0 = time.perf_counter()
    X = _check_descriptors(X)
    _check_params(n_neighbors, min_dist, metric, n_epochs, random_state)
    n = X.shape[0]
    if init is not None:
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (n, 2) or not np.all(np.isfinite(init)):
            raise LayerScopeError(f"init must be a finite ({n}, 2) array, got shape {init.shape}.")
    notes: list[str] = []
    if n == 1:
        return Map2D(np.zeros((1, 2), np.float32), "single", ["One image: a single point."], 0,
                     time.perf_counter() - t0)
    n_distinct = _count_distinct_rows(X)
    if n_distinct == 1:
        return Map2D(np.zeros((n, 2), np.float32), "constant",
                     [f"All {n} descriptors are identical: every image maps to the same point."],
                     0, time.perf_counter() - t0)
    if n_distinct < UMAP_MIN_DISTINCT:
        notes.append(f"Only {n_distinct} distinct descriptors (UMAP needs >= {UMAP_MIN_DISTINCT}): used PCA.")
        return Map2D(normalise_map(pca_2d(X)), "pca", notes, 0, time.perf_counter() - t0)
    nn = n_neighbors
    if nn > n - 1:
        nn = n - 1
        notes.append(f"n_neighbors {n_neighbors} >= number of images {n}: clamped to {nn}.")
    if n_distinct < n:
        notes.append(f"{n - n_distinct} duplicate descriptors: duplicates land on (almost) the same spot.")
    try:
        reducer = fit_umap(X, 2, n_neighbors=nn, min_dist=min_dist, metric=metric, random_state=random_state,
                           n_epochs=n_epochs, init=init, exact_knn_max_n=EXACT_KNN_MAX_N, notes=notes)
        coords = np.asarray(reducer.embedding_, dtype=np.float64)
        method = "umap"
    except Exception as exc:  # a live demo must not crash: say what happened, show PCA
        notes.append(f"UMAP failed ({type(exc).__name__}: {exc}); used PCA instead.")
        coords, method = pca_2d(X), "pca"
    if not np.all(np.isfinite(coords)):
        notes.append("UMAP returned non-finite coordinates; used PCA instead.")
        coords, method = pca_2d(X), "pca"
    return Map2D(normalise_map(coords), method, notes, nn, time.perf_counter() - t0)


def aligned_umaps(
    blocks: Mapping[str, np.ndarray],
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    n_epochs: int | None = None,
    random_state: int = 0,
    chain_init: bool = True,
    progress: Progress | None = None,
) -> AlignedMaps:
    """2-D maps of every block, comparable side by side.

    blocks: block name -> (n x d_b) descriptors of the same n images, in block order.
    The first map is turned so its widest spread is horizontal. Each later map starts from
    the previous block's map (``chain_init``; False: spectral init, alignment only) and is
    then rotated / reflected onto it (orthogonal Procrustes). All maps are normalised
    (centred, RMS radius 1). Returns an :class:`AlignedMaps` (a dict name -> (n, 2)).
    progress(done, total, name) is called after each block (raise from it to cancel).
    """
    if not isinstance(blocks, Mapping) or len(blocks) == 0:
        raise LayerScopeError("aligned_umaps needs a non-empty dict of block name -> descriptors.")
    sizes = {name: np.shape(X)[0] if np.ndim(X) == 2 else None for name, X in blocks.items()}
    if len(set(sizes.values())) != 1 or None in sizes.values():
        raise LayerScopeError(
            f"Every block must hold the same images as 2-D arrays; got row counts {sizes}."
        )
    t0 = time.perf_counter()
    out = AlignedMaps()
    prev: Map2D | None = None
    for name, X in blocks.items():
        init = prev.coords if (chain_init and prev is not None and prev.method == "umap") else None
        m = umap_2d(X, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric,
                    n_epochs=n_epochs, init=init, random_state=random_state)
        coords = m.coords
        if prev is None:
            coords = _orient(coords)
            out.residuals[name] = None
        else:
            coords, resid = procrustes_align(prev.coords, coords)
            out.residuals[name] = resid
        m.coords = coords.astype(np.float32)
        out[name] = m.coords
        out.notes[name] = m.notes
        out.methods[name] = m.method
        prev = m
        if progress is not None:
            progress(len(out), len(blocks), name)
    out.seconds = time.perf_counter() - t0
    return out


def procrustes_align(ref: np.ndarray, emb: np.ndarray) -> tuple[np.ndarray, float]:
    """Rotate / reflect (and rescale) ``emb`` onto ``ref`` (both n x 2, same images).

    Orthogonal Procrustes: both are centred, emb is scaled to ref's RMS radius, and the
    orthogonal matrix R minimising ||emb R - ref|| is applied. Returns (aligned, residual)
    with residual = ||aligned - ref||^2 / ||ref - mean||^2: 0 for the same picture, about 1
    or more for unrelated ones; NaN when ref is a single point (nothing to align to).
    """
    ref = np.asarray(ref, dtype=np.float64)
    emb = np.asarray(emb, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != emb.shape or ref.shape[1] != 2:
        raise LayerScopeError(f"procrustes_align needs two (n, 2) arrays, got {ref.shape} and {emb.shape}.")
    ref_c = ref - ref.mean(axis=0)
    emb_c = emb - emb.mean(axis=0)
    ref_ss = float((ref_c**2).sum())
    emb_ss = float((emb_c**2).sum())
    if ref_ss <= 0:
        return emb_c.astype(np.float32), float("nan")
    if emb_ss <= 0:
        return (emb_c + ref.mean(axis=0)).astype(np.float32), 1.0
    emb_c *= np.sqrt(ref_ss / emb_ss)
    U, _, Vt = np.linalg.svd(emb_c.T @ ref_c)
    aligned = emb_c @ (U @ Vt)
    resid = float(((aligned - ref_c) ** 2).sum() / ref_ss)
    return (aligned + ref.mean(axis=0)).astype(np.float32), resid


def normalise_map(coords: np.ndarray) -> np.ndarray:
    """Centre and scale to root-mean-square radius 1 (zeros stay zeros)."""
    c = np.asarray(coords, dtype=np.float64)
    c = c - c.mean(axis=0)
    rms = float(np.sqrt((c**2).sum(axis=1).mean()))
    if rms > 0:
        c = c / rms
    return c.astype(np.float32)


def pca_2d(X: np.ndarray) -> np.ndarray:
    """First two principal-component scores (zero-padded when rank < 2), signs fixed so the
    largest-magnitude score of each axis is positive (deterministic)."""
    A = np.asarray(X, dtype=np.float64)
    A = A - A.mean(axis=0)
    U, S, _ = np.linalg.svd(A, full_matrices=False)
    k = min(2, S.size)
    out = np.zeros((A.shape[0], 2))
    out[:, :k] = U[:, :k] * S[:k]
    for j in range(2):
        i = np.argmax(np.abs(out[:, j]))
        if out[i, j] < 0:
            out[:, j] = -out[:, j]
    return out


def warm_up(random_state: int = 0) -> float:
    """Run UMAP once on tiny synthetic data so numba compiles its functions now (a few
    seconds, once per process; the page holds it with ``st.cache_resource``). Returns the
    seconds spent. Covers the code path used for n <= EXACT_KNN_MAX_N images."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(48, 8)).astype(np.float32)
    m = umap_2d(X, n_neighbors=10, random_state=random_state, n_epochs=20)
    umap_2d(X, n_neighbors=10, random_state=random_state, n_epochs=20, init=m.coords)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- internals


def _check_descriptors(X: np.ndarray) -> np.ndarray:
    # The shared checks (shape, dtype, NaN/inf rows named), then float32 for UMAP (a copy, not a write).
    X = check_descriptors(X)
    return X if X.dtype == np.float32 else X.astype(np.float32)


def _count_distinct_rows(X: np.ndarray) -> int:
    """Distinct rows by their bytes (20x faster than np.unique(axis=0) on 10k x 2048)."""
    A = np.ascontiguousarray(X)
    rows = A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1]))).ravel()
    return int(np.unique(rows).size)


def _check_params(n_neighbors, min_dist, metric, n_epochs, random_state) -> None:
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 2:
        raise LayerScopeError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}.")
    if not (0.0 <= float(min_dist) <= 1.0):
        raise LayerScopeError(f"min_dist must be between 0 and 1, got {min_dist!r}.")
    if metric not in UMAP_METRICS:
        raise LayerScopeError(f"Unsupported metric {metric!r}; use one of {UMAP_METRICS}.")
    if n_epochs is not None and (not isinstance(n_epochs, (int, np.integer)) or n_epochs < 1):
        raise LayerScopeError(f"n_epochs must be a positive integer or None, got {n_epochs!r}.")
    if not isinstance(random_state, (int, np.integer)):
        raise LayerScopeError(f"random_state must be an int (explicit seed), got {random_state!r}.")


def _orient(coords: np.ndarray) -> np.ndarray:
    """Turn a centred map so its widest spread is horizontal, signs by skewness: the
    first block's picture no longer depends on UMAP's arbitrary rotation."""
    c = np.asarray(coords, dtype=np.float64)
    c = c - c.mean(axis=0)
    if not np.any(c):
        return c.astype(np.float32)
    _, _, Vt = np.linalg.svd(c, full_matrices=False)
    c = c @ Vt.T
    for j in range(2):
        if (c[:, j] ** 3).sum() < 0:
            c[:, j] = -c[:, j]
    return c.astype(np.float32)
