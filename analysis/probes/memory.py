"""The kNN memory experiment on one block: is a frozen network's embedding a usable class memory?

The memory is the training split's descriptors with their labels; the held-out split is classified by

* ``knn``: the k nearest memory rows vote (uniform, or weighted 1/distance as sklearn's
  ``weights="distance"``: a query at distance 0 of some rows takes only those rows' votes);
* ``mean``: the nearest class mean ("one mean embedding per class");
* ``head``: for a model with a linear classifier whose input has the block's width, the classifier's
  weight rows as class prototypes (cosine), scored where the dataset's labels are head class names;

reporting top-1 and top-5 (classes ranked by vote / distance, equal scores by lower class index).
``add_class`` then takes one class out of the memory, adds it back from a few images, and measures the
old classes' accuracy before and after (nothing is retrained, so the only possible change is old-class
images now lost to the new class).

Neighbour search goes through analysis.descriptors.index: exact (sklearn-equal) for small memories,
IVF-PQ with exact re-ranking above its threshold.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse

from analysis.arrays import check_descriptors, encode_labels, row_chunks
from analysis.descriptors.index import VectorIndex, build_index
from analysis.errors import LayerScopeError
from analysis.probes.neighbours import check_metric, pairwise_distances

if TYPE_CHECKING:  # annotation only: importing the model module here would be heavy or circular
    from analysis.models.model import Model

TOP = 5
WEIGHTS = ("uniform", "distance")


def split_memory(y: ArrayLike, test_size: float = 0.2, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(memory rows, held-out rows), stratified: test_size of every class with ≥ 2 images is held
    out (at least one image, never all); classes with one image stay in the memory."""
    if not 0 < test_size < 1:
        raise LayerScopeError(f"the held-out share must be between 0 and 1; got {test_size}.")
    codes = encode_labels(y).codes
    rng = np.random.default_rng(random_state)
    test = []
    for c in range(codes.max() + 1):
        rows = rng.permutation(np.flatnonzero(codes == c))
        if len(rows) >= 2:
            test.append(rows[: min(len(rows) - 1, max(1, round(test_size * len(rows))))])
    test = np.sort(np.concatenate(test)) if test else np.empty(0, dtype=np.int64)
    if len(test) == 0:
        raise LayerScopeError("no class has two images: nothing can be held out to test the memory.")
    return np.setdiff1d(np.arange(len(codes)), test), test


