"""Chance: what a score gives when the descriptors carry nothing about the label, and whether a
block's score is clearly above it. A score at chance is never called "best" anywhere."""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


def chance_levels(y: ArrayLike) -> dict[str, float]:
    """What each score gives when the descriptors carry nothing about the label: accuracies
    the majority class share, precision@k the chance that a random image shares the query's
    label (sum of squared class shares), ARI / AMI 0 (adjusted for chance)."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    p = counts / counts.sum()
    acc = float(p.max())
    out = {s: acc for s in ("knn", "prototype_euclidean", "prototype_cosine", "linear")}
    out.update(precision=float((p ** 2).sum()), ari=0.0, ami=0.0)
    return out


def above_chance(table: pd.DataFrame, score: str, chance: float) -> pd.Series:
    """Per block: True when the score is clearly above its chance level (its 95 % interval's
    lower end above it; without an interval, the value itself)."""
    low = table[f"{score}_low"].where(table[f"{score}_low"].notna(), table[score])
    return (low > chance + 1e-9) & table[score].notna()


def agreement_intervals(codes: ArrayLike, clusters: ArrayLike, n_boot: int = 200,
                        random_state: int = 0) -> dict[str, float]:
    """95 % bootstrap intervals of ARI and AMI between true classes and HDBSCAN clusters (as the
    block report computes them): {"ari_low", "ari_high", "ami_low", "ami_high"}.

    The same numbers as ``bootstrap_ci(adjusted_rand_score | adjusted_mutual_info_score, codes,
    clusters, distinct=True)`` (each draws the same resamples from the same seed), computed
    faster: one resample serves both scores, and both come from its contingency table with
    scikit-learn's own formulas (``agreement.py``; equality with sklearn is tested)."""
    from analysis.probes.agreement import ari_ami_from_table, lgamma_table

    codes, clusters = np.asarray(codes), np.asarray(clusters)
    n = len(codes)
    if n == 0 or n_boot < 1:
        return {"ari_low": float("nan"), "ari_high": float("nan"), "ami_low": float("nan"), "ami_high": float("nan")}
    ci = np.unique(codes, return_inverse=True)[1].ravel()
    ki = np.unique(clusters, return_inverse=True)[1].ravel()
    n_k = int(ki.max()) + 1
    cell, size = ci * n_k + ki, (int(ci.max()) + 1) * n_k
    lg = lgamma_table(n + 1)
    rng = np.random.default_rng(random_state)
    stats = np.empty((2, n_boot))
    drawn = np.zeros(n, dtype=bool)
    for b in range(n_boot):
        drawn[:] = False
        drawn[rng.integers(0, n, n)] = True  # == np.unique of the draw (distinct=True)
        T = np.bincount(cell[drawn], minlength=size).reshape(-1, n_k)
        stats[:, b] = ari_ami_from_table(T[T.any(axis=1)][:, T.any(axis=0)], lg)
    alpha = (1.0 - 0.95) / 2  # bootstrap_ci's default level, same expression
    (a_lo, a_hi), (m_lo, m_hi) = (np.nanquantile(s, [alpha, 1.0 - alpha]) for s in stats)
    return {"ari_low": float(a_lo), "ari_high": float(a_hi), "ami_low": float(m_lo), "ami_high": float(m_hi)}


def all_noise(n_clusters: int, noise_fraction: float) -> bool:
    """HDBSCAN found no cluster: every image is noise (ARI / AMI 0, silhouette undefined)."""
    return int(n_clusters) == 0 or float(noise_fraction) >= 0.999
