"""Unit card for one channel of one block: what in the dataset drives it, and how selective it is.

Inputs are plain values so the card does not depend on the store's layout: the channel's
descriptor column (GAP activation per dataset image, e.g. `store.descriptors(b)[:, c]`), the
images (paths, e.g. `store.paths`, or PIL images) and optionally one label per image.

- Top-N images: the N highest descriptor values (ties: lower index first).
- Masks: masks.py on each top image (receptive-field mode by default).
- Neuron feature (NF, Rafegas et al. 2019): the activation-weighted average of the top-N
  images, weights = descriptor / max descriptor (negatives count 0). mode "image" averages the
  whole preprocessed crops; mode "patch" averages the receptive-field patch around each image's
  strongest position (Rafegas' original definition; sharper for early blocks).
- Colour selectivity index (in the spirit of Rafegas & Vanrell 2018, who read a neuron's colour
  selectivity from its NF; the formula here is ours): the mean over NF pixels of the CIELAB
  chroma C*ab divided by the largest chroma any sRGB colour of the same hue reaches. 0 = the NF
  is grey; 1 = every NF pixel is the most saturated colour of its hue.
- Class selectivity index: 1 - H(p) / log(min(N, K)), where p is the class histogram of the top-N
  images, H its Shannon entropy and K the number of classes in the dataset: 1 = all top images
  in one class; 0 = spread as evenly as N images can be. Undefined (NaN) when min(N, K) < 2.
  Not corrected for class imbalance: a class holding 90% of the data will dominate by chance.
- Activation histogram of the descriptor column over the whole dataset.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from analysis.errors import LayerScopeError
from analysis.inspect.masks import (
    ActivationQuantiles,
    ImageLike,
    _as_pil,
    block_activations,
    mask_from_map,
    resolve_threshold,
)
from analysis.models.blocks import Block
from analysis.models.model import Model, holds_model_lock

NF_MODES = ("image", "patch")


# ---------------------------------------------------------------------------------------------
# Plain functions over arrays
# ---------------------------------------------------------------------------------------------
def top_images(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first (NaNs last; ties: lower index first)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if k < 1:
        raise LayerScopeError(f"k must be >= 1, got {k}.")
    key = np.where(np.isnan(v), -np.inf, v)
    return np.argsort(-key, kind="stable")[: min(k, len(v))]


def neuron_feature(images: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted average of (N, H, W, 3) images (uint8 or float in [0, 1]) -> (H, W, 3) float [0, 1].

    weights are activations: negatives count 0, normalised by their maximum; NaN pixels (patches
    running off the image) are left out of the average.
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise LayerScopeError(f"images must be (N, H, W, 3), got shape {imgs.shape}.")
    if np.asarray(images).dtype == np.uint8:
        imgs = imgs / 255.0
    w = np.clip(np.asarray(weights, dtype=np.float64).ravel(), 0, None)
    if len(w) != len(imgs):
        raise LayerScopeError(f"{len(imgs)} images but {len(w)} weights.")
    if w.max(initial=0) <= 0:
        w = np.ones_like(w)  # nothing fires: fall back to the plain mean
    w = w / w.max()
    valid = ~np.isnan(imgs)
    num = np.where(valid, imgs, 0) * w[:, None, None, None]
    den = valid * w[:, None, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num.sum(0) / den.sum(0)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


@lru_cache(maxsize=1)
def _max_chroma_by_hue(bins: int = 360) -> np.ndarray:
    """Largest CIELAB chroma of any sRGB colour, per 1-degree hue bin (from a 64^3 RGB grid)."""
    from skimage.color import rgb2lab

    g = np.linspace(0, 1, 64)
    rgb = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 1, 3)
    lab = rgb2lab(rgb).reshape(-1, 3)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = (np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360).astype(np.int64) % bins
    out = np.zeros(bins)
    np.maximum.at(out, hue, chroma)
    # A bin the grid missed borrows its neighbours' value.
    for i in np.nonzero(out == 0)[0]:
        out[i] = max(out[(i - 1) % bins], out[(i + 1) % bins])
    return out


def colour_selectivity_index(image: np.ndarray) -> float:
    """Mean relative chroma of an (H, W, 3) image (uint8 or float [0, 1]) in [0, 1]; see module doc."""
    from skimage.color import rgb2lab

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise LayerScopeError(f"Expected an (H, W, 3) image, got shape {img.shape}.")
    rgb = img / 255.0 if img.dtype == np.uint8 else np.clip(img.astype(np.float64), 0, 1)
    lab = rgb2lab(rgb)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = (np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360).astype(np.int64) % 360
    rel = np.clip(chroma / _max_chroma_by_hue()[hue], 0.0, 1.0)
    return float(rel.mean())


def class_selectivity_index(top_labels: Sequence, n_classes: int) -> float:
    """1 - normalised entropy of the class histogram of the top images (see module doc)."""
    labels = [lab for lab in top_labels if not pd.isna(lab)]
    n = min(len(labels), int(n_classes))
    if n < 2:
        return float("nan")
    counts = pd.Series(labels).value_counts().to_numpy(dtype=np.float64)
    p = counts / counts.sum()
    entropy = float(-(p * np.log(p)).sum())
    return float(np.clip(1.0 - entropy / np.log(n), 0.0, 1.0))


def activation_histogram(values: np.ndarray, bins: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of a descriptor column over the dataset (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 0:
        raise LayerScopeError("No finite activation values to histogram.")
    return np.histogram(v, bins=bins)


# ---------------------------------------------------------------------------------------------
# The card
# ---------------------------------------------------------------------------------------------
@dataclass
class UnitCard:
    block: int
    channel: int
    top_indices: np.ndarray       # (N,) indices into the dataset, strongest first
    top_values: np.ndarray        # (N,) descriptor (GAP) values of those images
    top_paths: list[str]          # str(item) of each top image (a path, or a PIL repr)
    top_labels: list | None       # labels of the top images (None without labels)
    images: np.ndarray            # (N, H, W, 3) uint8 preprocessed crops
    maps: np.ndarray              # (N, h, w) float32 channel maps
    masks: np.ndarray             # (N, H, W) bool binary masks
    masked: np.ndarray            # (N, H, W, 3) uint8 crops, black outside the masks
    threshold: float              # activation threshold used for the masks
    mask_mode: str
    neuron_feature: np.ndarray    # (h', w', 3) uint8 (the crop size, or the field size for "patch")
    nf_mode: str
    colour_index: float           # [0, 1]
    class_index: float            # [0, 1], NaN without labels
    class_counts: pd.Series | None  # label -> count among the top N
    hist_counts: np.ndarray       # activation histogram over the dataset
    hist_edges: np.ndarray
    dataset_max: float
    dataset_mean: float


def _patches(images: np.ndarray, maps: np.ndarray, block) -> np.ndarray:
    """Receptive-field patch (side RF, capped at the image) around each map's strongest position;
    pixels outside the image are NaN."""
    n, H, W, _ = images.shape
    side = min(max(block.receptive_field, 1), max(H, W)) if not block.rf_global else max(H, W)
    out = np.full((n, side, side, 3), np.nan)
    for k in range(n):
        i, j = np.unravel_index(int(np.argmax(maps[k])), maps[k].shape)
        cy, cx = block.rf_offset + i * block.stride, block.rf_offset + j * block.stride
        y0, x0 = int(np.ceil(cy - (side - 1) / 2 - 1e-6)), int(np.ceil(cx - (side - 1) / 2 - 1e-6))
        ys, xs = slice(max(y0, 0), min(y0 + side, H)), slice(max(x0, 0), min(x0 + side, W))
        out[k, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = images[k, ys, xs] / 255.0
    return out


@holds_model_lock
def unit_card(
    model: Model,
    block: int,
    channel: int,
    descriptor: np.ndarray,
    images: Sequence[ImageLike],
    labels: Sequence | None = None,
    k: int = 9,
    threshold: float | None = None,
    quantile: float | None = 0.9,
    reference: ActivationQuantiles | None = None,
    mask_mode: str = "receptive",
    nf_mode: str = "image",
    bins: int = 50,
    batch_size: int = 16,
    loader: Callable[[ImageLike], object] | None = None,
    n_classes: int | None = None,
) -> UnitCard:
    """Build the unit card of `channel` of `block`.

    descriptor: (n,) the channel's GAP value for each dataset image; images: the n images
    (paths + optional `loader`, default analysis.data.images.load_image, or PIL images); labels: n
    labels or None. Masks use `threshold` if given, else `quantile` of `reference` (dataset
    quantiles from masks.activation_quantiles), else `quantile` of this channel's activations
    over the N top images together. n_classes defaults to the distinct labels in `labels`.
    """
    b = model.block(block)
    d = _checked_descriptor(b, channel, descriptor, images, labels, nf_mode)
    top = top_images(d, k)
    imgs, amaps = _top_crops_and_maps(model, b.index, channel, [images[int(i)] for i in top], loader, batch_size)
    thr = resolve_threshold(amaps, channel, threshold, quantile, reference)
    masks = np.stack([mask_from_map(a, thr, b, imgs.shape[1:3], mask_mode) for a in amaps])
    nf = neuron_feature(imgs if nf_mode == "image" else _patches(imgs, amaps, b), d[top])
    top_labels = None if labels is None else [labels[int(i)] for i in top]
    class_index, class_counts = _class_stats(top_labels, labels, n_classes)
    counts, edges = activation_histogram(d, bins)
    return UnitCard(
        block=b.index, channel=int(channel), top_indices=top, top_values=d[top].astype(np.float32),
        top_paths=[str(images[int(i)]) for i in top], top_labels=top_labels, images=imgs, maps=amaps,
        masks=masks, masked=np.where(masks[..., None], imgs, 0).astype(np.uint8), threshold=thr,
        mask_mode=mask_mode, neuron_feature=(nf * 255).round().astype(np.uint8), nf_mode=nf_mode,
        colour_index=colour_selectivity_index(nf), class_index=class_index, class_counts=class_counts,
        hist_counts=counts, hist_edges=edges, dataset_max=float(np.nanmax(d)), dataset_mean=float(np.nanmean(d)),
    )


def _checked_descriptor(b, channel: int, descriptor: np.ndarray, images: Sequence, labels: Sequence | None,
                        nf_mode: str) -> np.ndarray:
    """The descriptor column as float64, after checking it fits the images, labels and block."""
    if not 0 <= channel < b.channels:
        raise LayerScopeError(f"{b.name} has channels 0..{b.channels - 1}, not {channel}.")
    d = np.asarray(descriptor, dtype=np.float64).ravel()
    if len(d) != len(images):
        raise LayerScopeError(f"descriptor has {len(d)} values but there are {len(images)} images.")
    if labels is not None and len(labels) != len(d):
        raise LayerScopeError(f"{len(labels)} labels for {len(d)} images.")
    if nf_mode not in NF_MODES:
        raise LayerScopeError(f"Unknown neuron-feature mode '{nf_mode}'; use one of {NF_MODES}.")
    return d


def _top_crops_and_maps(model: Model, block: int, channel: int, items: Sequence[ImageLike],
                        loader: Callable | None, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 preprocessed crops and (N, h, w) float32 maps of the channel, in batches."""
    crops, maps = [], []
    for start in range(0, len(items), batch_size):
        x = torch.stack([model.preprocess(_as_pil(it, loader)) for it in items[start:start + batch_size]])
        with torch.no_grad():
            maps.append(block_activations(model, x, block)[:, channel].cpu().numpy())
        crops.append(model.to_display(x))
    return np.concatenate(crops), np.concatenate(maps).astype(np.float32)


def _class_stats(top_labels: list | None, labels: Sequence | None,
                 n_classes: int | None) -> tuple[float, pd.Series | None]:
    """Class selectivity index and class counts of the top images (NaN, None without labels)."""
    if labels is None or top_labels is None:
        return float("nan"), None
    k_classes = int(n_classes) if n_classes is not None else int(pd.Series(list(labels)).nunique())
    return class_selectivity_index(top_labels, k_classes), pd.Series(top_labels).value_counts()


def card_masks(card: UnitCard, block: Block, mode: str = "upsample") -> tuple[np.ndarray, np.ndarray]:
    """The card's top-image masks recomputed in another mask `mode` (same maps, same threshold),
    to show beside its own: (N, H, W) bool masks and the (N, H, W, 3) crops black outside them."""
    masks = np.stack([mask_from_map(a, card.threshold, block, img.shape[:2], mode)
                      for a, img in zip(card.maps, card.images)])
    return masks, np.where(masks[..., None], card.images, 0).astype(np.uint8)
