"""Chance: what a score gives when the descriptors carry nothing about the label, and whether a
block's score is clearly above it. A score at chance is never called "best" anywhere."""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from analysis.probes.bootstrap import bootstrap_ci


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
    block report computes them): {"ari_low", "ari_high", "ami_low", "ami_high"}."""
    out = {}
    for score, fn in (("ari", adjusted_rand_score), ("ami", adjusted_mutual_info_score)):
        low, high = bootstrap_ci(fn, np.asarray(codes), np.asarray(clusters), n_boot=n_boot,
                                 random_state=random_state, distinct=True)
        out[f"{score}_low"], out[f"{score}_high"] = float(low), float(high)
    return out


def all_noise(n_clusters: int, noise_fraction: float) -> bool:
    """HDBSCAN found no cluster: every image is noise (ARI / AMI 0, silhouette undefined)."""
    return int(n_clusters) == 0 or float(noise_fraction) >= 0.999
