"""Adding a class without training: the memory a trial uses and how its predictions score.

The classification itself is `retrieval.few_shot_classify`; this decides which dataset images
are in the memory (never the examples or the images being classified, never the class that is
pretended new) and says in one line how the trial went.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

UPLOAD = "(upload)"


def memory_rows(y: Sequence | np.ndarray, held: str | None, used: Iterable[int]) -> np.ndarray:
    """Dataset rows in the memory: every image except the `used` ones (examples and images to
    classify) and, when a class is pretended new, all images of that `held` class."""
    y = np.asarray(y).astype(str)
    keep = np.ones(len(y), dtype=bool)
    keep[np.fromiter((int(i) for i in used), dtype=np.intp)] = False
    if held is not None:
        keep &= y != str(held)
    return np.flatnonzero(keep)


def true_labels(y: Sequence | np.ndarray, rows: Sequence[int], n_uploads: int, held: str | None, name: str) -> list[str]:
    """The truth per image to classify: its dataset label (the new name for the held class),
    then UPLOAD for each uploaded image (no known label)."""
    y = np.asarray(y).astype(str)
    return [name if held is not None and y[r] == str(held) else str(y[r]) for r in rows] + [UPLOAD] * n_uploads


def trial_summary(truth: Sequence[str], prototype_pred: Sequence[str], knn_pred: Sequence[str], name: str) -> str | None:
    """'prototype 6 / 8 correct · kNN 7 / 8 correct · new class found …' over the images with a
    known label (None when all were uploads)."""
    t = np.asarray(truth, dtype=object)
    known = t != UPLOAD
    if not known.any():
        return None
    p, kn = np.asarray(prototype_pred, dtype=object)[known], np.asarray(knn_pred, dtype=object)[known]
    t = t[known]
    parts = [f"prototype {int((p == t).sum())} / {len(t)} correct", f"kNN {int((kn == t).sum())} / {len(t)} correct"]
    new = t == name
    if new.any():
        parts.append(f"new class found by the prototype for {int((p[new] == name).sum())} of {int(new.sum())} of its "
                     f"test images, by kNN for {int((kn[new] == name).sum())}")
    return " · ".join(parts)
