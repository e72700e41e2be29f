"""Per-class mean activation profiles of one block and per-channel selectivity.

Definitions (means over the images of a class, per channel j):
* means[c, j]: mean descriptor (GAP activation) of class c.
* shared[j]: channel j is in the top (1 − shared_quantile) of channels *for every class*,
  i.e. means[c, j] >= quantile_q(means[c, :]) for all c. These are the "fires for everything"
  channels (background, skin) of the study.
* selectivity[j]: class selectivity index (μ_max − μ_rest) / (μ_max + μ_rest), μ_max the
  largest class mean, μ_rest the mean of the other class means. 0 = no preference, 1 = only
  one class. Defined for non-negative activations (post-ReLU); NaN where a class mean is
  negative or both terms are 0.
* eta_squared[j]: share of channel j's variance explained by the class (between-class sum of
  squares / total sum of squares), in [0, 1], valid for any sign.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.arrays import check_descriptors, class_means, encode_labels, row_chunks
from analysis.errors import LayerScopeError


@dataclass(frozen=True)
class ClassProfiles:
    classes: list
    counts: np.ndarray  # images per class
    means: np.ndarray  # (n_classes, n_channels)
    channels: pd.DataFrame  # per channel: channel, overall_mean, preferred_class, selectivity, eta_squared, shared
    shared_quantile: float

    def top_channels(self, n: int = 10, by: str = "mean") -> pd.DataFrame:
        """Top n channels per class (long table: class, rank, channel, value).

        by="mean": largest class mean; by="contrast": class mean minus the mean of the other
        classes' means (distinctive peaks rather than channels that fire for everything).
        """
        if by == "mean":
            value = self.means
        elif by == "contrast":
            k = len(self.classes)
            value = self.means - (self.means.sum(axis=0, keepdims=True) - self.means) / max(k - 1, 1)
        else:
            raise LayerScopeError(f"unknown ranking {by!r}; use 'mean' or 'contrast'.")
        n = min(int(n), value.shape[1])
        top = np.argsort(-value, axis=1, kind="stable")[:, :n]
        return pd.DataFrame({
            "class": np.repeat(np.asarray(self.classes, dtype=object), n),
            "rank": np.tile(np.arange(1, n + 1), len(self.classes)),
            "channel": top.ravel(),
            "value": np.take_along_axis(value, top, axis=1).ravel(),
        })


def class_profiles(X: ArrayLike, y: ArrayLike, *, shared_quantile: float = 0.9) -> ClassProfiles:
    X = check_descriptors(X)
    labels = encode_labels(y, len(X))
    k = len(labels.classes)
    if k < 2:
        raise LayerScopeError("class profiles compare classes: the label column needs at least two classes.")
    if not 0.0 < shared_quantile < 1.0:
        raise LayerScopeError(f"shared_quantile must be strictly between 0 and 1; got {shared_quantile}.")
    means = class_means(X, labels.codes, k)
    counts = labels.counts.astype(np.float64)
    overall = counts @ means / counts.sum()

    # eta²: between-class SS / total SS; total SS from a chunked pass of squares (float64).
    sq = np.zeros(X.shape[1])
    for sl in row_chunks(len(X)):
        sq += (np.asarray(X[sl], dtype=np.float64) ** 2).sum(axis=0)
    total = sq - counts.sum() * overall**2
    between = counts @ (means - overall) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = np.where(total > 1e-12 * sq, np.clip(between / total, 0, 1), np.nan)  # ~0 variance: undefined
        top = means.max(axis=0)
        rest = (means.sum(axis=0) - top) / (k - 1)
        denom = top + rest
        valid = (means.min(axis=0) >= 0) & (denom > 0)
        selectivity = np.where(valid, (top - rest) / np.where(valid, denom, 1), np.nan)

    thresholds = np.quantile(means, shared_quantile, axis=1, keepdims=True)
    shared = (means >= thresholds).all(axis=0)
    channels = pd.DataFrame({
        "channel": np.arange(X.shape[1]),
        "overall_mean": overall,
        "preferred_class": np.asarray(labels.classes, dtype=object)[np.argmax(means, axis=0)],
        "selectivity": selectivity,
        "eta_squared": eta,
        "shared": shared,
    })
    return ClassProfiles(classes=labels.classes, counts=labels.counts, means=means, channels=channels,
                         shared_quantile=shared_quantile)
