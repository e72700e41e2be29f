"""Percentile bootstrap confidence intervals, resampling rows (images or queries)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
    distinct: bool = False,
) -> tuple[float, float]:
    """(low, high) percentile interval of statistic(*arrays) over n_boot resamples.

    Each resample draws len(arrays[0]) rows with replacement, the same rows from every array
    (so paired arrays, e.g. labels and clusters, stay paired).
    distinct=True keeps each drawn row once (a ~63 % subsample without duplicates). Use it for
    pair-counting scores such as ARI / AMI: a duplicated image always agrees with itself, which
    inflates them, so ordinary resamples give intervals that can miss the estimate itself.
    """
    n = len(arrays[0])
    if n == 0 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(random_state)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        if distinct:
            idx = np.unique(idx)
        stats[b] = statistic(*(a[idx] for a in arrays))
    alpha = (1.0 - level) / 2
    low, high = np.nanquantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)
