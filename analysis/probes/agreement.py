"""ARI and AMI from a contingency table, bit for bit as scikit-learn computes them from labels.

The block report bootstraps ARI / AMI over 200 resamples per block; at 10 000 images scikit-learn's
label-array functions spend most of that time re-encoding labels and in the expected mutual
information (EMI, a triple loop with three ``lgamma`` and one ``exp`` per term). Here:

* the contingency table of a resample is one ``bincount`` (rows = classes, columns = clusters,
  both in sorted label order, empty ones dropped — what ``contingency_matrix`` builds);
* ARI: ``pair_confusion_matrix`` / ``adjusted_rand_score``'s integer formulas on that table;
* AMI: ``mutual_info_score(contingency=…)`` itself, the entropies as ``_entropy`` sums them, and
  the EMI loop of ``_expected_mutual_info_fast.pyx`` compiled with numba, its libc ``lgamma`` calls
  read from a table filled by the same libc ``lgamma`` (so every term is the same float operation
  on the same values, summed in the same order).

``tests/probes/test_agreement.py`` checks equality (``==``) with scikit-learn; where numba or libc
``lgamma`` is unavailable, scikit-learn's own EMI is used.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from math import log

import numpy as np
from scipy.special import gammaln
from sklearn.metrics import mutual_info_score


@lru_cache(maxsize=1)
def _libc_lgamma():
    try:
        f = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6").lgamma
    except (OSError, AttributeError, TypeError):
        return None
    f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double]
    return f


def lgamma_table(n_max: int) -> np.ndarray | None:
    """libc lgamma(m) for m = 0 … n_max + 1 (what the EMI loop calls), or None without libc."""
    f = _libc_lgamma()
    if f is None:
        return None
    return np.array([f(float(m)) for m in range(int(n_max) + 2)])


@lru_cache(maxsize=1)
def _emi_loop():
    try:
        from numba import njit
    except ImportError:  # numba comes with umap-learn; without it sklearn's EMI is used
        return None

    @njit(cache=False)
    def loop(a, b, n, term1, log_nnij, log_a, log_b, gln_a, gln_b, gln_na, gln_nb, gln_nnij, lg):  # pragma: no cover
        emi = 0.0
        for i in range(a.shape[0]):
            for j in range(b.shape[0]):
                start = max(1, a[i] - n + b[j])
                end = min(a[i], b[j]) + 1
                for nij in range(start, end):
                    term2 = log_nnij[nij] - log_a[i] - log_b[j]
                    gln = (gln_a[i] + gln_b[j] + gln_na[i] + gln_nb[j]
                           - gln_nnij[nij] - lg[a[i] - nij + 1]
                           - lg[b[j] - nij + 1]
                           - lg[n - a[i] - b[j] + nij + 1])
                    term3 = np.exp(gln)
                    emi += term1[nij] * term2 * term3
        return emi

    return loop


def expected_mutual_information(T: np.ndarray, n: int, lg: np.ndarray | None) -> float:
    """sklearn's ``expected_mutual_information(contingency, n)``, same arithmetic."""
    a, b = T.sum(axis=1).astype(np.int64), T.sum(axis=0).astype(np.int64)
    if a.size == 1 or b.size == 1:
        return 0.0
    loop = _emi_loop()
    if loop is None or lg is None or len(lg) < n + 2:
        from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information as emi

        return float(emi(T, n))
    nijs = np.arange(0, max(np.max(a), np.max(b)) + 1, dtype="float")
    nijs[0] = 1
    return float(loop(a, b, np.int64(n), nijs / n, np.log(n) + np.log(nijs), np.log(a), np.log(b),
                      gammaln(a + 1), gammaln(b + 1), gammaln(n - a + 1), gammaln(n - b + 1),
                      gammaln(nijs + 1) + gammaln(n + 1), lg))


def _entropy(counts: np.ndarray) -> float:
    """sklearn's ``_entropy(labels)`` from the label counts (sorted label order)."""
    pi = counts.astype(np.float64)
    if pi.size == 1:
        return 0.0
    pi_sum = np.sum(pi)
    return float(-np.sum(pi / pi_sum * (np.log(pi) - log(pi_sum))))


def adjusted_rand(T: np.ndarray) -> float:
    """``adjusted_rand_score`` of the labelling whose contingency table is T (no empty rows/columns)."""
    T = T.astype(np.int64)
    n = np.int64(T.sum())
    n_c, n_k = T.sum(axis=1), T.sum(axis=0)
    sum_squares = (T**2).sum()
    tp = sum_squares - n
    fp = (T @ n_k).sum() - sum_squares
    fn = (T.T @ n_c).sum() - sum_squares
    tn = n**2 - fp - fn - sum_squares
    tn, fp, fn, tp = int(tn), int(fp), int(fn), int(tp)
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def adjusted_mutual_info(T: np.ndarray, lg: np.ndarray | None) -> float:
    """``adjusted_mutual_info_score`` (arithmetic mean) from the contingency table T."""
    n_classes, n_clusters = T.shape
    if n_classes == n_clusters == 1 or n_classes == n_clusters == 0:
        return 1.0
    if n_classes == 1 or n_clusters == 1:
        return 0.0
    n = int(T.sum())
    T = T.astype(np.int64)
    mi = mutual_info_score(None, None, contingency=T)
    emi = expected_mutual_information(T, n, lg)
    normalizer = np.mean([_entropy(T.sum(axis=1)), _entropy(T.sum(axis=0))])
    eps = np.finfo("float64").eps
    denominator = normalizer - emi
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    numerator = mi - emi
    numerator = min(numerator, -eps) if numerator < 0 else max(numerator, eps)
    return float(numerator / denominator)


def ari_ami_from_table(T: np.ndarray, lg: np.ndarray | None) -> tuple[float, float]:
    return adjusted_rand(T), adjusted_mutual_info(T, lg)
