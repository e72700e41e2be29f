"""Glue for the channel explorer and unit card pages: small pure helpers around cam / masks /
featureviz, so the pages only read controls and draw.

- `top_classes`: the model's top-k classes with their indices (names alone are ambiguous:
  ImageNet has two "crane" and two "maillot" classes).
- `sample_indices`: the seeded sample of dataset images the mask quantiles are computed on.
- `quantiles_to_arrays` / `quantiles_from_arrays`: masks.ActivationQuantiles <-> plain arrays
  for results_cache (no pickle).
- `AMSettings` + `render_units` + `cached_units`: activation maximisation of several channels
  of one block in one batch, every channel seeded from (random_state, channel) so its image is
  the same whether it was rendered alone or with others; cached per (model, block, channel,
  settings) on disk.
- `hstack_images` / `png_bytes`: composite pictures for the PNG download buttons.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image

from analysis.descriptors.results_cache import cached_arrays, result_path
from analysis.errors import LayerScopeError
from analysis.inspect import featureviz as fv
from analysis.inspect.masks import ActivationQuantiles
from analysis.models.model import holds_model_lock

AM_NAMESPACE = "am_units"
AM_VERSION = 1
PARAMS = ("fft", "pixels")


# ---------------------------------------------------------------------------------------------
# Classes, images, samples
# ---------------------------------------------------------------------------------------------
@holds_model_lock  # a plain forward pass must not meet another session's stopping hooks
@torch.no_grad()
def top_classes(model, image: Image.Image, k: int = 5) -> pd.DataFrame:
    """Top-k classes for one image: columns rank (1 = predicted), class_index, name, probability."""
    if not model.class_names:
        raise LayerScopeError(f"{model.name} has no classifier head, so it cannot classify.")
    if k < 1:
        raise LayerScopeError(f"k must be >= 1, got {k}.")
    p = model.logits(model.preprocess(image).unsqueeze(0)).float().softmax(-1)[0].cpu()
    v, i = p.topk(min(int(k), p.numel()))
    idx = [int(j) for j in i]
    return pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "class_index": idx,
                         "name": [model.class_names[j] for j in idx], "probability": v.numpy().astype(float)})


def sample_indices(n: int, k: int, random_state: int = 0) -> np.ndarray:
    """k distinct indices out of range(n) (all of them when k >= n), sorted; seeded."""
    if n < 1:
        raise LayerScopeError("The dataset is empty.")
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=int(k), replace=False))


def quantiles_to_arrays(q: ActivationQuantiles) -> dict[str, np.ndarray]:
    return {"block": np.asarray(q.block), "levels": q.levels, "values": q.values, "maxima": q.maxima,
            "n_images": np.asarray(q.n_images), "n_positions": np.asarray(q.n_positions)}


def quantiles_from_arrays(d: dict[str, np.ndarray]) -> ActivationQuantiles:
    return ActivationQuantiles(block=int(d["block"]), levels=np.asarray(d["levels"]),
                               values=np.asarray(d["values"]), maxima=np.asarray(d["maxima"]),
                               n_images=int(d["n_images"]), n_positions=int(d["n_positions"]))


# ---------------------------------------------------------------------------------------------
# Activation maximisation of several channels
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AMSettings:
    """Everything (besides model, block, channel) that determines an activation-maximisation image.

    param: "fft" (Lucent's Fourier parameterisation with decorrelated colour) or "pixels".
    transforms: Lucent's standard_transforms (pad, jitter, scale, rotate) before every step.
    l2 / tv / blur: weights of the L2-to-grey, total-variation and blur-each-step penalties
    (means over pixels: against channel means of ~5-35 on lite0, tv=100 visibly smooths deep
    blocks, tv=10 or blur=1 barely matter).
    Defaults = featureviz.visualize_channels(preset="lucent"); tv=100 is its "smooth" preset.
    """

    param: str = "fft"
    transforms: bool = True
    l2: float = 0.0
    tv: float = 0.0
    blur: float = 0.0
    steps: int = 64
    image_size: int = 128
    lr: float = 0.05
    random_state: int = 0

    def check(self) -> None:
        if self.param not in PARAMS:
            raise LayerScopeError(f"Unknown parameterisation '{self.param}'; use one of {PARAMS}.")
        if self.steps < 1:
            raise LayerScopeError(f"steps must be >= 1, got {self.steps}.")
        if min(self.l2, self.tv, self.blur) < 0:
            raise LayerScopeError("Regularizer weights must be >= 0.")
        if self.image_size < 32:
            raise LayerScopeError(f"Image size {self.image_size} is too small (min 32 px).")


def _channel_seed(random_state: int, channel: int) -> int:
    return int(random_state) * 1_000_003 + int(channel)


def _parameterisation(model, channels: Sequence[int], s: AMSettings) -> fv.ImageParam:
    n = len(channels)
    if s.param == "fft":
        param = fv.fft_image(n, s.image_size, decorrelate=True, random_state=s.random_state, device=model.device)
    else:
        param = fv.pixel_image(n, s.image_size, random_state=s.random_state, device=model.device)
    # Re-draw each batch element's start from its own channel's seed: a channel's image then
    # does not depend on which other channels share the batch (transforms draw from one
    # generator independently of the batch size; Adam is element-wise).
    t = param.params[0]
    sd = float(param.spec["sd"])
    with torch.no_grad():
        for i, c in enumerate(channels):
            g = torch.Generator().manual_seed(_channel_seed(s.random_state, c))
            t[i] = (torch.randn(tuple(t.shape[1:]), generator=g) * sd).to(t.device)
    param.spec["seeds"] = "per-channel"
    return param


def render_units(
    model,
    block: int,
    channels: Sequence[int],
    settings: AMSettings = AMSettings(),
    progress: Callable[[int, int, np.ndarray], bool | None] | None = None,
) -> fv.RenderResult:
    """Activation maximisation of `channels` of `block` in one batch (image i maximises the mean
    activation of channels[i]) with the given settings."""
    settings.check()
    b = model.block(block)
    chans = [int(c) for c in channels]
    if not chans:
        raise LayerScopeError("Pick at least one channel.")
    bad = [c for c in chans if not 0 <= c < b.channels]
    if bad:
        raise LayerScopeError(f"{b.name} has channels 0..{b.channels - 1}; got {bad}.")
    param = _parameterisation(model, chans, settings)
    transforms = fv.standard_transforms() if settings.transforms else []
    regs = [r for r in (fv.l2(settings.l2), fv.total_variation(settings.tv), fv.blur(settings.blur)) if r.weight > 0]
    return fv.render(model, fv.channels(b.index, chans), param, transforms, regs, steps=settings.steps,
                     lr=settings.lr, progress=progress, random_state=settings.random_state,
                     image_size=settings.image_size)


def am_parts(model, block: int, channel: int, settings: AMSettings) -> dict:
    """The results_cache key parts of one channel's image."""
    return {"model": model.name, "arch": model.arch, "weights": model.weights_id, "mean": list(model.mean),
            "std": list(model.std), "block": int(block), "channel": int(channel), "settings": asdict(settings),
            "version": AM_VERSION}


def is_cached(model, block: int, channels: Sequence[int], settings: AMSettings) -> bool:
    """True when every channel's image is on disk for these settings (nothing is computed)."""
    return all(result_path(AM_NAMESPACE, am_parts(model, block, c, settings), ".npz").is_file() for c in channels)


@dataclass
class UnitImage:
    channel: int
    image: np.ndarray        # (H, W, 3) uint8
    activation: float        # objective (mean activation of the channel) on the final image
    history: np.ndarray      # (steps,) objective per step (on the transformed input)


def cached_units(
    model,
    block: int,
    channels: Sequence[int],
    settings: AMSettings = AMSettings(),
    progress: Callable[[int, int, np.ndarray], bool | None] | None = None,
) -> list[UnitImage]:
    """Images of `channels` (order kept, duplicates dropped): read from the disk cache, the
    missing ones rendered together in one batch, then stored one file per channel.

    A cancelled render (progress returned False) is returned but not stored."""
    chans = list(dict.fromkeys(int(c) for c in channels))
    b = model.block(block).index
    found: dict[int, dict[str, np.ndarray]] = {}
    missing = []
    for c in chans:
        path = result_path(AM_NAMESPACE, am_parts(model, b, c, settings), ".npz")
        if path.is_file():
            found[c] = cached_arrays(AM_NAMESPACE, am_parts(model, b, c, settings), lambda: {})
            if "image" not in found[c]:  # damaged file: cached_arrays gave compute()'s {}
                del found[c]
                missing.append(c)
        else:
            missing.append(c)
    if missing:
        r = render_units(model, b, missing, settings, progress)
        for i, c in enumerate(missing):
            arrays = {"image": r.images[i], "activation": np.asarray(r.final_activation[i]),
                      "history": r.history[:, i]}
            if not r.cancelled:
                path = result_path(AM_NAMESPACE, am_parts(model, b, c, settings), ".npz")
                path.unlink(missing_ok=True)
                cached_arrays(AM_NAMESPACE, am_parts(model, b, c, settings), lambda a=arrays: a)
            found[c] = arrays
    return [UnitImage(channel=c, image=np.asarray(found[c]["image"], dtype=np.uint8),
                      activation=float(found[c]["activation"]), history=np.asarray(found[c]["history"]))
            for c in chans]


# ---------------------------------------------------------------------------------------------
# Pictures for download
# ---------------------------------------------------------------------------------------------
def hstack_images(images: Sequence[np.ndarray], height: int | None = None, gap: int = 4,
                  background: int = 255) -> np.ndarray:
    """Side-by-side composite of HxWx3 uint8 images, each resized to `height` (default: the
    tallest), separated by `gap` px of `background`."""
    imgs = [np.asarray(i) for i in images]
    if not imgs:
        raise LayerScopeError("No images to put side by side.")
    for i in imgs:
        if i.ndim != 3 or i.shape[2] != 3:
            raise LayerScopeError(f"Expected HxWx3 images, got shape {i.shape}.")
    h = int(height or max(i.shape[0] for i in imgs))
    tiles = []
    for i in imgs:
        w = max(1, round(i.shape[1] * h / i.shape[0]))
        pil = Image.fromarray(i.astype(np.uint8))
        tiles.append(np.asarray(pil if pil.size == (w, h) else pil.resize((w, h), Image.Resampling.BILINEAR)))
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((h, width, 3), background, dtype=np.uint8)
    x = 0
    for t in tiles:
        out[:, x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


def png_bytes(image: np.ndarray) -> bytes:
    """HxWx3 (or HxW) uint8 array -> PNG file bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Permalinks and small display helpers
# ---------------------------------------------------------------------------------------------
@dataclass
class UnitLink:
    """A unit card address read from URL query parameters; `problems` says what was ignored."""

    block: int | None
    channel: int | None
    label: str | None
    problems: list[str]


def parse_unit_link(params: dict, channels_per_block: Sequence[int], label_columns: Sequence[str]) -> UnitLink:
    """Read {"block": "3", "channel": "17", "label": "colour"} (strings, as in a URL).

    Blocks are 1-based ("block 3" -> 3 also accepted); channels 0-based. Anything missing is None;
    anything invalid is None with a sentence in `problems` (a page shows it and keeps its defaults).
    """
    problems: list[str] = []
    n = len(channels_per_block)

    def as_int(key: str) -> int | None:
        raw = params.get(key)
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip().lower().removeprefix("block").strip()
        try:
            return int(text)
        except ValueError:
            problems.append(f"'{key}={raw}' is not a whole number")
            return None

    block = as_int("block")
    if block is not None and not 1 <= block <= n:
        problems.append(f"block {block} does not exist (1..{n})")
        block = None
    channel = as_int("channel")
    if channel is not None:
        limit = channels_per_block[(block or n) - 1] if block is not None else max(channels_per_block)
        if not 0 <= channel < limit:
            where = f"block {block}" if block is not None else "any block"
            problems.append(f"channel {channel} does not exist in {where} (0..{limit - 1})")
            channel = None
    label = params.get("label")
    label = None if label is None or str(label) == "" else str(label)
    if label is not None and label not in label_columns:
        problems.append(f"label column '{label}' is not in this dataset ({', '.join(label_columns)})")
        label = None
    return UnitLink(block, channel, label, problems)


def unit_query(block: int, channel: int, label: str | None) -> dict[str, str]:
    """The query parameters of a unit card (inverse of parse_unit_link)."""
    q = {"block": str(int(block)), "channel": str(int(channel))}
    if label:
        q["label"] = str(label)
    return q


def activation_heat(activation: np.ndarray, vmax: float) -> np.ndarray:
    """A channel map scaled to [0, 1] by `vmax` (e.g. the dataset maximum), negatives at 0, for overlays."""
    a = np.asarray(activation, dtype=np.float32)
    if not np.isfinite(vmax) or vmax <= 0:
        vmax = float(a.max()) if a.size and a.max() > 0 else 1.0
    return np.clip(a / vmax, 0.0, 1.0)


@dataclass
class ExplorerLink:
    """A channel-explorer address read from query parameters (image, block, channel, view)."""

    image: int | None
    block: int | None
    channel: int | None
    view: str | None
    problems: list[str]


def parse_explorer_link(params: dict, n_images: int, channels_per_block: Sequence[int],
                        views: dict[str, str]) -> ExplorerLink:
    """Read {"image": "12", "block": "3", "channel": "5", "view": "masks"} (URL strings).

    `views` maps accepted short names (lower case) to tab labels; a tab label itself is accepted too.
    Invalid values become None with a sentence in `problems`."""
    unit = parse_unit_link({k: params.get(k) for k in ("block", "channel")}, channels_per_block, [])
    problems = list(unit.problems)
    image = None
    raw = params.get("image")
    if raw is not None and str(raw).strip() != "":
        try:
            image = int(str(raw).strip().lstrip("#"))
        except ValueError:
            problems.append(f"'image={raw}' is not a whole number")
        else:
            if not 0 <= image < n_images:
                problems.append(f"image {image} does not exist (0..{n_images - 1})")
                image = None
    view = None
    raw = params.get("view")
    if raw is not None and str(raw).strip() != "":
        text = str(raw).strip()
        labels = {v.lower(): v for v in views.values()}
        view = views.get(text.lower()) or labels.get(text.lower())
        if view is None:
            problems.append(f"view '{raw}' is not one of {', '.join(views)}")
    return ExplorerLink(image, unit.block, unit.channel, view, problems)
