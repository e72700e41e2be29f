"""Distances and nearest-neighbour search: the one place where descriptor distances are computed.

Distances are computed the way scikit-learn computes them, so that our kNN predictions are
identical to ``KNeighborsClassifier(algorithm="brute")``:

* euclidean: squared distance ``(|q|² + (-2 q·m)) + |m|²`` in float64 (float32 input is
  upcast, as sklearn's ``ArgKmin`` does), clipped at 0; ranking uses the squared value.
* cosine: ``1 - normalize(q)·normalize(m)``, clipped to [0, 2], in the input dtype, with the
  query rows chunked exactly like ``sklearn.metrics.pairwise_distances_chunked`` (BLAS results
  depend on the chunk shape, and sklearn's cosine path is float32 for float32 input).

Query rows are processed in chunks sized by sklearn's ``working_memory`` setting
(``sklearn.set_config(working_memory=MB)``, default 1024 MB for one chunk of distances).

Neighbour order used for retrieval (``nearest``): by distance, equal distances by lower
memory index. The kNN classifier sets (``knn_neighbour_sets``) follow sklearn's own rule
instead, see there.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from sklearn import get_config
from sklearn.preprocessing import normalize

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError

METRICS = ("euclidean", "cosine")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise LayerScopeError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    return metric


def _float(X: np.ndarray) -> np.ndarray:
    """X as a C-ordered float array (float32 stays float32, ints -> float64), as sklearn does."""
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(X, dtype=dtype)


class _Memory:
    """The memory side of a distance computation, prepared once and reused for every chunk."""

    def __init__(self, M: np.ndarray, metric: str):
        self.metric = check_metric(metric)
        self.n = len(M)
        if metric == "euclidean":
            self.M = np.ascontiguousarray(M, dtype=np.float64)  # sklearn upcasts float32 too
            self.sq = np.einsum("ij,ij->i", self.M, self.M)
        else:
            self.M = normalize(_float(M))  # sklearn's own normalisation (zero rows stay zero)

    def distances(self, Q: np.ndarray, squared: bool = False) -> np.ndarray:
        """Distances from the query rows Q to every memory row."""
        if self.metric == "euclidean":
            Q = np.asarray(Q, dtype=np.float64)
            D = Q @ self.M.T  # in place from here: one chunk-sized buffer
            D *= -2.0
            D += np.einsum("ij,ij->i", Q, Q)[:, None]  # sklearn's order: (|q|² + middle) + |m|²
            D += self.sq[None, :]
            np.maximum(D, 0.0, out=D)
            return D if squared else np.sqrt(D, out=D)
        S = normalize(_float(Q)) @ self.M.T
        S *= -1
        S += 1
        return np.clip(S, 0.0, 2.0)


def distance_chunks(
    Q: np.ndarray, M: np.ndarray, metric: str, squared: bool = False
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (query slice, distance block) covering all query rows, memory-bounded."""
    mem = _Memory(M, metric)
    rows = _chunk_rows(mem.n, len(Q))
    for start in range(0, len(Q), rows):
        sl = slice(start, min(start + rows, len(Q)))
        yield sl, mem.distances(Q[sl], squared=squared)


