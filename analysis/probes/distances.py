"""Distance distributions of positive (same class) and negative (different class) pairs.

Pairs are sampled once from the labels (``sample_pairs``) and then measured in any number of
spaces (original block descriptors, UMAP spaces of several dimensions), so the curves of
different spaces are over the same pairs.

Per class c: up to ``n_per_class`` distinct positive pairs {i, j} with both in c, and up to
``n_per_class`` distinct negative pairs (i in c, j not in c), sampled uniformly without
replacement (all of them when there are fewer).

Numbers per space:
* overlap: histogram overlap coefficient Σ_b min(p_b, q_b) of the positive and negative
  histograms (probabilities per bin, shared bin edges): 1 = same distribution, 0 = disjoint.
* auc: ROC AUC of "small distance ⇒ same class" = P(d_neg > d_pos) + ½ P(d_neg = d_pos).
* d_prime: (mean_neg − mean_pos) / sqrt((var_pos + var_neg) / 2).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

from analysis.arrays import check_descriptors, encode_labels
from analysis.errors import LayerScopeError
from analysis.probes.neighbours import paired_distances


@dataclass(frozen=True)
class PairSample:
    """pos / neg: (m, 2) row-index pairs; pos_class / neg_class: class index of the first row."""

    pos: np.ndarray
    neg: np.ndarray
    pos_class: np.ndarray
    neg_class: np.ndarray
    classes: list


@dataclass(frozen=True)
class PairDistances:
    space: str
    metric: str
    positive: np.ndarray  # distance per positive pair (PairSample.pos order)
    negative: np.ndarray
    bin_edges: np.ndarray  # shared edges, for plotting both histograms
    positive_hist: np.ndarray  # probability per bin (sums to 1)
    negative_hist: np.ndarray
    overlap: float
    auc: float
    d_prime: float


def _sample(total: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(total) if total <= size else np.sort(rng.choice(total, size=size, replace=False))


def sample_pairs(y: ArrayLike, n_per_class: int = 3000, random_state: int = 0) -> PairSample:
    labels = encode_labels(y)
    if len(labels.classes) < 2:
        raise LayerScopeError("negative pairs need at least two classes; choose another label column.")
    rng = np.random.default_rng(random_state)
    pos, neg, pos_c, neg_c = [], [], [], []
    for c in range(len(labels.classes)):
        inside = np.flatnonzero(labels.codes == c)
        outside = np.flatnonzero(labels.codes != c)
        m = len(inside)
        if m >= 2:
            # Linear index t over the strict upper triangle (i < j) of an m × m matrix;
            # row i starts at i·(2m − i − 1)/2.
            t = _sample(m * (m - 1) // 2, n_per_class, rng)
            r = np.arange(m - 1)
            starts = r * (2 * m - r - 1) // 2
            i = np.searchsorted(starts, t, side="right") - 1
            j = t - starts[i] + i + 1
            pos.append(np.stack([inside[i], inside[j]], axis=1))
            pos_c.append(np.full(len(t), c))
        t = _sample(m * len(outside), n_per_class, rng)
        neg.append(np.stack([inside[t // len(outside)], outside[t % len(outside)]], axis=1))
        neg_c.append(np.full(len(t), c))
    if not pos:
        raise LayerScopeError("no class has two images, so there are no positive pairs.")
    return PairSample(
        pos=np.concatenate(pos), neg=np.concatenate(neg), pos_class=np.concatenate(pos_c),
        neg_class=np.concatenate(neg_c), classes=labels.classes,
    )


def pair_distances(
    X: ArrayLike, pairs: PairSample, metric: str = "euclidean", bins: int = 60, space: str = "original"
) -> PairDistances:
    """Distances of the sampled pairs in one space, their histograms and separation numbers."""
    X = check_descriptors(X, name=space)
    d_pos = paired_distances(X[pairs.pos[:, 0]], X[pairs.pos[:, 1]], metric)
    d_neg = paired_distances(X[pairs.neg[:, 0]], X[pairs.neg[:, 1]], metric)
    both = np.concatenate([d_pos, d_neg])
    lo, hi = float(both.min()), float(both.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    p = np.histogram(d_pos, edges)[0] / len(d_pos)
    q = np.histogram(d_neg, edges)[0] / len(d_neg)
    spread = np.sqrt((d_pos.var() + d_neg.var()) / 2)
    truth = np.concatenate([np.ones(len(d_pos)), np.zeros(len(d_neg))])
    return PairDistances(
        space=space, metric=metric, positive=d_pos, negative=d_neg, bin_edges=edges,
        positive_hist=p, negative_hist=q, overlap=float(np.minimum(p, q).sum()),
        auc=float(roc_auc_score(truth, -both)),
        d_prime=float((d_neg.mean() - d_pos.mean()) / spread) if spread > 0 else float("nan"),
    )


def distance_distributions(
    spaces: Mapping[str, ArrayLike],
    y: ArrayLike,
    *,
    n_per_class: int = 3000,
    metric: str = "euclidean",
    bins: int = 60,
    random_state: int = 0,
) -> tuple[dict[str, PairDistances], pd.DataFrame]:
    """Same pairs measured in every space ({name: array}, e.g. original + reduction.reduce(X, "umap", d)).

    Returns the per-space distributions and a summary table (space, overlap, auc, d_prime, …).
    """
    pairs = sample_pairs(y, n_per_class, random_state)
    out = {name: pair_distances(X, pairs, metric, bins, name) for name, X in spaces.items()}
    summary = pd.DataFrame([
        {"space": r.space, "overlap": r.overlap, "auc": r.auc, "d_prime": r.d_prime,
         "mean_positive": r.positive.mean(), "mean_negative": r.negative.mean(),
         "n_positive": len(r.positive), "n_negative": len(r.negative)}
        for r in out.values()
    ])
    return out, summary
