"""Binary masks: which part of the input drives one channel of one block.

The seed study's method: every spatial position of the channel's map whose activation exceeds a
threshold uncovers its receptive field in the input; everything else is black. Position (i, j) of
a block sees the square of side `Block.receptive_field` centred at
(rf_offset + i * stride, rf_offset + j * stride) in preprocessed-input pixels (measured from the
network's geometry, see receptive.py), clipped to the image. The simpler "upsample" mode resizes
the map to the input bilinearly and thresholds it (smaller, smoother regions; no geometry).

Thresholds: an absolute value, or a quantile — of the channel's spatial activations over a
sample of dataset images (`activation_quantiles`, cacheable by the caller) or, without such a
reference, of this image's own map.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from analysis.descriptors.results_cache import cached_arrays
from analysis.errors import LayerScopeError
from analysis.models.blocks import Block
from analysis.models.hooks import forward_until
from analysis.models.model import Model, holds_model_lock
from analysis.progress import Progress, report

MODES = ("receptive", "upsample")
DEFAULT_LEVELS = (0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999)

ImageLike = Image.Image | str | Path


@holds_model_lock
def block_activations(model: Model, x: torch.Tensor, block: int) -> torch.Tensor:
    """(B, C, h, w) output of `block` for a normalised batch, stopping the forward pass there.

    Keeps the autograd graph when grad is enabled (used by featureviz as well)."""
    y = forward_until(model.net, model.module(block), x.to(model.device))
    if y is None:
        raise LayerScopeError(f"{model.block(block).name} ({model.block(block).module}) never ran.")
    if not isinstance(y, torch.Tensor) or y.ndim != 4:
        raise LayerScopeError(
            f"{model.block(block).name} outputs {getattr(y, 'shape', type(y))}, not (B, C, h, w) maps; "
            "masks need a convolutional block."
        )
    return y.float()


# ---------------------------------------------------------------------------------------------
# Masks from one activation map
# ---------------------------------------------------------------------------------------------
def _intervals(n_pos: int, size: int, block: Block) -> np.ndarray:
    """(size, n_pos) bool: pixel p lies in the field of position i along one axis."""
    centres = block.rf_offset + np.arange(n_pos) * block.stride
    if block.rf_global:
        half = np.inf  # field is the whole image (its measured size is only a lower bound)
    else:
        half = (max(1, block.receptive_field) - 1) / 2.0
    lo = np.ceil(centres - half - 1e-6)
    hi = np.floor(centres + half + 1e-6)
    p = np.arange(size)[:, None]
    return (p >= lo[None, :]) & (p <= hi[None, :])


def receptive_field_mask(active: np.ndarray, block: Block, image_shape: tuple[int, int]) -> np.ndarray:
    """Union of the receptive-field squares of the active positions, as an (H, W) bool mask.

    Separable, so it is one product of interval matrices: rows(H,h) @ active(h,w) @ cols(w,W).
    """
    a = np.asarray(active, dtype=bool)
    if a.ndim != 2:
        raise LayerScopeError(f"active must be an (h, w) map, got shape {a.shape}.")
    H, W = (int(s) for s in image_shape)
    rows = _intervals(a.shape[0], H, block).astype(np.float32)
    cols = _intervals(a.shape[1], W, block).astype(np.float32)
    return (rows @ a.astype(np.float32) @ cols.T) > 0


def upsample_mask(activation: np.ndarray, threshold: float, image_shape: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize the map to the image, then threshold (> threshold)."""
    a = torch.as_tensor(np.asarray(activation, dtype=np.float32))[None, None]
    up = F.interpolate(a, size=tuple(int(s) for s in image_shape), mode="bilinear", align_corners=False)
    return up[0, 0].numpy() > threshold


def mask_from_map(
    activation: np.ndarray,
    threshold: float,
    block: Block,
    image_shape: tuple[int, int],
    mode: str = "receptive",
) -> np.ndarray:
    """(H, W) bool mask of one channel's (h, w) map: `mode` "receptive" or "upsample"."""
    if mode == "receptive":
        return receptive_field_mask(np.asarray(activation) > threshold, block, image_shape)
    if mode == "upsample":
        return upsample_mask(activation, threshold, image_shape)
    raise LayerScopeError(f"Unknown mask mode '{mode}'; use one of {MODES}.")


def activation_heat(activation: np.ndarray, vmax: float) -> np.ndarray:
    """A channel map scaled to [0, 1] by `vmax` (e.g. the dataset maximum), negatives at 0, for overlays."""
    a = np.asarray(activation, dtype=np.float32)
    if not np.isfinite(vmax) or vmax <= 0:
        vmax = float(a.max()) if a.size and a.max() > 0 else 1.0
    return np.clip(a / vmax, 0.0, 1.0)


