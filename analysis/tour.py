"""What the guided Tour shows, computed (never written in) from a cache entry of the built-in
model: the receptive-field picture, where each label peaks, a query's nearest images per block,
the channel that best tells a label apart, and the settings every page uses by default (so the
Tour, the pages and `layerscope precompute --warm` share the same cached results).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from analysis.errors import LayerScopeError
from analysis.layouts.palette import PALETTE
from analysis.probes.neighbours import nearest
from analysis.probes.profiles import class_profiles

BUILTIN_MODEL = "efficientnet_lite0"
TOUR_DATA = "garments"


def report_settings(n_images: int) -> dict:
    """The Block report page's default settings (so its first visit finds what the Tour and the
    warm-up computed): every block_report default, with at most one retrieval query per image."""
    return {"n_queries": int(min(500, n_images))}


@dataclass(frozen=True)
class Peak:
    """Where one label column's score peaks over the blocks."""

    label: str
    block: str
    value: float
    first: float   # the score at the first block
    last: float    # the score at the last block
    chance: float
    clear: bool    # the peak is above chance (its interval clear of it)


def peak(report, score: str = "knn") -> Peak:
    """The peak of `score` in a BlockReport, with the first / last block's value for the text."""
    t = report.table
    block = report.best.get(score, str(t[score].idxmax()))
    return Peak(label=report.label, block=block, value=float(t.loc[block, score]), first=float(t[score].iloc[0]),
                last=float(t[score].iloc[-1]), chance=float(report.chance.get(score, np.nan)),
                clear=score in report.best)


def rf_picture(image: np.ndarray, blocks, colours=PALETTE, width: int = 3) -> np.ndarray:
    """The image (as the model sees it, HxWx3 uint8) with each block's receptive field drawn as a
    square around the centre, in the block's palette colour; fields larger than the image are
    drawn as far as it goes (their side is in the legend)."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise LayerScopeError(f"rf_picture needs an HxWx3 uint8 image, got {a.shape} {a.dtype}.")
    img = Image.fromarray(a).convert("RGB")
    draw = ImageDraw.Draw(img)
    H, W = a.shape[:2]
    cy, cx = H / 2, W / 2
    for i, b in enumerate(blocks):
        half = min(max(b.receptive_field, 1), 4 * max(H, W)) / 2
        box = [max(cx - half, 0), max(cy - half, 0), min(cx + half, W - 1), min(cy + half, H - 1)]
        draw.rectangle(box, outline=tuple(colours[i % len(colours)]), width=width)
    return np.asarray(img, dtype=np.uint8)


def neighbours_row(X: np.ndarray, query: int, k: int = 8, metric: str = "euclidean") -> np.ndarray:
    """The k nearest other images of image `query` in one block's descriptors (closest first)."""
    X = np.asarray(X)
    if not 0 <= query < len(X):
        raise LayerScopeError(f"query image {query} does not exist (0..{len(X) - 1}).")
    idx, _ = nearest(X[query:query + 1], X, k, metric, exclude=np.array([query]))
    return idx[0]


def most_telling_channel(X: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """The channel whose pooled activation the label explains best (largest η²) and its η²."""
    p = class_profiles(X, np.asarray(y).astype(str))
    eta = p.channels["eta_squared"].to_numpy(dtype=float)
    if not np.isfinite(eta).any():
        raise LayerScopeError("no channel varies over these images; nothing to show.")
    j = int(np.nanargmax(eta))
    return j, float(eta[j])


def typical_query(y: np.ndarray, X_late: np.ndarray, value: str) -> int:
    """An image of class `value` near its class mean in a late block (a typical example, not an outlier)."""
    y = np.asarray(y).astype(str)
    idx = np.flatnonzero(y == value)
    if idx.size == 0:
        raise LayerScopeError(f"no image has the label {value!r}.")
    Xc = np.asarray(X_late, dtype=np.float64)[idx]
    return int(idx[np.argmin(((Xc - Xc.mean(axis=0)) ** 2).sum(axis=1))])
