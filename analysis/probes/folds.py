"""Stratified K-fold plans: the one place where cross-validation folds are made.

Policy for small classes (shown to the user through ``FoldPlan.message``):
1. a class with fewer than 2 images cannot be both trained on and tested: it is excluded;
2. if the smallest remaining class has fewer images than the folds asked for, the number of
   folds is reduced to that count (so every class appears in every test fold);
3. fewer than two classes left, or no labels at all -> LayerScopeError.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import StratifiedKFold

from analysis.arrays import encode_labels
from analysis.errors import LayerScopeError


@dataclass(frozen=True)
class FoldPlan:
    """Which rows are tested in which fold, and what was changed to make that possible.

    codes: (n,) class index per row of the original array, -1 for rows of excluded classes.
    classes: the classes kept (sorted); codes index into this list.
    splits: (train_rows, test_rows) per fold, as indices into the original array.
    message: empty when the plan is what was asked for, else one or two sentences for the UI.
    """

    n_splits: int
    requested_splits: int
    classes: list
    excluded_classes: list
    codes: np.ndarray
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    random_state: int
    message: str

    @property
    def rows(self) -> np.ndarray:
        """Original indices of the rows taking part (classes not excluded)."""
        return np.flatnonzero(self.codes >= 0)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def min_train_size(self) -> int:
        return min(len(tr) for tr, _ in self.splits)

    def usable_ks(self, ks: Sequence[int]) -> list[int]:
        """The k values (sorted, unique) a kNN can use on every training fold of this plan."""
        return [int(k) for k in sorted(set(ks)) if 1 <= k <= self.min_train_size]


def plan_folds(y: ArrayLike, n_splits: int = 5, random_state: int = 0) -> FoldPlan:
    """Stratified, shuffled K-fold plan over the labels y (see the module docstring for the policy)."""
    if int(n_splits) < 2:
        raise LayerScopeError(f"cross-validation needs at least 2 folds; got n_splits={n_splits}.")
    labels = encode_labels(y)
    classes = np.asarray(labels.classes, dtype=object)
    small = labels.counts < 2
    excluded = classes[small].tolist()
    kept = classes[~small].tolist()
    if len(kept) < 2:
        raise LayerScopeError(
            f"cross-validation needs at least two classes with 2 or more images each; found "
            f"{len(kept)} ({', '.join(map(str, labels.classes[:10]))}{'…' if len(classes) > 10 else ''}). "
            "Add images or choose another label column."
        )
    # Re-index the kept classes 0..K-1 (excluded rows -> -1).
    remap = np.full(len(classes), -1, dtype=np.int64)
    remap[~small] = np.arange(len(kept))
    codes = remap[labels.codes]

    kept_counts = labels.counts[~small]
    smallest = int(kept_counts.min())
    used = min(int(n_splits), smallest)
    notes = []
    if excluded:
        names = ", ".join(f"'{c}'" for c in excluded[:10]) + ("…" if len(excluded) > 10 else "")
        notes.append(
            f"{len(excluded)} class(es) with a single image left out of cross-validation ({names}); "
            "a class needs at least 2 images."
        )
    if used < n_splits:
        who = kept[int(np.argmin(kept_counts))]
        notes.append(
            f"The smallest class ('{who}') has {smallest} images, fewer than the {n_splits} folds "
            f"asked for, so {used} folds are used."
        )

    rows = np.flatnonzero(codes >= 0)
    skf = StratifiedKFold(n_splits=used, shuffle=True, random_state=int(random_state))
    splits = tuple((rows[tr], rows[te]) for tr, te in skf.split(np.zeros(len(rows)), codes[rows]))
    return FoldPlan(
        n_splits=used,
        requested_splits=int(n_splits),
        classes=kept,
        excluded_classes=excluded,
        codes=codes,
        splits=splits,
        random_state=int(random_state),
        message=" ".join(notes),
    )


def resolve_plan(
    y: ArrayLike, n_rows: int, plan: FoldPlan | None, n_splits: int, random_state: int
) -> FoldPlan:
    """The plan to use: the caller's (checked against y) or a fresh one from y."""
    y = np.asarray(y)
    if len(y) != n_rows:
        raise LayerScopeError(f"there are {len(y)} labels for {n_rows} descriptor rows; they must match.")
    if plan is None:
        return plan_folds(y, n_splits=n_splits, random_state=random_state)
    rows = plan.rows
    same = len(plan.codes) == n_rows and np.array_equal(
        np.asarray(plan.classes, dtype=object)[plan.codes[rows]], y.astype(object)[rows]
    )
    if not same:
        raise LayerScopeError(
            "the fold plan was made from other labels or another number of images; "
            "make it with plan_folds(y) from the same label vector as X."
        )
    return plan