def apply_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image where the mask is set, black elsewhere (HxWx3 uint8)."""
    img = np.asarray(image)
    if img.shape[:2] != mask.shape:
        raise LayerScopeError(f"image {img.shape[:2]} and mask {mask.shape} differ in size.")
    return np.where(mask[..., None], img, 0).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Thresholds from a sample of images
# ---------------------------------------------------------------------------------------------
@dataclass
class ActivationQuantiles:
    """Quantiles of every channel's spatial activations over a sample of images.

    values[q, c] is the `levels[q]` quantile of channel c over all sampled positions.
    """

    block: int
    levels: np.ndarray        # (Q,) increasing, in (0, 1)
    values: np.ndarray        # (Q, C) float32
    maxima: np.ndarray        # (C,) largest activation seen (all positions, not only sampled)
    n_images: int
    n_positions: int          # sampled positions per channel in total
    settings: dict = field(default_factory=dict)

    def threshold(self, channel: int, quantile: float) -> float:
        """Activation value at `quantile` for `channel` (linear between stored levels)."""
        if not 0 <= channel < self.values.shape[1]:
            raise LayerScopeError(f"channel {channel} is out of range 0..{self.values.shape[1] - 1}.")
        if not self.levels[0] <= quantile <= self.levels[-1]:
            raise LayerScopeError(
                f"quantile {quantile} is outside the computed levels {self.levels[0]}..{self.levels[-1]}; "
                "recompute activation_quantiles with that level."
            )
        return float(np.interp(quantile, self.levels, self.values[:, channel]))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for `results_cache` (no pickle); inverse of :meth:`from_arrays`."""
        return {"block": np.asarray(self.block), "levels": self.levels, "values": self.values,
                "maxima": self.maxima, "n_images": np.asarray(self.n_images),
                "n_positions": np.asarray(self.n_positions)}

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> ActivationQuantiles:
        return cls(block=int(d["block"]), levels=np.asarray(d["levels"]), values=np.asarray(d["values"]),
                   maxima=np.asarray(d["maxima"]), n_images=int(d["n_images"]),
                   n_positions=int(d["n_positions"]))


def sample_indices(n: int, k: int, random_state: int = 0) -> np.ndarray:
    """k distinct indices out of range(n) (all of them when k >= n), sorted; seeded: the images
    the dataset quantiles are computed on."""
    if n < 1:
        raise LayerScopeError("The dataset is empty.")
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=int(k), replace=False))


def _default_loader() -> Callable[[ImageLike], Image.Image]:
    from analysis.data.images import load_image

    return load_image


def _as_pil(item: ImageLike, loader: Callable[[ImageLike], Image.Image] | None) -> Image.Image:
    if isinstance(item, Image.Image):
        return item
    return (loader or _default_loader())(item)


