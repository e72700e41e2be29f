"""Label-noise and odd-image flags at one block: which images look mislabelled, which look out of place.

* mistakenness: the share of an image's k nearest neighbours (itself excluded) whose label differs
  from its own. A mislabelled image sits among images of its true class, so most neighbours disagree.
* prototype outlier: distance to its own class mean computed WITHOUT the image (so a wrong label
  does not pull the prototype towards it), as a robust z-score within the class
  (median / 1.4826·MAD of that class's distances); high = far from where its class lives.
* GLOSH (Campello et al. 2015, analysis.probes.outliers.glosh_outliers on the raw descriptors): label-free outlierness in
  the descriptor space, 0 = inlier, → 1 = outlier. Optional (it clusters all images once).

Ranking: by mistakenness, equal values by prototype z (the default), or by either outlier score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.arrays import check_descriptors, encode_labels
from analysis.errors import LayerScopeError
from analysis.probes.neighbours import check_metric, nearest, paired_distances

RANKINGS = ("mistakenness", "prototype", "glosh")


@dataclass(frozen=True)
class Flags:
    """table: one row per image (row = index into X): label, neighbour_label (majority of the k
    neighbours, ties by lower class index), mistakenness, prototype_distance, prototype_z, glosh
    (NaN when not computed). neighbours: (n, k) row indices, nearest first."""

    table: pd.DataFrame
    neighbours: np.ndarray
    k: int
    metric: str

    def ranked(self, by: str = "mistakenness", top: int | None = None) -> pd.DataFrame:
        """Most suspicious first."""
        if by not in RANKINGS:
            raise LayerScopeError(f"rank by one of {', '.join(RANKINGS)}; got {by!r}.")
        t = self.table
        if by == "glosh" and not t["glosh"].notna().any():
            raise LayerScopeError("GLOSH was not computed for these flags; compute them with glosh=True.")
        keys = {"mistakenness": ["mistakenness", "prototype_z"], "prototype": ["prototype_z", "mistakenness"],
                "glosh": ["glosh", "mistakenness"]}[by]
        out = t.sort_values(keys, ascending=False, kind="mergesort")  # stable: equal scores by row
        return out if top is None else out.head(top)


def _loo_prototype_distance(X: np.ndarray, codes: np.ndarray, metric: str) -> np.ndarray:
    n_classes = int(codes.max()) + 1
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, codes, X)
    counts = np.bincount(codes, minlength=n_classes).astype(float)
    loo = (sums[codes] - X) / np.maximum(counts[codes] - 1, 1)[:, None]
    d = paired_distances(X, loo, metric)
    d[counts[codes] < 2] = np.nan  # a class of one image has no prototype without it
    return d


def _robust_z(d: np.ndarray, codes: np.ndarray) -> np.ndarray:
    z = np.full(len(d), np.nan)
    for c in np.unique(codes):
        rows = np.flatnonzero((codes == c) & np.isfinite(d))
        if len(rows) < 2:
            continue
        med = np.median(d[rows])
        mad = 1.4826 * np.median(np.abs(d[rows] - med))
        scale = mad if mad > 0 else (np.std(d[rows]) or 1.0)
        z[rows] = (d[rows] - med) / scale
    return z


def glosh_scores(X: ArrayLike, min_cluster_size: int = 10) -> np.ndarray:
    """GLOSH outlier score per row in [0, 1], on the raw descriptors (analysis.probes.outliers, the one
    GLOSH implementation)."""
    from analysis.probes.outliers import glosh_outliers

    m = max(2, min(int(min_cluster_size), len(X) - 1))
    return np.nan_to_num(glosh_outliers(X, reducer="none", min_cluster_size=m).scores, nan=0.0)


def flag_images(
    X: ArrayLike, y: ArrayLike, k: int = 10, metric: str = "cosine", glosh: bool = False,
    min_cluster_size: int = 10,
) -> Flags:
    """Mistakenness, prototype outlier z and (optionally) GLOSH for every image of one block."""
    X = check_descriptors(X, name="descriptors")
    check_metric(metric)
    lab = encode_labels(y, n_rows=len(X))
    n = len(X)
    if isinstance(k, bool) or int(k) < 1:
        raise LayerScopeError(f"k must be a whole number >= 1; got {k!r}.")
    k = int(k)
    if k > n - 1:
        raise LayerScopeError(f"k = {k} neighbours need at least {k + 1} images; there are {n}.")
    F = np.asarray(X, dtype=np.float64)
    nb, _ = nearest(F, F, k, metric, exclude=np.arange(n))
    nb_codes = lab.codes[nb]
    disagree = (nb_codes != lab.codes[:, None]).mean(axis=1)
    votes = np.zeros((n, len(lab.classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), nb_codes.ravel()), 1)
    d = _loo_prototype_distance(F, lab.codes, metric)
    classes = np.asarray(lab.classes, dtype=object)
    table = pd.DataFrame({
        "row": np.arange(n),
        "label": classes[lab.codes],
        "neighbour_label": classes[votes.argmax(axis=1)],
        "mistakenness": disagree,
        "prototype_distance": d,
        "prototype_z": _robust_z(d, lab.codes),
        "glosh": glosh_scores(F, min_cluster_size) if glosh else np.nan,
    })
    return Flags(table=table, neighbours=nb, k=k, metric=metric)
