"""Input checks and small array helpers shared by every descriptor analysis.

Descriptor arrays may be read-only ``np.memmap``s from the cache: nothing here writes into
them or copies them whole; work is done in row chunks.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from analysis.errors import LayerScopeError

# Rows per chunk when scanning a (possibly memory-mapped) array: ~8 MB of float32 at d=2048.
CHUNK_ROWS = 1024


def row_chunks(n: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[slice]:
    """Consecutive slices covering range(n), each at most chunk_rows long."""
    for start in range(0, n, max(1, chunk_rows)):
        yield slice(start, min(start + chunk_rows, n))


def nonfinite_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the rows of X that hold a NaN or an infinity (chunked, no full copy)."""
    bad = [np.flatnonzero(~np.isfinite(X[sl]).all(axis=1)) + sl.start for sl in row_chunks(len(X))]
    return np.concatenate(bad) if bad else np.empty(0, dtype=np.intp)


def check_descriptors(X: ArrayLike, name: str = "X") -> np.ndarray:
    """Return X as a 2-D numeric array (memmaps are kept as they are, never copied).

    Policy for non-finite values: raise, naming how many rows and which (first 10). A NaN
    descriptor means the extraction went wrong for that image; silently dropping it would
    change the folds and the class counts behind the user's back. Callers that prefer to go
    on can drop ``nonfinite_rows(X)`` themselves and show the list.
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.ndim != 2:
        raise LayerScopeError(f"{name} must be a 2-D array (images × channels); got shape {X.shape}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise LayerScopeError(f"{name} is empty (shape {X.shape}); extract descriptors for some images first.")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise LayerScopeError(f"{name} must hold numbers; got dtype {X.dtype}.")
    if np.issubdtype(X.dtype, np.floating):
        bad = nonfinite_rows(X)
        if len(bad):
            shown = ", ".join(str(int(i)) for i in bad[:10]) + (", …" if len(bad) > 10 else "")
            raise LayerScopeError(
                f"{name} has {len(bad)} row(s) with NaN or inf values (rows {shown}). "
                "Recompute the descriptors for these images, or drop these rows "
                "(analysis.arrays.nonfinite_rows lists them) before analysing."
            )
    return X


@dataclass(frozen=True)
class Labels:
    """A label vector encoded as class indices into the sorted class list (as sklearn does)."""

    codes: np.ndarray  # (n,) int64, index into classes
    classes: list  # sorted unique labels (python str / int)
    counts: np.ndarray  # (n_classes,) images per class


def _is_missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and v != v:  # NaN
        return True
    return isinstance(v, str) and not v.strip()


def encode_labels(y: ArrayLike, n_rows: int | None = None) -> Labels:
    """Encode labels (strings or ints) as indices into the sorted unique labels."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise LayerScopeError(f"labels must be a 1-D vector; got shape {y.shape}.")
    if n_rows is not None and len(y) != n_rows:
        raise LayerScopeError(f"there are {len(y)} labels for {n_rows} descriptor rows; they must match.")
    if len(y) == 0:
        raise LayerScopeError("there are no labelled images; add images to at least two classes.")
    if y.dtype.kind in "OUSf":
        missing = np.flatnonzero([_is_missing(v) for v in y.tolist()])
        if len(missing):
            shown = ", ".join(str(int(i)) for i in missing[:10])
            raise LayerScopeError(
                f"{len(missing)} image(s) have no label (rows {shown}); label them or leave them out."
            )
    try:
        classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    except TypeError as exc:  # e.g. a mix of str and int in an object array
        raise LayerScopeError(f"labels mix types that cannot be sorted ({exc}); use all strings.") from exc
    return Labels(codes=codes.astype(np.int64), classes=classes.tolist(), counts=counts)


def class_means(X: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean row per class (n_classes × d, float64), accumulated in chunks.

    Rows with a negative code are ignored (classes left out of an analysis). A class with no
    row gets NaN.
    """
    sums = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    for sl in row_chunks(len(X)):
        c = codes[sl]
        keep = c >= 0
        # Indicator matmul = grouped sum without a Python loop over classes.
        onehot = np.zeros((int(keep.sum()), n_classes), dtype=np.float64)
        onehot[np.arange(len(onehot)), c[keep]] = 1.0
        sums += onehot.T @ np.asarray(X[sl][keep], dtype=np.float64)
    counts = np.bincount(codes[codes >= 0], minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]