@holds_model_lock
def activation_quantiles(
    model: Model,
    images: Sequence[ImageLike],
    block: int,
    levels: Sequence[float] = DEFAULT_LEVELS,
    positions_per_image: int = 256,
    batch_size: int = 16,
    loader: Callable[[ImageLike], Image.Image] | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ActivationQuantiles:
    """Per-channel quantiles of `block`'s spatial activations over `images` (PIL images or paths).

    Each image contributes `positions_per_image` random spatial positions (all positions if the
    map is smaller), the same for every channel, so memory stays n_images x positions x C.
    Batched forward passes that stop at the block. The result depends only on (model, images,
    block, levels, positions_per_image, random_state): cache it under those.
    """
    lv = np.asarray(sorted(float(q) for q in levels))
    if len(lv) == 0 or lv[0] <= 0 or lv[-1] >= 1:
        raise LayerScopeError(f"levels must be quantiles strictly between 0 and 1, got {list(levels)}.")
    if len(images) == 0:
        raise LayerScopeError("activation_quantiles needs at least one image.")
    b = model.block(block)
    rng = np.random.default_rng(random_state)
    samples: list[np.ndarray] = []
    maxima = np.full(b.channels, -np.inf, dtype=np.float32)
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        x = torch.stack([model.preprocess(_as_pil(it, loader)) for it in chunk])
        with torch.no_grad():
            maps = block_activations(model, x, b.index).cpu().numpy()  # (B, C, h, w)
        flat = maps.reshape(maps.shape[0], maps.shape[1], -1)
        maxima = np.maximum(maxima, flat.max(axis=(0, 2)))
        n = flat.shape[2]
        for f in flat:
            idx = rng.choice(n, size=positions_per_image, replace=False) if n > positions_per_image else slice(None)
            samples.append(f[:, idx])
        report(progress, min(start + batch_size, len(images)), len(images), f"{b.name} quantiles")
    allv = np.concatenate(samples, axis=1)  # (C, N)
    values = np.quantile(allv, lv, axis=1).astype(np.float32)
    return ActivationQuantiles(
        block=b.index, levels=lv, values=values, maxima=maxima, n_images=len(images),
        n_positions=int(allv.shape[1]),
        settings={"positions_per_image": positions_per_image, "random_state": random_state,
                  "levels": lv.tolist()},
    )


def store_quantiles(model: Model, store, block: int, n_images: int = 64, positions_per_image: int = 256,
                    random_state: int = 0, progress: Progress | None = None) -> ActivationQuantiles:
    """`activation_quantiles` of `block` over a seeded sample of `n_images` of a cache entry's
    images, kept on disk per (entry, block, sample, settings): the dataset reference of mask
    thresholds, computed once (seconds), then read in milliseconds."""
    idx = sample_indices(store.n, n_images, random_state=random_state)
    parts = {"store": store.key, "block": int(block), "sample": [int(i) for i in idx],
             "positions": int(positions_per_image), "levels": list(DEFAULT_LEVELS), "random_state": int(random_state),
             "version": 1}
    paths = store.paths

    def compute() -> dict[str, np.ndarray]:
        return activation_quantiles(model, [paths[int(i)] for i in idx], block, positions_per_image=positions_per_image,
                                    random_state=random_state, progress=progress).to_arrays()

    return ActivationQuantiles.from_arrays(cached_arrays("mask_quantiles", parts, compute))


# ---------------------------------------------------------------------------------------------
# One image, one channel
# ---------------------------------------------------------------------------------------------
@dataclass
class ChannelMask:
    """The binary mask of one channel for one image."""

    mask: np.ndarray        # (H, W) bool, in preprocessed-input pixels
    image: np.ndarray       # (H, W, 3) uint8: the preprocessed image, black outside the mask
    activation: np.ndarray  # (h, w) float32 map of the channel
    active: np.ndarray      # (h, w) bool: positions above threshold
    threshold: float
    mode: str
    block: int
    channel: int
    coverage: float         # share of the image uncovered


def _input_and_display(model: Model, image: Image.Image | torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Normalised (3,H,W) input and its HxWx3 uint8 picture (the same pixels)."""
    x = model.as_input(image)[0]
    return x, model.to_display(x)


def resolve_threshold(
    activation: np.ndarray,
    channel: int,
    threshold: float | None = None,
    quantile: float | None = 0.9,
    reference: ActivationQuantiles | None = None,
) -> float:
    """Absolute `threshold` if given; else `quantile` of the reference (dataset) activations of
    the channel; else, without a reference, `quantile` of this map's own values."""
    if threshold is not None:
        return float(threshold)
    if quantile is None:
        raise LayerScopeError("Give an absolute threshold or a quantile.")
    if not 0 < quantile < 1:
        raise LayerScopeError(f"quantile must be strictly between 0 and 1, got {quantile}.")
    if reference is not None:
        return reference.threshold(channel, quantile)
    return float(np.quantile(np.asarray(activation), quantile))


@holds_model_lock
def channel_mask(
    model: Model,
    image: Image.Image | torch.Tensor,
    block: int,
    channel: int,
    threshold: float | None = None,
    quantile: float | None = 0.9,
    reference: ActivationQuantiles | None = None,
    mode: str = "receptive",
) -> ChannelMask:
    """Binary mask of `channel` of `block` for one image (PIL, or a normalised (3,H,W) tensor).

    Threshold: see `resolve_threshold` (absolute, dataset quantile via `reference`, or this
    image's own quantile). Positions strictly above it uncover their receptive fields.
    """
    b = model.block(block)
    if not 0 <= channel < b.channels:
        raise LayerScopeError(f"{b.name} has channels 0..{b.channels - 1}, not {channel}.")
    if reference is not None and reference.block != b.index:
        raise LayerScopeError(f"The reference quantiles are for block {reference.block}, not {b.index}.")
    x, disp = _input_and_display(model, image)
    with torch.no_grad():
        act = block_activations(model, x[None], b.index)[0, channel].cpu().numpy()
    thr = resolve_threshold(act, channel, threshold, quantile, reference)
    mask = mask_from_map(act, thr, b, disp.shape[:2], mode)
    return ChannelMask(
        mask=mask, image=apply_mask(disp, mask), activation=act.astype(np.float32), active=act > thr,
        threshold=thr, mode=mode, block=b.index, channel=int(channel), coverage=float(mask.mean()),
    )


@holds_model_lock
def top_channels(model: Model, image: Image.Image | torch.Tensor, block: int, k: int = 10) -> pd.DataFrame:
    """The k channels of `block` with the highest mean (GAP) activation for this image.

    Columns: channel, mean_activation (the descriptor value), max_activation; best first.
    """
    b = model.block(block)
    x, _ = _input_and_display(model, image)
    with torch.no_grad():
        maps = block_activations(model, x[None], b.index)[0].cpu().numpy()
    mean, peak = maps.mean(axis=(1, 2)), maps.max(axis=(1, 2))
    order = np.argsort(-mean, kind="stable")[: max(1, int(k))]
    return pd.DataFrame({"channel": order, "mean_activation": mean[order], "max_activation": peak[order]})