def _chunk_rows(n_memory: int, n_queries: int) -> int:
    """sklearn's pairwise_distances_chunked rule (utils._chunking.get_chunk_n_rows): as many rows of
    8-byte distances as fit in working_memory MiB, at least one."""
    return max(1, min(int(get_config()["working_memory"] * 2**20 // (8 * n_memory)), n_queries))


def pairwise_distances(Q: np.ndarray, M: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Full (len(Q) × len(M)) distance matrix; for small inputs and single queries."""
    return np.concatenate([D for _, D in distance_chunks(Q, M, metric)], axis=0)


def paired_distances(A: np.ndarray, B: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance between A[i] and B[i] for every i (float64)."""
    check_metric(metric)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if metric == "euclidean":
        return np.sqrt(((A - B) ** 2).sum(axis=1))
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(B, axis=1)
    # Zero vectors: similarity 0 (distance 1), as sklearn's normalize leaves them at zero.
    denom = np.where((na > 0) & (nb > 0), na * nb, np.inf)
    return np.clip(1.0 - (A * B).sum(axis=1) / denom, 0.0, 2.0)


# Distance blocks from this many entries use the compiled selection (analysis/probes/topk.py),
# for k up to this (its sorted buffer costs O(k) per admitted entry).
_COMPILED_MIN_SIZE = 1 << 20
_COMPILED_MAX_K = 256


def lex_topk(D: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k column indices with the smallest values, ordered by (value, index)."""
    n = D.shape[1]
    k = min(k, n)
    if D.size >= _COMPILED_MIN_SIZE and k <= _COMPILED_MAX_K:
        from analysis.probes.topk import lex_topk_rows  # numba: imported when first needed

        return lex_topk_rows(np.ascontiguousarray(D), k).astype(np.intp, copy=False)
    part = np.argpartition(D, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(D), 1))
    vals = np.take_along_axis(D, part, axis=1)
    order = np.lexsort((part, vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    # argpartition picks arbitrary members of a tie at the k-th value: redo those rows exactly.
    kth = np.take_along_axis(D, idx[:, -1:], axis=1)
    for r in np.flatnonzero((D <= kth).sum(axis=1) > k):
        less = np.flatnonzero(D[r] < kth[r, 0])
        less = less[np.lexsort((less, D[r, less]))]
        equal = np.flatnonzero(D[r] == kth[r, 0])[: k - len(less)]
        idx[r] = np.concatenate([less, equal])
    return idx


def nearest(
    Q: np.ndarray,
    M: np.ndarray,
    k: int,
    metric: str = "euclidean",
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest memory rows per query: (indices, distances), each (len(Q), k).

    Order: increasing distance, equal distances by lower memory index. ``exclude[i]`` (a memory
    index, or -1) is never returned for query i (the query itself in leave-one-out retrieval).
    """
    n_avail = len(M) - (0 if exclude is None else 1)
    if not 1 <= k <= n_avail:
        raise LayerScopeError(f"asked for {k} neighbours but only {n_avail} candidates are available.")
    out_i = np.empty((len(Q), k), dtype=np.intp)
    out_d = np.empty((len(Q), k), dtype=np.float64)
    for sl, D in distance_chunks(Q, M, metric, squared=True):
        if exclude is not None:
            rows = np.flatnonzero(exclude[sl] >= 0)
            D[rows, exclude[sl][rows]] = np.inf
        idx = lex_topk(D, k)
        out_i[sl] = idx
        out_d[sl] = np.take_along_axis(D, idx, axis=1)
    if metric == "euclidean":
        np.sqrt(out_d, out=out_d)
    return out_i, out_d


def leave_one_out_neighbours(X: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """(n, min(k, n - 1)) indices of each row's k nearest OTHER rows, nearest first (the kNN graph
    of a set with itself, e.g. for GridCut's neighbourhood score).

    Runs scikit-learn's brute-force ``ArgKmin`` (float32 stays float32): ~2x faster here than
    `nearest` with ``exclude``, which upcasts to float64 for sklearn-identical kNN *predictions*
    (benchmarks/neighbours.py, 4000 x 512: median 2.8 s vs 5.9 s, 2.1x, same neighbour sets). Among rows at
    exactly equal distance the order is sklearn's; a duplicate of a row is a neighbour like any other.
    """
    from sklearn.neighbors import NearestNeighbors

    X = check_descriptors(X)
    check_metric(metric)
    n = len(X)
    if k < 1:
        raise LayerScopeError("k must be >= 1.")
    k = min(int(k), n - 1)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    idx = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(X).kneighbors(
        X, return_distance=False)
    keep = idx != np.arange(n)[:, None]
    # With duplicate rows the row itself may fall outside its k + 1 nearest: drop the last one then.
    keep[keep.all(axis=1), -1] = False
    return idx[keep].reshape(n, k).astype(np.int64)


def _heap_push(values: list, indices: list, val: float, idx: int) -> None:
    """sklearn.utils._heap.heap_push, line by line: a size-k max-heap, strict admission."""
    if val >= values[0]:
        return
    size, cur = len(values), 0
    while True:
        left = 2 * cur + 1
        right = left + 1
        if left >= size:
            break
        if right >= size:
            if values[left] > val:
                swap = left
            else:
                break
        elif values[left] >= values[right]:
            if val < values[left]:
                swap = left
            else:
                break
        elif val < values[right]:
            swap = right
        else:
            break
        values[cur], indices[cur] = values[swap], indices[swap]
        cur = swap
    values[cur], indices[cur] = val, idx


def _sklearn_heap_set(d: np.ndarray, k: int) -> np.ndarray:
    """The k indices sklearn's ArgKmin keeps when it pushes d[0], d[1], … in order."""
    values, indices = [np.inf] * k, [-1] * k
    for start in range(0, len(d), 4096):
        block = d[start : start + 4096]
        # Only values below the current root can enter; the root never increases.
        for j in np.flatnonzero(block < values[0]):
            _heap_push(values, indices, float(block[j]), start + int(j))
    return np.array(indices, dtype=np.intp)


def knn_neighbour_sets(
    Q: np.ndarray, M: np.ndarray, ks: Sequence[int], metric: str = "euclidean"
) -> Iterator[tuple[slice, dict[int, np.ndarray]]]:
    """For each query chunk, the k-neighbour set for every k in ks, exactly as sklearn picks it.

    One distance block per chunk, one partial sort for max(ks) (+1 to see ties), reused for all
    k. The set only differs between implementations when distances tie at the k-th place; then:

    * euclidean — sklearn (brute, ``ArgKmin``) pushes memory rows in index order into a size-k
      max-heap that admits a value only if it is strictly smaller than the current maximum;
      we replay that heap (``_sklearn_heap_set``) on the tied rows. Caveat: sklearn with
      several OpenMP threads and a small query set (its ``parallel_on_Y`` strategy) merges
      per-thread heaps and may keep other tied rows; we reproduce its single-thread answer.
    * cosine — sklearn falls back to ``pairwise_distances_chunked`` and keeps
      ``np.argpartition(row, k - 1)[:k]``; we call the same on the tied rows.

    Rows returned per k are unordered sets (voting does not depend on order).
    """
    ks = _check_ks(ks, len(M))
    for sl, D in distance_chunks(Q, M, metric, squared=True):
        yield sl, _sets_from_distances(D, ks, metric)


def _check_ks(ks: Sequence[int], n_memory: int) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if ks[0] < 1 or ks[-1] > n_memory:
        raise LayerScopeError(f"k must be between 1 and the {n_memory} training images; got {ks}.")
    return ks


def _sets_from_distances(D: np.ndarray, ks: list[int], metric: str) -> dict[int, np.ndarray]:
    """sklearn's k-neighbour set per k from a full block of (squared) distances (see knn_neighbour_sets)."""
    order = lex_topk(D, ks[-1] + 1)
    vals = np.take_along_axis(D, order, axis=1)
    return _sets_from_order(order, vals, ks, lambda r, k: _sklearn_heap_set(D[r], k) if metric == "euclidean"
                            else np.argpartition(D[r], k - 1)[:k])


def _sets_from_order(order: np.ndarray, vals: np.ndarray, ks: list[int], tied) -> dict[int, np.ndarray]:
    """Per k, the first k of the lex order, or tied(row, k) where the k-th and (k+1)-th values are equal."""
    sets = {}
    for k in ks:
        chosen = order[:, :k].copy()
        if k < vals.shape[1]:
            for r in np.flatnonzero(vals[:, k - 1] == vals[:, k]):
                chosen[r] = tied(r, k)
        sets[k] = chosen
    return sets


# The screened euclidean path pays off from about this size on; below it the exact pass is cheap.
_SCREEN_MIN_MEMORY = 256  # memory rows
_SCREEN_MIN_DIM = 128  # channels (below, the float64 product is cheap next to the screen)


def knn_sets(
    Q: np.ndarray, M: np.ndarray, ks: Sequence[int], metrics: Sequence[str] = METRICS
) -> Iterator[tuple[slice, dict[str, dict[int, np.ndarray]]]]:
    """``knn_neighbour_sets`` for several metrics at once: per query chunk, {metric: {k: set}} —
    the same sets, with one matrix product per chunk instead of one per metric.

    The cosine pass's product S of normalised rows (the input dtype, float32 for float32
    descriptors, exactly as sklearn computes cosine) also screens the euclidean neighbours:
    |m|² − 2|q||m|·S is each squared distance minus |q|², up to a rounding bound ε per query
    (a worst-case bound over the dot-product length, not an estimate). Memory rows within 2ε of
    the (max(ks)+1)-th smallest screened value are the candidates; they get the exact float64
    distance of the exact path, and every other row is provably farther than max(ks)+1 of them.
    Rows with an exact tie at some k are redone on the full float64 row (sklearn's heap replay).
    So the sets equal knn_neighbour_sets' while the float64 matrix product is skipped.
    """
    metrics = [check_metric(m) for m in metrics]
    ks = _check_ks(ks, len(M))
    if "euclidean" not in metrics or len(M) < max(_SCREEN_MIN_MEMORY, 2 * ks[-1] + 2) or Q.shape[1] < _SCREEN_MIN_DIM:
        per_metric = {m: list(knn_neighbour_sets(Q, M, ks, m)) for m in metrics}  # same chunking for all
        for i, (sl, _) in enumerate(per_metric[metrics[0]]):
            yield sl, {m: per_metric[m][i][1] for m in metrics}
        return
    cos = _Memory(M, "cosine")
    screen = _EuclideanScreen(M)
    rows = _chunk_rows(len(M), len(Q))
    for start in range(0, len(Q), rows):
        sl = slice(start, min(start + rows, len(Q)))
        Qc = np.asarray(Q[sl])
        S = normalize(_float(Qc)) @ cos.M.T  # exactly _Memory.distances' cosine product
        out = {"euclidean": screen.sets(Qc, S, ks)}
        if "cosine" in metrics:
            S *= -1
            S += 1
            out["cosine"] = _sets_from_distances(np.clip(S, 0.0, 2.0), ks, "cosine")
        yield sl, {m: out[m] for m in metrics}


class _EuclideanScreen:
    """The memory side of knn_sets' euclidean screen: float64 norms as the exact path has them."""

    def __init__(self, M: np.ndarray):
        self.M = M
        self.mm = np.concatenate([np.einsum("ij,ij->i", c, c) for c in _float64_chunks(M)])
        self.nm = np.sqrt(self.mm)
        self.M_c = np.ascontiguousarray(M)  # the compiled screen reads candidate rows from it
        self._exact: _Memory | None = None

    def exact(self) -> _Memory:
        if self._exact is None:
            self._exact = _Memory(self.M, "euclidean")
        return self._exact

    def sets(self, Q: np.ndarray, S: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
        need = ks[-1] + 1
        n, dim = len(self.M), Q.shape[1]
        Q64 = np.asarray(Q, dtype=np.float64)
        qq = np.einsum("ij,ij->i", Q64, Q64)
        nq, nm_max = np.sqrt(qq), float(self.nm.max())
        dt = S.dtype
        # Screened value A = (S · |m|) · (−2|q|) + |m|², in S's dtype: squared distance minus |q|².
        # |A - (exact - |q|²)|: the normalised product (GEMM over dim terms + both normalisations,
        # each within (dim + 2) u relative), the three dtype operations on terms up to
        # 2|q||m| + |m|², and the float64 formula's own rounding; times 1.25 for safety.
        u, u64 = float(np.finfo(dt).eps) / 2, 2.0**-53
        eps = 1.25 * (2 * nq * nm_max * (3 * dim + 10) * u + 4 * u * (2 * nq * nm_max + nm_max**2)
                      + 2 * (dim + 8) * u64 * (nq + nm_max) ** 2)
        m = min(n, 2 * need + 8)
        from analysis.probes.topk import screened_euclidean  # numba: imported when first needed

        c32, nm32, mm32 = (-2.0 * nq).astype(dt), self.nm.astype(dt), self.mm.astype(dt)
        order, vals, dense = screened_euclidean(
            np.ascontiguousarray(S), nm32, c32, mm32, np.ascontiguousarray(eps, dtype=np.float64),
            np.ascontiguousarray(Q), self.M_c, qq, self.mm, need, m)
        order = order.astype(np.intp, copy=False)
        for i in np.flatnonzero(dense):  # a dense neighbourhood: every row within the bound is a candidate
            A = (S[i] * nm32) * c32[i] + mm32
            limit = float(np.partition(A, need - 1)[need - 1]) + 2 * eps[i]
            cand = np.flatnonzero(A <= limit)
            order[i], vals[i] = (x[0] for x in self._exact_top(Q64[i : i + 1], qq[i : i + 1], cand[None, :], need))
        sets = _sets_from_order(order, vals, ks, lambda i, k: order[i, :k])
        tied = np.flatnonzero(np.any([vals[:, k - 1] == vals[:, k] for k in ks if k < need], axis=0))
        if len(tied):  # exact ties: the full float64 row, sklearn's heap replay (the exact path)
            full = _sets_from_distances(self.exact().distances(Q[tied], squared=True), ks, "euclidean")
            for k in ks:
                sets[k][tied] = full[k]
        return sets

    def _exact_top(self, Q64: np.ndarray, qq: np.ndarray, cand: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `need` candidates by (exact squared distance, index), and those distances."""
        rows = np.asarray(self.M[cand.ravel()], dtype=np.float64).reshape(*cand.shape, -1)
        G = np.einsum("ikj,ij->ik", rows, Q64)
        D = G * -2.0  # the exact path's order of operations: (|q|² + (-2 q·m)) + |m|², clipped at 0
        D += qq[:, None]
        D += self.mm[cand]
        np.maximum(D, 0.0, out=D)
        o = np.lexsort((cand, D), axis=1)[:, :need]
        return np.take_along_axis(cand, o, axis=1), np.take_along_axis(D, o, axis=1)


def _float64_chunks(M: np.ndarray, rows: int = 4096) -> Iterator[np.ndarray]:
    for start in range(0, len(M), rows):
        yield np.asarray(M[start : start + rows], dtype=np.float64)


def vote_counts(neighbour_codes: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_queries, n_classes) votes from an (n_queries, k) array of neighbour class indices."""
    n = len(neighbour_codes)
    flat = (np.arange(n)[:, None] * n_classes + neighbour_codes).ravel()
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)


def rank_classes(counts: np.ndarray) -> np.ndarray:
    """Classes per query by votes (descending), equal votes by lower class index.

    Column 0 is sklearn's prediction (``scipy.stats.mode`` returns the smallest modal value).
    """
    return np.argsort(-counts, axis=1, kind="stable")
