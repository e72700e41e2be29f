"""Linear CKA (Kornblith et al. 2019, "Similarity of neural network representations revisited").

For two descriptor arrays X (n × p) and Y (n × q) of the same n images, with columns centred:

    CKA(X, Y) = ||Yᵀ X||²_F / (||Xᵀ X||_F · ||Yᵀ Y||_F)              (feature-space form)
              = tr(K L) / sqrt(tr(K K) · tr(L L)),  K = X Xᵀ, L = Y Yᵀ  (centred Gram form)

Both are exact; which one is used depends only on cost (the feature form needs p × q memory
and n·p·q work, the Gram form n² memory and n²·(p+q) work), so n ≫ channels uses the feature
form and few images with wide blocks the Gram form. Everything is float64.

Properties (tested): 1 between a block and itself, symmetric, invariant to orthogonal
transforms and isotropic scaling of either side (not to arbitrary invertible linear maps).
A block whose descriptors are constant over the images has no variance: its CKA is NaN.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.arrays import check_descriptors, row_chunks
from analysis.errors import LayerScopeError

GRAM_MAX_N = 6000  # above this many images a Gram matrix (n² float64) is not built at all


def _centred(X: ArrayLike, name: str) -> np.ndarray:
    X = check_descriptors(X, name=name)
    mean = np.zeros(X.shape[1])
    for sl in row_chunks(len(X)):  # memmaps: mean in chunks, one float64 copy at the end
        mean += np.asarray(X[sl], dtype=np.float64).sum(axis=0)
    return np.asarray(X, dtype=np.float64) - mean / len(X)


class _Rep:
    """One centred representation with its self-similarity norm, in whichever form is needed."""

    def __init__(self, X: ArrayLike, name: str):
        self.X = _centred(X, name)
        self.n, self.p = self.X.shape
        self._gram: np.ndarray | None = None
        self._self: float | None = None

    @property
    def gram(self) -> np.ndarray:
        if self._gram is None:
            self._gram = self.X @ self.X.T
        return self._gram

    def use_gram(self) -> bool:
        return self.n <= GRAM_MAX_N and self.n < self.p

    @property
    def self_norm(self) -> float:
        """||Xᵀ X||_F = ||X Xᵀ||_F (the same number, computed in the cheaper space)."""
        if self._self is None:
            if self.use_gram():
                self._self = float(np.linalg.norm(self.gram))
            else:
                self._self = float(np.linalg.norm(self.X.T @ self.X))
        return self._self


def _cka(a: _Rep, b: _Rep) -> float:
    if a.n != b.n:
        raise LayerScopeError(f"CKA compares the same images: got {a.n} and {b.n} rows.")
    den = a.self_norm * b.self_norm
    if den <= 0:
        return float("nan")  # a constant block: no variance to compare
    feature_cost = a.n * a.p * b.p
    gram_cost = a.n * a.n * (a.p + b.p)
    if a.n <= GRAM_MAX_N and gram_cost < feature_cost:
        num = float(np.vdot(a.gram, b.gram))  # tr(K L) for symmetric K, L
    else:
        num = float(np.linalg.norm(b.X.T @ a.X) ** 2)
    return num / den


def linear_cka(X: ArrayLike, Y: ArrayLike) -> float:
    """Linear CKA between two descriptor arrays of the same images (rows), in [0, 1]."""
    return _cka(_Rep(X, "X"), _Rep(Y, "Y"))


def cka_matrix(
    blocks_a: Mapping[str, ArrayLike], blocks_b: Mapping[str, ArrayLike] | None = None
) -> pd.DataFrame:
    """CKA of every block of A (rows) against every block of B (columns; B = A when omitted).

    Within one model the matrix is symmetric with 1 on the diagonal, and each pair is computed once.
    """
    if not blocks_a:
        raise LayerScopeError("no blocks to compare; extract descriptors first.")
    reps_a = {name: _Rep(X, name) for name, X in blocks_a.items()}
    same = blocks_b is None
    reps_b = reps_a if same else {name: _Rep(X, name) for name, X in blocks_b.items()}
    if not reps_b:
        raise LayerScopeError("no blocks to compare on the second side.")
    n_a, n_b = next(iter(reps_a.values())).n, next(iter(reps_b.values())).n
    if n_a != n_b:
        raise LayerScopeError(
            f"CKA needs the same images on both sides: {n_a} vs {n_b} rows. Use the same dataset for both "
            "models (align_rows keeps the images both have)."
        )
    out = pd.DataFrame(np.nan, index=list(reps_a), columns=list(reps_b), dtype=float)
    names_a, names_b = list(reps_a), list(reps_b)
    for i, ra in enumerate(names_a):
        for j, rb in enumerate(names_b):
            if same and j < i:
                out.iloc[i, j] = out.iloc[j, i]
                continue
            out.iloc[i, j] = _cka(reps_a[ra], reps_b[rb])
    return out


def align_rows(paths_a: list[str], paths_b: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (ia, ib) so that paths_a[ia] == paths_b[ib], in A's order: the images both
    stores hold (they differ only when an image failed to load for one of them)."""
    pos_b = {p: i for i, p in enumerate(paths_b)}
    ia = np.array([i for i, p in enumerate(paths_a) if p in pos_b], dtype=np.intp)
    if len(ia) < 2:
        raise LayerScopeError(
            "the two descriptor sets share fewer than 2 images; extract both models on the same dataset."
        )
    ib = np.array([pos_b[paths_a[i]] for i in ia], dtype=np.intp)
    return ia, ib


def store_cka(store_a, store_b=None) -> pd.DataFrame:
    """CKA between the blocks of one cached store (B omitted) or of two stores of the same images
    (rows matched by image path; images only one of them could read are left out)."""
    blocks_a = {b.name: store_a.descriptors(b.index) for b in store_a.blocks}
    if store_b is None:
        return cka_matrix(blocks_a)
    ia, ib = align_rows(store_a.paths, store_b.paths)
    if len(ia) == store_a.n and len(ib) == store_b.n and (ib == np.arange(len(ib))).all():
        blocks_b = {b.name: store_b.descriptors(b.index) for b in store_b.blocks}
    else:
        blocks_a = {k: np.asarray(v)[ia] for k, v in blocks_a.items()}
        blocks_b = {b.name: np.asarray(store_b.descriptors(b.index))[ib] for b in store_b.blocks}
    return cka_matrix(blocks_a, blocks_b)
