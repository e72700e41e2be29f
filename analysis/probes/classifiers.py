"""Cross-validated probes of one block's descriptors: how well do they predict a label?

All probes use the same ``FoldPlan`` (stratified K-fold, analysis.probes.folds) so their numbers are
comparable, and each test image is predicted exactly once.

* ``prototype_cv``: nearest class mean ("prototype"); metric euclidean or cosine (cosine
  distance to the raw class mean). Ties -> lower class index (same as sklearn NearestCentroid).
* ``knn_cv``: k-nearest neighbours for several k and metrics, identical to
  ``KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=m)`` (tie rules in
  analysis.probes.neighbours). Top-5: classes ranked by votes, equal votes by lower class index, only
  classes with at least one vote; a hit if the true class is among the first five.
* ``umap_knn_cv``: the same kNN after UMAP fitted on the training fold only (test rows are
  ``transform``-ed), for several dimensions.
* ``linear_probe_cv``: StandardScaler + LogisticRegression fitted per training fold.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.arrays import check_descriptors, class_means
from analysis.errors import LayerScopeError
from analysis.probes.folds import FoldPlan, resolve_plan
from analysis.probes.neighbours import (
    METRICS,
    check_metric,
    knn_sets,
    pairwise_distances,
    rank_classes,
    vote_counts,
)
from analysis.probes.reduction import default_dims, fit_umap, umap_transform
from analysis.progress import Progress, report

KS = (1, 2, 4, 8, 16)
TOP = 5  # top-N accuracy reported next to top-1



@dataclass(frozen=True)
class ProbeResult:
    """Cross-validated predictions of one probe with one setting (e.g. kNN, cosine, k=4).

    rows / y_true / y_pred / fold: one entry per scored image (test order); rows index the
    original X, y_true and y_pred index ``classes``. fold_scores: top-1 accuracy per fold.
    top5: (n_scored, 5) classes ranked by votes, -1 where fewer classes got a vote (kNN only).
    """

    method: str
    params: dict
    classes: list
    rows: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    fold: np.ndarray
    fold_scores: np.ndarray
    top5: np.ndarray | None = None
    message: str = ""  # the fold plan's note (classes excluded / folds reduced), "" if none

    @property
    def mean(self) -> float:
        return float(self.fold_scores.mean())

    @property
    def std(self) -> float:
        """Standard deviation of the fold accuracies (ddof=0)."""
        return float(self.fold_scores.std())

    @property
    def correct(self) -> np.ndarray:
        return self.y_true == self.y_pred

    @property
    def top5_hit(self) -> np.ndarray | None:
        return None if self.top5 is None else (self.top5 == self.y_true[:, None]).any(axis=1)

    @property
    def top5_fold_scores(self) -> np.ndarray | None:
        hit = self.top5_hit
        if hit is None:
            return None
        return np.array([hit[self.fold == f].mean() for f in range(len(self.fold_scores))])

    @property
    def per_class(self) -> pd.DataFrame:
        """Per class: images scored, correct, accuracy (= recall of that class)."""
        n = np.bincount(self.y_true, minlength=len(self.classes))
        ok = np.bincount(self.y_true[self.correct], minlength=len(self.classes))
        return pd.DataFrame({"class": self.classes, "n": n, "correct": ok, "accuracy": ok / np.maximum(n, 1)})

    @property
    def confusion(self) -> np.ndarray:
        """(classes × classes) counts: row = true class, column = predicted class."""
        return confusion_matrix(self.y_true, self.y_pred, labels=np.arange(len(self.classes)))


@dataclass(frozen=True)
class ProbeSet:
    """Several settings of one probe, keyed by a tuple of the varied parameters."""

    key_names: tuple[str, ...]  # ("metric", "k") for knn_cv, ("dim", "k") for umap_knn_cv
    results: dict[tuple, ProbeResult]

    @property
    def table(self) -> pd.DataFrame:
        """One row per setting: parameters, accuracy (mean over folds), std, top5, top5_std."""
        rows = []
        for key, r in self.results.items():
            t5 = r.top5_fold_scores
            rows.append({
                **dict(zip(self.key_names, key)), "accuracy": r.mean, "std": r.std,
                "top5": np.nan if t5 is None else float(t5.mean()),
                "top5_std": np.nan if t5 is None else float(t5.std()),
            })
        return pd.DataFrame(rows)

    @property
    def best(self) -> ProbeResult:
        """Highest mean accuracy; ties -> the first setting in insertion order."""
        return max(self.results.values(), key=lambda r: r.mean)  # max keeps the first of equals


FoldFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int], dict]


def _inputs(X: ArrayLike, y: ArrayLike, plan: FoldPlan | None, n_splits: int, random_state: int):
    X = check_descriptors(X)
    return X, resolve_plan(y, len(X), plan, n_splits, random_state)


def _cross_validate(
    X: np.ndarray,
    plan: FoldPlan,
    method: str,
    params_of: Callable[[tuple], dict],
    fold_fn: FoldFn,
    progress: Progress | None = None,
) -> dict[tuple, ProbeResult]:
    """Run fold_fn(X_train, codes_train, X_test, n_classes) -> {key: (pred, top5 | None)} per fold."""
    parts: dict[tuple, list] = {}
    for f, (tr, te) in enumerate(plan.splits):
        report(progress, f, plan.n_splits, f"{method}: fold {f + 1} of {plan.n_splits}")
        # Fancy indexing copies only this fold's rows out of a memmap; X itself is never written.
        for key, (pred, top) in fold_fn(np.asarray(X[tr]), plan.codes[tr], np.asarray(X[te]), plan.n_classes).items():
            parts.setdefault(key, []).append((f, te, pred, top))
    results = {}
    for key, folds in parts.items():
        rows = np.concatenate([te for _, te, _, _ in folds])
        fold = np.concatenate([np.full(len(te), f) for f, te, _, _ in folds])
        y_true = plan.codes[rows]
        y_pred = np.concatenate([p for _, _, p, _ in folds]).astype(np.int64)
        top = None if folds[0][3] is None else np.concatenate([t for *_, t in folds])
        scores = np.array([(y_true[fold == f] == y_pred[fold == f]).mean() for f in range(plan.n_splits)])
        results[key] = ProbeResult(
            method=method, params=params_of(key), classes=list(plan.classes), rows=rows, y_true=y_true,
            y_pred=y_pred, fold=fold, fold_scores=scores, top5=top, message=plan.message,
        )
    return results


def prototype_cv(
    X: ArrayLike,
    y: ArrayLike,
    metric: str = "euclidean",
    *,
    plan: FoldPlan | None = None,
    n_splits: int = 5,
    random_state: int = 0,
) -> ProbeResult:
    """Nearest class prototype (mean training descriptor per class), cross-validated."""
    check_metric(metric)
    X, plan = _inputs(X, y, plan, n_splits, random_state)

    def fold_fn(Xtr, ctr, Xte, n_classes):
        D = pairwise_distances(Xte, class_means(Xtr, ctr, n_classes), metric)
        return {(): (np.argmin(D, axis=1), None)}  # argmin keeps the lower class index on ties

    return _cross_validate(X, plan, "prototype", lambda _: {"metric": metric}, fold_fn)[()]


def _knn_fold(ks: list[int], metrics: list[str]) -> FoldFn:
    """Fold function: neighbour sets for all k from one distance pass per metric, then votes."""

    def fold_fn(Xtr, ctr, Xte, n_classes):
        ranked = {(metric, k): [] for metric in metrics for k in ks}  # metric-major: ProbeSet.best's order
        for _, by_metric in knn_sets(Xte, Xtr, ks, metrics):
            for metric, sets in by_metric.items():
                for k, idx in sets.items():
                    counts = vote_counts(ctr[idx], n_classes)
                    order = rank_classes(counts)[:, :TOP]
                    # Classes without a vote are not "ranked": mark them -1.
                    ranked[(metric, k)].append(np.where(np.take_along_axis(counts, order, axis=1) > 0, order, -1))
        out = {}
        for key, parts in ranked.items():
            r = np.concatenate(parts)
            out[key] = (r[:, 0], r)
        return out

    return fold_fn


def _check_ks(ks: Sequence[int], plan: FoldPlan) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise LayerScopeError(f"k values must be positive integers; got {list(ks)}.")
    if ks[-1] > plan.min_train_size:
        raise LayerScopeError(
            f"k={ks[-1]} needs at least {ks[-1]} training images per fold, but the smallest "
            f"training fold has {plan.min_train_size}; use smaller k values."
        )
    return ks


def knn_cv(
    X: ArrayLike,
    y: ArrayLike,
    ks: Sequence[int] = KS,
    metrics: Sequence[str] = METRICS,
    *,
    plan: FoldPlan | None = None,
    n_splits: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ProbeSet:
    """kNN accuracy (top-1 and top-5) for every metric in metrics and k in ks.

    Per fold and metric: one distance matrix (chunked over test rows) and one partial sort for
    max(ks), reused for every k. Predictions equal sklearn's KNeighborsClassifier (brute).
    """
    metrics = [check_metric(m) for m in metrics]
    X, plan = _inputs(X, y, plan, n_splits, random_state)
    ks = _check_ks(ks, plan)
    results = _cross_validate(
        X, plan, "knn", lambda key: {"metric": key[0], "k": key[1]},
        _knn_fold(ks, metrics), progress,
    )
    return ProbeSet(key_names=("metric", "k"), results=results)


def umap_knn_cv(
    X: ArrayLike,
    y: ArrayLike,
    dims: Sequence[int] | None = None,
    ks: Sequence[int] = (1, 4, 16),
    *,
    max_dim: int = 64,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    plan: FoldPlan | None = None,
    n_splits: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ProbeSet:
    """kNN (euclidean) in UMAP spaces fitted on each training fold only; test rows transformed.

    dims defaults to 2, 4, 8, … up to min(block channels, max_dim). One UMAP fit per fold and
    dimension (the slow part: ~seconds to tens of seconds each on a CPU).
    """
    X, plan = _inputs(X, y, plan, n_splits, random_state)
    ks = _check_ks(ks, plan)
    dims = default_dims(X.shape[1], max_dim) if dims is None else sorted({int(d) for d in dims})
    if not dims or dims[0] < 1:
        raise LayerScopeError(f"UMAP dimensions must be positive integers; got {dims}.")
    knn = _knn_fold(ks, ["euclidean"])
    steps = [0]

    def fold_fn(Xtr, ctr, Xte, n_classes):
        out = {}
        for d in dims:
            report(progress, steps[0], len(dims) * plan.n_splits, f"UMAP-{d}: fold {steps[0] // len(dims) + 1}")
            steps[0] += 1
            reducer = fit_umap(Xtr, d, n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state)
            for (_, k), v in knn(reducer.embedding_, ctr, umap_transform(reducer, Xte), n_classes).items():
                out[(d, k)] = v
        return out

    results = _cross_validate(
        X, plan, "umap-knn",
        lambda key: {"dim": key[0], "k": key[1], "metric": "euclidean", "n_neighbors": n_neighbors}, fold_fn,
    )
    return ProbeSet(key_names=("dim", "k"), results=results)


def linear_probe_cv(
    X: ArrayLike,
    y: ArrayLike,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
    plan: FoldPlan | None = None,
    n_splits: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ProbeResult:
    """StandardScaler + multinomial LogisticRegression (lbfgs) fitted on each training fold."""
    X, plan = _inputs(X, y, plan, n_splits, random_state)
    not_converged = []

    def fold_fn(Xtr, ctr, Xte, n_classes):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=random_state))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(Xtr, ctr)
        not_converged.append(any(issubclass(w.category, ConvergenceWarning) for w in caught))
        return {(): (model.predict(Xte), None)}

    # params_of runs after the last fold, so "converged" covers every fold.
    params = lambda _: {"C": C, "max_iter": max_iter, "converged": not any(not_converged)}  # noqa: E731
    return _cross_validate(X, plan, "linear", params, fold_fn, progress)[()]
