"""Activation-maximisation images of several channels of one block, cached on disk.

Every channel's start is seeded from (random_state, channel), so its image is the same whether it
was rendered alone or with others; the missing channels of a request are rendered together in
one batch and stored one file per (model, block, channel, settings) with `results_cache`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from analysis.descriptors.results_cache import cached_arrays, result_path
from analysis.errors import LayerScopeError
from analysis.inspect.featureviz.objectives import blur, channels, l2, total_variation
from analysis.inspect.featureviz.param import ImageParam, fft_image, pixel_image
from analysis.inspect.featureviz.render import RenderResult, StepCallback, render
from analysis.inspect.featureviz.transform import standard_transforms
from analysis.models.model import Model

AM_NAMESPACE = "am_units"
AM_VERSION = 1
PARAMS = ("fft", "pixels")


@dataclass(frozen=True)
class AMSettings:
    """Everything (besides model, block, channel) that determines an activation-maximisation image.

    param: "fft" (Lucent's Fourier parameterisation with decorrelated colour) or "pixels".
    transforms: Lucent's standard_transforms (pad, jitter, scale, rotate) before every step.
    l2 / tv / blur: weights of the L2-to-grey, total-variation and blur-each-step penalties
    (means over pixels: against channel means of ~5-35 on lite0, tv=100 visibly smooths deep
    blocks, tv=10 or blur=1 barely matter).
    Defaults = visualize_channels(preset="lucent"); tv=100 is its "smooth" preset.
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


def _parameterisation(model: Model, chans: Sequence[int], s: AMSettings) -> ImageParam:
    n = len(chans)
    if s.param == "fft":
        param = fft_image(n, s.image_size, decorrelate=True, random_state=s.random_state, device=model.device)
    else:
        param = pixel_image(n, s.image_size, random_state=s.random_state, device=model.device)
    # Re-draw each batch element's start from its own channel's seed: a channel's image then
    # does not depend on which other channels share the batch (transforms draw from one
    # generator independently of the batch size; Adam is element-wise).
    t = param.params[0]
    sd = float(param.spec["sd"])
    with torch.no_grad():
        for i, c in enumerate(chans):
            g = torch.Generator().manual_seed(_channel_seed(s.random_state, c))
            t[i] = (torch.randn(tuple(t.shape[1:]), generator=g) * sd).to(t.device)
    param.spec["seeds"] = "per-channel"
    return param


def render_units(
    model: Model,
    block: int,
    channel_list: Sequence[int],
    settings: AMSettings = AMSettings(),
    progress: StepCallback | None = None,
) -> RenderResult:
    """Activation maximisation of `channel_list` of `block` in one batch (image i maximises the
    mean activation of channel_list[i]) with the given settings."""
    settings.check()
    b = model.block(block)
    chans = [int(c) for c in channel_list]
    if not chans:
        raise LayerScopeError("Pick at least one channel.")
    bad = [c for c in chans if not 0 <= c < b.channels]
    if bad:
        raise LayerScopeError(f"{b.name} has channels 0..{b.channels - 1}; got {bad}.")
    param = _parameterisation(model, chans, settings)
    transforms = standard_transforms() if settings.transforms else []
    regs = [r for r in (l2(settings.l2), total_variation(settings.tv), blur(settings.blur)) if r.weight > 0]
    return render(model, channels(b.index, chans), param, transforms, regs, steps=settings.steps,
                  lr=settings.lr, progress=progress, random_state=settings.random_state,
                  image_size=settings.image_size)


def am_parts(model: Model, block: int, channel: int, settings: AMSettings) -> dict:
    """The results_cache key parts of one channel's image."""
    return {"model": model.name, "arch": model.arch, "weights": model.weights_id, "mean": list(model.mean),
            "std": list(model.std), "block": int(block), "channel": int(channel), "settings": asdict(settings),
            "version": AM_VERSION}


def is_cached(model: Model, block: int, channel_list: Sequence[int], settings: AMSettings) -> bool:
    """True when every channel's image is on disk for these settings (nothing is computed)."""
    return all(result_path(AM_NAMESPACE, am_parts(model, block, c, settings), ".npz").is_file()
               for c in channel_list)


@dataclass
class UnitImage:
    channel: int
    image: np.ndarray        # (H, W, 3) uint8
    activation: float        # objective (mean activation of the channel) on the final image
    history: np.ndarray      # (steps,) objective per step (on the transformed input)


def cached_units(
    model: Model,
    block: int,
    channel_list: Sequence[int],
    settings: AMSettings = AMSettings(),
    progress: StepCallback | None = None,
) -> list[UnitImage]:
    """Images of `channel_list` (order kept, duplicates dropped): read from the disk cache, the
    missing ones rendered together in one batch, then stored one file per channel.

    A cancelled render (progress returned False) is returned but not stored."""
    chans = list(dict.fromkeys(int(c) for c in channel_list))
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
