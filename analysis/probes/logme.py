"""LogME (You et al. 2021, "LogME: Practical Assessment of Pre-trained Models for Transfer Learning").

A training-free transferability score: for each class c, a Bayesian linear regression of the
one-hot target y_c on the descriptors F (n × D),

    w ~ N(0, α⁻¹ I),   y_c | F, w ~ N(F w, β⁻¹ I),

with α, β set to maximise the marginal likelihood (evidence) p(y_c | F, α, β) by MacKay's
fixed-point updates. LogME is the maximised log evidence divided by n, averaged over classes.
Higher is better; values are comparable between blocks and models on the same images and
labels, not between datasets.

Relation to the authors' reference code:
* the fixed point is iterated to a relative change of α/β below 1e-7 (the reference stops at
  1e-3 after at most 11 steps), so the value is that of the fixed point, not of an early iterate;
* α, β updates divide by (‖m‖² + 1e-5) and (‖y − Fm‖² + 1e-5), as the reference does;
* when D > n, log|A| counts the D − rank zero singular values (each log α), which the
  reference omits; with D ≤ n (usual for GAP descriptors) both agree.
Raw descriptors are used, as in the paper (float64, no standardisation).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from analysis.arrays import check_descriptors, encode_labels
from analysis.errors import LayerScopeError

TOL = 1e-7
EPS = 1e-5
MAX_ITER = 1000


def _evidence(n: int, d: int, sigma: np.ndarray, x2: np.ndarray, res_x2: float, alpha: float, beta: float
              ) -> tuple[float, float, float]:
    """(log evidence, ||m||², ||y − F m||²) at (α, β), from the SVD of F (σ = squared singular values,
    x2 = (uᵀy)² per singular direction, res_x2 = part of ||y||² outside the span of F)."""
    t = alpha / beta
    m2 = float((sigma * x2 / (t + sigma) ** 2).sum())
    res2 = float((x2 * (t / (t + sigma)) ** 2).sum() + res_x2)
    logdet = float(np.log(alpha + beta * sigma).sum()) + (d - len(sigma)) * np.log(alpha)
    ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - logdet / 2 - beta / 2 * res2 - alpha / 2 * m2
          - n / 2 * np.log(2 * np.pi))
    return ev, m2, res2


def _max_evidence(n: int, d: int, sigma: np.ndarray, x: np.ndarray, yy: float) -> float:
    x2 = x**2
    res_x2 = max(yy - float(x2.sum()), 0.0)
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITER):
        t = alpha / beta
        gamma = float((sigma / (sigma + t)).sum())  # effective number of parameters
        _, m2, res2 = _evidence(n, d, sigma, x2, res_x2, alpha, beta)
        # EPS as in the reference code: keeps α, β finite when a wide block fits y exactly (D ≥ n).
        alpha = max(gamma, EPS) / (m2 + EPS)
        beta = max(n - gamma, EPS) / (res2 + EPS)
        if abs(alpha / beta - t) / t < TOL:
            break
    return _evidence(n, d, sigma, x2, res_x2, alpha, beta)[0]


def logme(X: ArrayLike, y: ArrayLike) -> float:
    """LogME of descriptors X (n × D) for class labels y (n,): mean over classes of max log evidence / n."""
    X = check_descriptors(X, name="descriptors")
    lab = encode_labels(y, n_rows=len(X))
    if len(lab.classes) < 2:
        raise LayerScopeError("LogME needs at least two classes.")
    F = np.asarray(X, dtype=np.float64)
    n, d = F.shape
    Y = np.zeros((n, len(lab.classes)))
    Y[np.arange(n), lab.codes] = 1.0
    if n > d:
        # Eigen-decomposition of FᵀF (d × d) instead of the SVD of F (n × d): the same σ² and uᵀy =
        # vᵀFᵀy / σ, several times cheaper when n ≫ d (as the reference does for N > D).
        sigma, v = np.linalg.eigh(F.T @ F)
        keep = sigma > sigma.max() * d * np.finfo(float).eps if sigma.max() > 0 else np.zeros(d, bool)
        sigma, v = sigma[keep], v[:, keep]
        proj = (v.T @ (F.T @ Y)) / np.sqrt(sigma)[:, None]
    else:
        u, s, _ = np.linalg.svd(F, full_matrices=False)
        keep = s > s.max() * max(n, d) * np.finfo(float).eps if s.size and s.max() > 0 else np.zeros(len(s), bool)
        sigma, proj = s[keep] ** 2, u[:, keep].T @ Y
    ev = [_max_evidence(n, d, sigma, proj[:, c], float(Y[:, c].sum())) / n for c in range(Y.shape[1])]
    return float(np.mean(ev))


def logme_blocks(blocks: Mapping[str, ArrayLike], y: ArrayLike) -> pd.Series:
    """LogME per block (index = block name)."""
    return pd.Series({name: logme(X, y) for name, X in blocks.items()}, name="logme", dtype=float)


def rank_agreement(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of two scores over the same blocks (NaN with < 3 finite pairs)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)
