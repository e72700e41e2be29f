"""Compiled k-smallest selection for the kNN probes (numba, parallel over query rows).

Why compiled: at 10 000 × 2048 a kNN fold's float32 product takes ~0.4 s, and NumPy's
``argpartition`` + gathers + float64 re-checks took as long again. These kernels read each
row of the product once, keep its k smallest entries in a small sorted buffer and compute the
float64 re-check distances without gathering candidate rows into a new array.

Order is lexicographic (value, index): scanning a row in index order, an entry enters the
buffer only if strictly smaller than its current k-th value, so of equal values the lower
index is kept — the order ``neighbours.lex_topk`` defines. NaN never enters (as argpartition
puts NaN last). ``cache=True``: compiled once per machine (a few seconds), not per process.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, nogil=True)
def _insert(vals, idx, k, cnt, v, j):  # pragma: no cover - compiled
    """Insert (v, j) into the sorted buffer of cnt (< k or == k) entries; return the new count."""
    if cnt < k:
        p = cnt
        cnt += 1
    elif v < vals[k - 1]:
        p = k - 1
    else:
        return cnt
    while p > 0 and vals[p - 1] > v:
        vals[p] = vals[p - 1]
        idx[p] = idx[p - 1]
        p -= 1
    vals[p] = v
    idx[p] = j
    return cnt


@numba.njit(cache=True, nogil=True)
def _insert_lex(vals, idx, cnt, v, j):  # pragma: no cover - compiled
    """Insert (v, j) into a sorted buffer with room, ordered by (value, index) whatever the insertion order."""
    p = cnt
    while p > 0 and (vals[p - 1] > v or (vals[p - 1] == v and idx[p - 1] > j)):
        vals[p] = vals[p - 1]
        idx[p] = idx[p - 1]
        p -= 1
    vals[p] = v
    idx[p] = j
    return cnt + 1


@numba.njit(parallel=True, cache=True)
def lex_topk_rows(D, k):  # pragma: no cover - compiled
    """(len(D), k) indices of each row's k smallest values by (value, index); k <= D.shape[1]."""
    n_rows = D.shape[0]
    out = np.empty((n_rows, k), dtype=np.int64)
    for i in prange(n_rows):
        vals = np.empty(k, dtype=D.dtype)
        idx = np.empty(k, dtype=np.int64)
        cnt = 0
        for j in range(D.shape[1]):
            if D[i, j] == D[i, j]:  # not NaN
                cnt = _insert(vals, idx, k, cnt, D[i, j], j)
        for c in range(cnt):
            out[i, c] = idx[c]
        # Fewer than k non-NaN values: the NaN columns follow, by index (argpartition's place for NaN).
        c = cnt
        j = 0
        while c < k:
            if D[i, j] != D[i, j]:
                out[i, c] = j
                c += 1
            j += 1
    return out


@numba.njit(parallel=True, cache=True)
def screened_euclidean(S, nm32, c32, mm32, eps, Q, M, qq, mm, need, m):  # pragma: no cover - compiled
    """The euclidean screen of ``neighbours.knn_sets`` for one chunk of queries.

    S: (q, n) normalised products; the screened value of memory row j for query i is
    (S[i, j] · nm32[j]) · c32[i] + mm32[j] in S's dtype (c32 = −2|q|), within eps[i] of the exact
    squared distance minus |q|². Per row: the m smallest screened values; candidates are those
    within 2·eps of the need-th; their exact float64 squared distance, (|q|² + (−2 q·m)) + |m|²
    clipped at 0 as the exact path computes it, the product summed in float64 in 8 lanes; the
    first `need` by (distance, index).
    Returns (order, vals, dense): dense[i] when the m-th screened value is still inside the
    limit (rows outside the buffer may be candidates): those rows must be redone by the caller.
    """
    n_rows, n = S.shape
    dim = Q.shape[1]
    order = np.empty((n_rows, need), dtype=np.int64)
    vals = np.empty((n_rows, need), dtype=np.float64)
    dense = np.zeros(n_rows, dtype=np.bool_)
    for i in prange(n_rows):
        bv = np.empty(m, dtype=S.dtype)
        bi = np.empty(m, dtype=np.int64)
        cnt = 0
        for j in range(n):
            a = (S[i, j] * nm32[j]) * c32[i] + mm32[j]
            cnt = _insert(bv, bi, m, cnt, a, j)
        limit = np.float64(bv[need - 1]) + 2.0 * eps[i]
        if m < n and np.float64(bv[m - 1]) <= limit:
            dense[i] = True
            continue
        ev = np.empty(cnt, dtype=np.float64)
        ei = np.empty(cnt, dtype=np.int64)
        c_n = 0
        for c in range(cnt):
            if np.float64(bv[c]) > limit:
                break
            j = bi[c]
            lanes = np.zeros(8, dtype=np.float64)
            t = 0
            while t + 8 <= dim:
                for u in range(8):
                    lanes[u] += np.float64(Q[i, t + u]) * np.float64(M[j, t + u])
                t += 8
            s = 0.0
            while t < dim:
                s += np.float64(Q[i, t]) * np.float64(M[j, t])
                t += 1
            s += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            d = (s * -2.0 + qq[i]) + mm[j]
            c_n = _insert_lex(ev, ei, c_n, d if d > 0.0 else 0.0, j)
        for c in range(need):
            order[i, c] = ei[c]
            vals[i, c] = ev[c]
    return order, vals, dense
