"""Retrieval with block descriptors: precision@k, combined two-block queries, few-shot memory.

Neighbour order everywhere: increasing distance, equal distances by lower row index
(analysis.probes.neighbours.nearest). A query given by row index never retrieves itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from analysis.arrays import check_descriptors, class_means, encode_labels
from analysis.errors import LayerScopeError
from analysis.probes.bootstrap import bootstrap_ci
from analysis.probes.neighbours import check_metric, nearest, pairwise_distances, rank_classes, vote_counts


@dataclass(frozen=True)
class PrecisionAtK:
    k: int
    metric: str
    queries: np.ndarray  # row index of each query
    neighbours: np.ndarray  # (n_queries, k) retrieved rows, best first
    precision: np.ndarray  # per query: fraction of the k retrieved rows with the query's label

    @property
    def mean(self) -> float:
        return float(self.precision.mean())


def _queries(n: int, n_queries: int, random_state: int) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=min(int(n_queries), n), replace=False))


def precision_at_k(
    X: ArrayLike,
    y: ArrayLike,
    k: int = 10,
    *,
    n_queries: int = 500,
    metric: str = "euclidean",
    random_state: int = 0,
) -> PrecisionAtK:
    """Mean over random queries (rows, without replacement) of the share of same-label rows
    among the k nearest other rows. A query whose class has no other image scores 0."""
    X = check_descriptors(X)
    labels = encode_labels(y, len(X))
    check_metric(metric)
    if not 1 <= k <= len(X) - 1:
        raise LayerScopeError(f"precision@{k} needs more than {k} images; there are {len(X)}.")
    q = _queries(len(X), n_queries, random_state)
    idx, _ = nearest(np.asarray(X[q]), X, k, metric, exclude=q)
    prec = (labels.codes[idx] == labels.codes[q][:, None]).mean(axis=1)
    return PrecisionAtK(k=int(k), metric=metric, queries=q, neighbours=idx, precision=prec)


@dataclass(frozen=True)
class CombinedRanking:
    order: np.ndarray  # candidate rows, best first
    score: np.ndarray  # combined score of each row in order (0 = best possible)
    rank_a: np.ndarray  # normalised rank in block A (0 nearest … 1 farthest), aligned with order
    rank_b: np.ndarray


def _normalised_ranks(D: np.ndarray) -> np.ndarray:
    """Per row, average rank of each distance scaled to [0, 1] (ties share a rank)."""
    n = D.shape[1]
    return (rankdata(D, method="average", axis=1) - 1) / max(n - 1, 1)


def _combine(Da: np.ndarray, Db: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ra, rb = _normalised_ranks(Da), _normalised_ranks(Db)
    score = weight * ra + (1.0 - weight) * rb
    cols = np.broadcast_to(np.arange(score.shape[1]), score.shape)
    order = np.lexsort((cols, score), axis=1)  # by score, equal scores by lower row index
    return order, score, ra, rb


def _self_excluded(D: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    if rows is not None:
        D[np.arange(len(rows)), rows] = np.inf  # ranks last, then cut off
    return D


def combined_ranking(
    X_a: ArrayLike,
    X_b: ArrayLike,
    query: int | tuple[ArrayLike, ArrayLike],
    *,
    weight: float = 0.5,
    metric_a: str = "euclidean",
    metric_b: str = "euclidean",
    top: int | None = None,
) -> CombinedRanking:
    """Rank all images by a mix of block A's and block B's distances to one query.

    E.g. block 2 (colour) as A and block 4 (pattern) as B: "same colour and same pattern".
    Score = weight · r_A + (1 − weight) · r_B, where r is the image's normalised distance rank
    in that block (0 nearest … 1 farthest; ties averaged). Ranks, not raw distances, because
    blocks have unrelated distance scales. Lower score first; equal scores by lower index.

    query: a row index present in both arrays (excluded from the ranking), or a pair of new
    descriptor vectors (A's, B's), e.g. an uploaded image embedded by the caller.
    """
    X_a, X_b = check_descriptors(X_a, "block A"), check_descriptors(X_b, "block B")
    if len(X_a) != len(X_b):
        raise LayerScopeError(f"block A has {len(X_a)} images and block B {len(X_b)}; they must be the same images.")
    if not 0.0 <= weight <= 1.0:
        raise LayerScopeError(f"weight must be between 0 and 1; got {weight}.")
    if isinstance(query, (int, np.integer)):
        if not 0 <= int(query) < len(X_a):
            raise LayerScopeError(f"query row {query} is outside 0…{len(X_a) - 1}.")
        qa, qb, self_row = X_a[[int(query)]], X_b[[int(query)]], np.array([int(query)])
    else:
        qa = np.asarray(query[0], dtype=np.float64).reshape(1, -1)
        qb = np.asarray(query[1], dtype=np.float64).reshape(1, -1)
        self_row = None
        for q, X, name in ((qa, X_a, "A"), (qb, X_b, "B")):
            if q.shape[1] != X.shape[1] or not np.isfinite(q).all():
                raise LayerScopeError(
                    f"the block {name} query must be {X.shape[1]} finite numbers; got {q.shape[1]}."
                )
    Da = _self_excluded(pairwise_distances(qa, X_a, check_metric(metric_a)), self_row)
    Db = _self_excluded(pairwise_distances(qb, X_b, check_metric(metric_b)), self_row)
    order, score, ra, rb = (a[0] for a in _combine(Da, Db, weight))
    n = len(X_a) - (self_row is not None)
    order = order[: n if top is None else min(int(top), n)]
    return CombinedRanking(order=order, score=score[order], rank_a=ra[order], rank_b=rb[order])


def combined_precision_at_k(
    X_a: ArrayLike,
    y_a: ArrayLike,
    X_b: ArrayLike,
    y_b: ArrayLike,
    k: int = 10,
    *,
    weight: float = 0.5,
    n_queries: int = 500,
    metric_a: str = "euclidean",
    metric_b: str = "euclidean",
    random_state: int = 0,
) -> PrecisionAtK:
    """precision@k of the combined ranking; relevant = same label in column A AND column B."""
    X_a, X_b = check_descriptors(X_a, "block A"), check_descriptors(X_b, "block B")
    la, lb = encode_labels(y_a, len(X_a)), encode_labels(y_b, len(X_b))
    if not 1 <= k <= len(X_a) - 1:
        raise LayerScopeError(f"precision@{k} needs more than {k} images; there are {len(X_a)}.")
    q = _queries(len(X_a), n_queries, random_state)
    neigh = np.empty((len(q), k), dtype=np.intp)
    for start in range(0, len(q), 64):  # 64 queries × n distances per block at a time
        rows = q[start : start + 64]
        Da = _self_excluded(pairwise_distances(np.asarray(X_a[rows]), X_a, check_metric(metric_a)), rows)
        Db = _self_excluded(pairwise_distances(np.asarray(X_b[rows]), X_b, check_metric(metric_b)), rows)
        neigh[start : start + 64] = _combine(Da, Db, weight)[0][:, :k]
    same = (la.codes[neigh] == la.codes[q][:, None]) & (lb.codes[neigh] == lb.codes[q][:, None])
    return PrecisionAtK(k=int(k), metric=f"{metric_a}+{metric_b}", queries=q, neighbours=neigh, precision=same.mean(axis=1))


def precision_table(blocks: Mapping[str, ArrayLike], labels: pd.DataFrame, k: int = 10, *, n_queries: int = 500,
                    metric: str = "euclidean", n_boot: int = 500, random_state: int = 0) -> pd.DataFrame:
    """precision@k of every block for every label column, the same random queries everywhere, with
    a 95 % percentile-bootstrap interval over the queries. Columns: block, label column,
    precision, low, high, queries."""
    rows = []
    for name, X in blocks.items():
        for col in labels.columns:
            p = precision_at_k(X, labels[col].to_numpy(), k, n_queries=n_queries, metric=metric,
                               random_state=random_state)
            low, high = bootstrap_ci(np.mean, p.precision, n_boot=n_boot, random_state=random_state)
            rows.append({"block": name, "label column": col, "precision": p.mean, "low": low, "high": high,
                         "queries": len(p.queries)})
    return pd.DataFrame(rows)


def combined_precision_table(X_a: ArrayLike, y_a: ArrayLike, X_b: ArrayLike, y_b: ArrayLike, k: int = 10, *,
                             weight: float = 0.5, names: tuple[str, str] = ("block A", "block B"),
                             n_queries: int = 500, metric: str = "euclidean", random_state: int = 0) -> pd.DataFrame:
    """Does combining two blocks help? precision@k where both labels must match, for block A's
    ranking alone (w = 1), block B's alone (w = 0) and the combination with `weight`; the same
    random queries for the three. Columns: ranking, weight, "precision@k (both labels)"."""
    rows = []
    for name, w in ((f"{names[0]} only", 1.0), (f"{names[1]} only", 0.0), (f"combined, w = {weight:.2f}", weight)):
        p = combined_precision_at_k(X_a, y_a, X_b, y_b, k, weight=w, n_queries=n_queries, metric_a=metric,
                                    metric_b=metric, random_state=random_state)
        rows.append({"ranking": name, "weight": w, f"precision@{k} (both labels)": p.mean})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FewShotResult:
    """Predictions for new vectors from a memory extended with new-class examples.

    Memory rows are indexed 0…n_memory-1, then the new examples follow.
    """

    classes: list  # all classes: memory classes ∪ new classes, sorted
    prototype_pred: list  # predicted label per query (nearest class mean)
    prototype_distances: np.ndarray  # (n_queries, n_classes) distance to each class mean
    knn_pred: list  # predicted label per query (k-NN vote, ties -> lower class index)
    neighbours: np.ndarray  # (n_queries, k) memory rows, nearest first
    neighbour_distances: np.ndarray
    neighbour_labels: np.ndarray


def few_shot_classify(
    memory_X: ArrayLike,
    memory_y: ArrayLike,
    new_X: ArrayLike,
    new_y: ArrayLike,
    queries: ArrayLike,
    *,
    k: int = 5,
    metric: str = "euclidean",
) -> FewShotResult:
    """"Add a class without training": append the new examples to the memory, then classify
    the queries by nearest class prototype and by k-NN over the memory. Nothing is fitted."""
    memory_X = check_descriptors(memory_X, "memory")
    new_X = check_descriptors(new_X, "new examples")
    queries = check_descriptors(np.atleast_2d(np.asarray(queries)), "queries")
    if not memory_X.shape[1] == new_X.shape[1] == queries.shape[1]:
        raise LayerScopeError(
            f"memory ({memory_X.shape[1]}), new examples ({new_X.shape[1]}) and queries "
            f"({queries.shape[1]}) must come from the same block (same number of channels)."
        )
    if len(np.asarray(memory_y)) != len(memory_X) or len(np.asarray(new_y)) != len(new_X):
        raise LayerScopeError("each memory row and each new example needs exactly one label.")
    M = np.concatenate([np.asarray(memory_X), np.asarray(new_X)])
    labels = encode_labels(np.concatenate([np.asarray(memory_y, dtype=object), np.asarray(new_y, dtype=object)]))
    if not 1 <= k <= len(M):
        raise LayerScopeError(f"k must be between 1 and the {len(M)} memory rows; got {k}.")
    classes = np.asarray(labels.classes, dtype=object)
    D = pairwise_distances(queries, class_means(M, labels.codes, len(classes)), check_metric(metric))
    idx, dist = nearest(queries, M, k, metric)
    votes = vote_counts(labels.codes[idx], len(classes))
    return FewShotResult(
        classes=labels.classes,
        prototype_pred=classes[np.argmin(D, axis=1)].tolist(),
        prototype_distances=D,
        knn_pred=classes[rank_classes(votes)[:, 0]].tolist(),
        neighbours=idx,
        neighbour_distances=dist,
        neighbour_labels=classes[labels.codes[idx]],
    )