def memory_means(X: np.ndarray, codes: np.ndarray, rows: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean of X[rows] per class (n_classes × d, float64; NaN for a class without a row), summed
    with a sparse indicator per chunk: O(rows × d), not O(rows × classes × d) — 1000 classes at a
    million rows would otherwise be a teraflop."""
    sums = np.zeros((n_classes, X.shape[1]))
    for sl in row_chunks(len(rows), 65_536):
        r = rows[sl]
        ind = sparse.csr_matrix((np.ones(len(r)), (codes[r], np.arange(len(r)))), shape=(n_classes, len(r)))
        sums += ind @ np.asarray(X[r], dtype=np.float64)
    counts = np.bincount(codes[rows], minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def vote_scores(neighbour_codes: np.ndarray, dist: np.ndarray, n_classes: int, weights: str) -> np.ndarray:
    """(n_queries, n_classes) summed votes; 'distance' weights 1/d (exact matches outvote all)."""
    if weights not in WEIGHTS:
        raise LayerScopeError(f"weights must be one of {', '.join(WEIGHTS)}; got {weights!r}.")
    if weights == "uniform":
        w = np.ones_like(dist)
    else:
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        zero = dist == 0
        has_zero = zero.any(axis=1)
        w[has_zero] = zero[has_zero].astype(float)  # sklearn: only the exact matches count
    scores = np.zeros((len(dist), n_classes))
    np.add.at(scores, (np.repeat(np.arange(len(dist)), dist.shape[1]), neighbour_codes.ravel()), w.ravel())
    return scores


def ranked(scores: np.ndarray, higher_better: bool = True, valid: np.ndarray | None = None) -> np.ndarray:
    """First TOP classes per row by score (ties: lower class index); -1 where fewer classes qualify."""
    order = np.argsort(-scores if higher_better else scores, axis=1, kind="stable")[:, :TOP]
    if valid is not None:
        order = np.where(np.take_along_axis(valid, order, axis=1), order, -1)
    return order


@dataclass(frozen=True)
class MemoryResult:
    """table: one row per classifier setting (classifier, k, top1, top5); predictions: test rows ×
    setting -> top-5 class indices (into classes), -1 for 'no class'."""

    table: pd.DataFrame
    classes: list
    memory_rows: np.ndarray
    test_rows: np.ndarray
    y_test: np.ndarray  # class index of each held-out row
    predictions: dict[str, np.ndarray]
    engine: str  # what searched the neighbours
    notes: list[str]


def _score(name: str, k, top: np.ndarray, y_test: np.ndarray) -> dict:
    return {"classifier": name, "k": k, "top1": float((top[:, 0] == y_test).mean()),
            "top5": float((top == y_test[:, None]).any(axis=1).mean()), "n_test": len(y_test)}


def head_prototypes(model: Model, channels: int) -> tuple[np.ndarray, list[str]] | None:
    """(weight rows, class names) of the model's linear head if it reads `channels`-wide GAP features."""
    import torch

    head = model.net.get_classifier() if hasattr(model.net, "get_classifier") else None
    if not isinstance(head, torch.nn.Linear) or head.in_features != channels or not model.class_names:
        return None
    return head.weight.detach().float().cpu().numpy(), list(model.class_names)


def memory_experiment(
    X: ArrayLike,
    y: ArrayLike,
    *,
    ks: Sequence[int] = (1, 5, 20),
    weights: str = "distance",
    metric: str = "cosine",
    head: tuple[np.ndarray, list[str]] | None = None,
    test_size: float = 0.2,
    max_queries: int | None = 5000,
    random_state: int = 0,
    index: VectorIndex | None = None,
    index_kind: str = "auto",
) -> MemoryResult:
    """Top-1 / top-5 of kNN (every k), the class means and (if given) head prototypes on held-out rows
    (a random ``max_queries`` of them when there are more: a million-row memory holds out 200 000).

    ``index``: a prebuilt index over the memory rows of X (e.g. analysis.descriptors.index.store_index
    with rows=split_memory(...)[0]); built here otherwise."""
    X = check_descriptors(X)
    check_metric(metric)
    labels = encode_labels(y, len(X))
    codes, classes = labels.codes, labels.classes
    train, test = split_memory(y, test_size, random_state)
    if max_queries is not None and len(test) > max_queries:
        test = np.sort(np.random.default_rng(random_state).choice(test, size=int(max_queries), replace=False))
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1 or ks[-1] > len(train):
        raise LayerScopeError(f"k must be between 1 and the {len(train)} memory images; got {ks}.")
    if index is None:
        index = build_index(X, metric, index_kind, rows=train, random_state=random_state)
    elif index.n != len(train) or index.metric != metric:
        raise LayerScopeError("the index given does not hold this memory (other rows or metric); rebuild it.")
    Q = np.asarray(X[test])
    y_test = codes[test]
    nb, dist = index.search(Q, ks[-1])
    rows, preds = [], {}
    for k in ks:
        s = vote_scores(codes[nb[:, :k]], dist[:, :k], len(classes), weights)
        top = ranked(s, valid=s > 0)
        preds[f"knn k={k}"] = top
        rows.append(_score("kNN" + (" (1/distance votes)" if weights == "distance" else ""), k, top, y_test))
    means = memory_means(X, codes, train, len(classes))
    present = np.isfinite(means).all(axis=1)  # a class whose images were all held out has no mean
    D = pairwise_distances(Q, np.where(present[:, None], means, 0.0), metric)
    D[:, ~present] = np.inf
    top = ranked(D, higher_better=False, valid=np.broadcast_to(present, D.shape))
    preds["mean"] = top
    rows.append(_score("class mean", None, top, y_test))
    notes = []
    if head is not None:
        W, names = head
        lookup = {str(n).lower(): i for i, n in enumerate(names)}
        target = np.array([lookup.get(str(c).lower(), -1) for c in classes])
        if W.shape[1] != X.shape[1]:
            notes.append(f"head prototypes: the classifier reads {W.shape[1]} features, this block has {X.shape[1]}.")
        elif (target[y_test] < 0).all():
            notes.append("head prototypes: no label of this dataset is a class name of the model's head.")
        else:
            keep = target[y_test] >= 0
            S = 1.0 - pairwise_distances(Q[keep], W, "cosine")
            top_head = ranked(S)
            rows.append(_score("head weight rows (cosine)", None, top_head, target[y_test[keep]]))
            notes.append(f"head prototypes scored on the {int(keep.sum())} held-out images whose label is a head class.")
    return MemoryResult(pd.DataFrame(rows), classes, train, test, y_test, preds, index.describe(), notes)


@dataclass(frozen=True)
class AddClassResult:
    """table: per classifier, old classes' top-1 without the new class in the memory, with it
    (after adding ``shots`` images), the change, and the new class's top-1."""

    new_class: str
    shots: int
    shot_rows: np.ndarray
    table: pd.DataFrame


def add_class(
    X: ArrayLike,
    y: ArrayLike,
    new_class: str,
    *,
    shots: int = 5,
    k: int = 5,
    weights: str = "distance",
    metric: str = "cosine",
    test_size: float = 0.2,
    max_queries: int | None = 5000,
    random_state: int = 0,
    index_kind: str = "auto",
) -> AddClassResult:
    """Hold `new_class` out of the memory, then add `shots` of its memory images: measure the old
    classes' held-out accuracy before and after, and the new class's, for kNN and class means.
    Scored on every held-out image of the new class plus at most max_queries in all (random old ones)."""
    X = check_descriptors(X)
    labels = encode_labels(y, len(X))
    codes, classes = labels.codes, [str(c) for c in labels.classes]
    if str(new_class) not in classes:
        raise LayerScopeError(f"no class {new_class!r} in this label column.")
    c_new = classes.index(str(new_class))
    train, test = split_memory(y, test_size, random_state)
    own = train[codes[train] == c_new]
    if not 1 <= shots <= len(own):
        raise LayerScopeError(f"{new_class!r} has {len(own)} memory images; pick between 1 and {len(own)} shots.")
    shot_rows = np.sort(np.random.default_rng(random_state).choice(own, size=shots, replace=False))
    old_mem = train[codes[train] != c_new]
    if k > len(old_mem):
        raise LayerScopeError(f"k={k} is more than the {len(old_mem)} memory images.")
    if max_queries is not None and len(test) > max_queries:
        new_rows, old_rows = test[codes[test] == c_new], test[codes[test] != c_new]
        n_old = max(1, int(max_queries) - len(new_rows))
        old_rows = np.random.default_rng(random_state).choice(old_rows, size=min(n_old, len(old_rows)), replace=False)
        test = np.sort(np.concatenate([new_rows, old_rows]))
    Q = np.asarray(X[test])
    yt = codes[test]
    is_old = yt != c_new
    out = []
    before_after = {}
    for name, mem in (("before", old_mem), ("after", np.union1d(old_mem, shot_rows))):
        vi = build_index(X, metric, index_kind, rows=mem, random_state=random_state)
        nb, dist = vi.search(Q, k)
        s = vote_scores(codes[nb], dist, len(classes), weights)
        knn_pred = ranked(s, valid=s > 0)[:, 0]
        m = memory_means(X, codes, mem, len(classes))
        present = np.isfinite(m).all(axis=1)
        D = pairwise_distances(Q, np.where(present[:, None], m, 0.0), metric)
        D[:, ~present] = np.inf
        before_after[name] = {"kNN": knn_pred, "class mean": np.argmin(D, axis=1)}
    for clf in ("kNN", "class mean"):
        b, a = before_after["before"][clf], before_after["after"][clf]
        acc_b, acc_a = float((b[is_old] == yt[is_old]).mean()), float((a[is_old] == yt[is_old]).mean())
        out.append({"classifier": clf, "old classes before": acc_b, "old classes after": acc_a,
                    "change": acc_a - acc_b, "old images lost to the new class": int(((a == c_new) & is_old).sum()),
                    "new class top-1": float((a[~is_old] == c_new).mean()) if (~is_old).any() else float("nan"),
                    "n old test": int(is_old.sum()), "n new test": int((~is_old).sum())})
    return AddClassResult(str(new_class), int(shots), shot_rows, pd.DataFrame(out))
