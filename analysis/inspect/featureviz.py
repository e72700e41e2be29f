"""Activation maximization as composable parts, in Lucent's design.

- **Objectives** (`channel`, `channels`, `neuron`, `class_logit`) map the network's activations
  to one value per batch element to maximise; they add, subtract and scale like numbers
  (`channel(3, 5) + 0.5 * class_logit(1)`, `Objective.sum([...], weights)`).
- **Parameterizations** produce the (B, 3, H, W) image in [0, 1] from free parameters:
  `pixel_image` (raw pixels through a sigmoid) or `fft_image` (Lucid/Lucent's scaled Fourier
  spectrum, 1/f so low frequencies dominate, with decorrelated colour: the optimiser works in a
  whitened colour basis mapped back with Lucid's ImageNet colour-correlation square root).
- **Transforms** (`pad`, `jitter`, `random_scale`, `random_rotate`; `standard_transforms()` is
  Lucent's list) are applied to the image before every forward pass, so the result must excite
  the unit robustly, which removes most adversarial high-frequency noise.
- **Regularizers** (`l2`, `total_variation`, `blur`) are penalties on the image, weighted.

Everything goes through ONE loop, `render(...)`. The batch dimension can hold several channels
at once (`channels(block, [c1, c2, ...])`: image b maximises channel c_b). Forward passes stop
at the deepest block the objective needs. Only the image parameters receive gradients
(`backward(inputs=...)`), so the model's weights are never touched.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from analysis.errors import LayerScopeError
from analysis.models.hooks import StopForward
from analysis.models.model import holds_model_lock

Key = int | str  # a 1-based block index, or "logits"
Fetch = Callable[[Key], torch.Tensor]


# ---------------------------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------------------------
class Objective:
    """Something to maximise: fn(T) -> (B,) values, where T(key) gives a block's activations
    (key = 1-based block index) or the logits (key = "logits") of the current batch."""

    def __init__(self, fn: Callable[[Fetch], torch.Tensor], keys: frozenset, spec: dict[str, Any],
                 batch: int | None = None) -> None:
        self.fn, self.keys, self.spec, self.batch = fn, frozenset(keys), spec, batch

    def __call__(self, T: Fetch) -> torch.Tensor:
        return self.fn(T)

    @staticmethod
    def sum(objectives: Sequence[Objective], weights: Sequence[float] | None = None) -> Objective:
        objs = list(objectives)
        if not objs:
            raise LayerScopeError("Objective.sum needs at least one objective.")
        w = [1.0] * len(objs) if weights is None else [float(v) for v in weights]
        if len(w) != len(objs):
            raise LayerScopeError(f"{len(objs)} objectives but {len(w)} weights.")
        batches = {o.batch for o in objs if o.batch is not None}
        if len(batches) > 1:
            raise LayerScopeError(f"Objectives want different batch sizes {sorted(batches)}.")
        return Objective(
            lambda T: sum(wi * o(T) for wi, o in zip(w, objs)),
            frozenset().union(*(o.keys for o in objs)),
            {"kind": "sum", "terms": [{"weight": wi, "objective": o.spec} for wi, o in zip(w, objs)]},
            batch=next(iter(batches), None),
        )

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, (int, float)):
            return Objective(lambda T: self(T) + other, self.keys,
                             {"kind": "offset", "offset": float(other), "objective": self.spec}, self.batch)
        return Objective.sum([self, other])

    __radd__ = __add__

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, (int, float)):
            raise LayerScopeError(f"Objectives can only be scaled by numbers, not {type(k).__name__}.")
        return Objective.sum([self], [float(k)])

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective) -> Objective:
        return Objective.sum([self, other], [1.0, -1.0])

    def __repr__(self) -> str:
        return f"Objective({self.spec})"


def channel(block: int, channel: int) -> Objective:
    """Mean activation of one channel of a block (its GAP descriptor), for every batch element."""
    return Objective(lambda T: T(block)[:, channel].mean(dim=(-2, -1)), frozenset({block}),
                     {"kind": "channel", "block": int(block), "channel": int(channel)})


def channels(block: int, channel_list: Sequence[int]) -> Objective:
    """Batch element b maximises the mean activation of channel_list[b]: several units in one run."""
    idx = [int(c) for c in channel_list]
    if not idx:
        raise LayerScopeError("channels() needs at least one channel.")

    def fn(T: Fetch) -> torch.Tensor:
        a = T(block)
        sel = torch.as_tensor(idx, device=a.device)
        return a[torch.arange(len(idx), device=a.device), sel].mean(dim=(-2, -1))

    return Objective(fn, frozenset({block}), {"kind": "channels", "block": int(block), "channels": idx},
                     batch=len(idx))


def neuron(block: int, channel: int, x: int | None = None, y: int | None = None) -> Objective:
    """Activation of one spatial position of a channel (default: the centre position)."""

    def fn(T: Fetch) -> torch.Tensor:
        a = T(block)[:, channel]
        yy = a.shape[-2] // 2 if y is None else y
        xx = a.shape[-1] // 2 if x is None else x
        return a[:, yy, xx]

    return Objective(fn, frozenset({block}), {"kind": "neuron", "block": int(block), "channel": int(channel),
                                              "x": x, "y": y})


def class_logit(class_index: int) -> Objective:
    """Logit of one class (pre-softmax, as Lucent does: softmax would also push other classes down)."""
    return Objective(lambda T: T("logits")[:, class_index], frozenset({"logits"}),
                     {"kind": "class_logit", "class": int(class_index)})


# ---------------------------------------------------------------------------------------------
# Image parameterizations
# ---------------------------------------------------------------------------------------------
# Lucid's square root of the ImageNet colour correlation matrix (rows: R, G, B), normalised.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
COLOR_CORRELATION = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))


@dataclass
class ImageParam:
    """Free parameters + the function that maps them to a (B, 3, H, W) image in [0, 1]."""

    params: list[torch.Tensor]
    image_fn: Callable[[], torch.Tensor] = field(repr=False)
    spec: dict[str, Any]

    def image(self) -> torch.Tensor:
        return self.image_fn()

    @property
    def batch(self) -> int:
        return int(self.spec["batch"])


def _to_rgb(t: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    if decorrelate:
        m = torch.as_tensor(COLOR_CORRELATION, device=t.device)
        t = torch.einsum("ij,bjhw->bihw", m, t)
    return torch.sigmoid(t)


def _from_rgb(rgb: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    t = torch.logit(rgb.clamp(1e-3, 1 - 1e-3))
    if decorrelate:
        inv = torch.as_tensor(np.linalg.inv(COLOR_CORRELATION), device=t.device)
        t = torch.einsum("ij,bjhw->bihw", inv, t)
    return t


def _as_init(init: np.ndarray | torch.Tensor, batch: int, size: tuple[int, int]) -> torch.Tensor:
    """(B,H,W,3) uint8 or float [0,1] images -> (B,3,H,W) float in [0,1]."""
    a = torch.as_tensor(np.asarray(init))
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise LayerScopeError(f"init must be (B,H,W,3) images, got shape {tuple(a.shape)}.")
    a = a.float() / 255 if a.dtype == torch.uint8 else a.float()
    if tuple(a.shape[1:3]) != size or a.shape[0] != batch:
        raise LayerScopeError(f"init is {tuple(a.shape)}, expected ({batch}, {size[0]}, {size[1]}, 3).")
    return a.permute(0, 3, 1, 2)


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 8 or w < 8:
        raise LayerScopeError(f"Image size {h}x{w} is too small (min 8 px).")
    return h, w


def pixel_image(batch: int, size: int | tuple[int, int] = 128, sd: float = 0.01, decorrelate: bool = False,
                random_state: int = 0, device: str | torch.device = "cpu",
                init: np.ndarray | None = None) -> ImageParam:
    """Raw pixels (pre-sigmoid), Lucent's `pixel_image`."""
    h, w = _size(size)
    g = torch.Generator().manual_seed(int(random_state))
    t = torch.randn(batch, 3, h, w, generator=g) * sd
    if init is not None:
        t = _from_rgb(_as_init(init, batch, (h, w)), decorrelate)
    t = t.to(device).requires_grad_(True)
    return ImageParam([t], lambda: _to_rgb(t, decorrelate),
                      {"kind": "pixels", "batch": batch, "size": [h, w], "sd": sd, "decorrelate": decorrelate,
                       "random_state": int(random_state), "init": init is not None})


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """|frequency| of every rfft2 coefficient of an h x w image, shape (h, w // 2 + 1)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def fft_image(batch: int, size: int | tuple[int, int] = 128, sd: float = 0.01, decay_power: float = 1.0,
              decorrelate: bool = True, random_state: int = 0, device: str | torch.device = "cpu",
              init: np.ndarray | None = None) -> ImageParam:
    """Lucid/Lucent's Fourier parameterization: spectrum coefficients scaled by 1/|f|^decay_power,
    inverse real FFT (orthonormal), / 4 (Lucid's constant), decorrelated colour, sigmoid.

    `init` (B,H,W,3) starts from given images instead of noise (exact inverse of the mapping,
    up to clipping at 0/1)."""
    h, w = _size(size)
    freqs = rfft2d_freqs(h, w)
    scale = torch.as_tensor(1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power, dtype=torch.float32)
    scale = scale[None, None, :, :, None].to(device)
    g = torch.Generator().manual_seed(int(random_state))
    spec = torch.randn(batch, 3, *freqs.shape, 2, generator=g) * sd
    if init is not None:
        t = _from_rgb(_as_init(init, batch, (h, w)), decorrelate) * 4.0
        coeffs = torch.view_as_real(torch.fft.rfft2(t, norm="ortho"))
        spec = coeffs / scale.cpu()
    spec = spec.to(device).requires_grad_(True)

    def image() -> torch.Tensor:
        t = torch.fft.irfft2(torch.view_as_complex(scale * spec), s=(h, w), norm="ortho") / 4.0
        return _to_rgb(t, decorrelate)

    return ImageParam([spec], image,
                      {"kind": "fft", "batch": batch, "size": [h, w], "sd": sd, "decay_power": decay_power,
                       "decorrelate": decorrelate, "random_state": int(random_state), "init": init is not None})


# ---------------------------------------------------------------------------------------------
# Transforms: (B,3,H,W) image, torch.Generator -> image
# ---------------------------------------------------------------------------------------------
@dataclass
class Transform:
    fn: Callable[[torch.Tensor, torch.Generator], torch.Tensor] = field(repr=False)
    spec: dict[str, Any]

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.fn(x, gen)


def _choice(options: Sequence[float], gen: torch.Generator) -> float:
    return float(options[int(torch.randint(len(options), (1,), generator=gen))])


def pad(width: int, mode: str = "constant", value: float = 0.5) -> Transform:
    """Pad every side by `width` px (constant grey by default, or "reflect"/"replicate")."""
    if mode not in ("constant", "reflect", "replicate"):
        raise LayerScopeError(f"pad mode must be constant, reflect or replicate, not '{mode}'.")
    return Transform(lambda x, g: F.pad(x, [width] * 4, mode=mode, value=value if mode == "constant" else None),
                     {"kind": "pad", "width": width, "mode": mode, "value": value})


def jitter(d: int) -> Transform:
    """Random crop that removes d px in each direction in total (Lucid's jitter): shifts by 0..d."""
    if d < 1:
        raise LayerScopeError(f"jitter needs d >= 1, got {d}.")

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        dy, dx = (int(v) for v in torch.randint(d + 1, (2,), generator=g))
        h, w = x.shape[-2:]
        return x[..., dy:h - d + dy, dx:w - d + dx]

    return Transform(fn, {"kind": "jitter", "d": d})


def random_scale(scales: Sequence[float]) -> Transform:
    """Resize by a factor drawn from `scales` (bilinear)."""
    opts = [float(s) for s in scales]

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        s = _choice(opts, g)
        h, w = x.shape[-2:]
        return F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                             align_corners=False)

    return Transform(fn, {"kind": "random_scale", "scales": opts})


def random_rotate(angles: Sequence[float]) -> Transform:
    """Rotate about the centre by an angle (degrees) drawn from `angles`; borders replicate."""
    opts = [float(a) for a in angles]

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        a = np.deg2rad(_choice(opts, g))
        if a == 0:
            return x
        theta = torch.tensor([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]],
                             dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    return Transform(fn, {"kind": "random_rotate", "angles": opts})


def standard_transforms() -> list[Transform]:
    """Lucent's `standard_transforms`: pad 12 (grey), jitter 8, scale 0.9..1.1, rotate -10..10, jitter 4."""
    return [
        pad(12, mode="constant", value=0.5),
        jitter(8),
        random_scale([1 + (i - 5) / 50.0 for i in range(11)]),
        random_rotate(list(range(-10, 11)) + 5 * [0]),
        jitter(4),
    ]


# ---------------------------------------------------------------------------------------------
# Regularizers: penalties on the (B,3,H,W) image in [0,1], per batch element
# ---------------------------------------------------------------------------------------------
@dataclass
class Regularizer:
    """weight * fn(image) is added to the loss. Penalties are means over pixels (independent of
    the image size), so weights must be comparable to the objective's scale to matter: channel
    means reach ~5 (block 1) to ~35 (block 4) on lite0; total_variation(100) visibly smooths
    block-4 images at ~3% activation cost, blur(1) and total_variation(10) barely change them."""

    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    weight: float
    spec: dict[str, Any]


def l2(weight: float = 1.0, centre: float = 0.5) -> Regularizer:
    """Mean squared distance of the pixels from grey (L2 decay)."""
    return Regularizer(lambda x: ((x - centre) ** 2).mean(dim=(1, 2, 3)), weight,
                       {"kind": "l2", "weight": weight, "centre": centre})


def total_variation(weight: float = 1.0) -> Regularizer:
    """Mean absolute difference between neighbouring pixels (favours piecewise-smooth images)."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(1, 2, 3))
        dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(1, 2, 3))
        return dx + dy

    return Regularizer(fn, weight, {"kind": "total_variation", "weight": weight})


def _box_blur3(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([[0.5, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 0.5]], dtype=x.dtype, device=x.device)
    k = k.expand(x.shape[1], 1, 3, 3)
    num = F.conv2d(x, k, padding=1, groups=x.shape[1])
    den = F.conv2d(torch.ones_like(x), k, padding=1, groups=x.shape[1])
    return num / den


def blur(weight: float = 1.0) -> Regularizer:
    """Lucid's `blur_input_each_step`: 0.5 * mean (x - blur(x))^2 with the blurred copy held fixed;
    minimising it moves the image a step towards its own blur each iteration."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = _box_blur3(x)
        return 0.5 * ((x - target) ** 2).mean(dim=(1, 2, 3))

    return Regularizer(fn, weight, {"kind": "blur", "weight": weight})


# ---------------------------------------------------------------------------------------------
# The render loop
# ---------------------------------------------------------------------------------------------
@dataclass
class RenderResult:
    images: np.ndarray            # (B, H, W, 3) uint8, the final images (untransformed)
    history: np.ndarray           # (steps_done, B) float32 objective value per step (transformed input)
    final_activation: np.ndarray  # (B,) float32 objective on the final untransformed image
    initial_activation: np.ndarray  # (B,) float32 objective on the starting image
    steps: int                    # steps actually run (fewer if progress cancelled)
    cancelled: bool
    settings: dict[str, Any]      # settings_key(...) of this run


def _block_of(model, key: Key) -> int:
    if key == "logits":
        return 0
    if not isinstance(key, int) or not 1 <= key <= len(model.blocks):
        raise LayerScopeError(f"{model.name} has blocks 1..{len(model.blocks)}; objective asks for {key!r}.")
    return key


class _Activations:
    """Hooks the blocks an objective needs, for the duration of a `with` (always released).

    Hooks act only in the thread that created them, so a model shared between sessions is safe
    from the early stop."""

    def __init__(self, model, keys: frozenset) -> None:
        self.model = model
        blocks = sorted(_block_of(model, k) for k in keys if k != "logits")
        self.full = "logits" in keys
        self.blocks = blocks
        self.store: dict[Key, torch.Tensor] = {}
        self.handles: list = []
        self.owner = threading.get_ident()

    def __enter__(self) -> _Activations:
        last = self.blocks[-1] if self.blocks else None
        for b in self.blocks:
            stop = (b == last) and not self.full

            def hook(_m, _a, o, b=b, stop=stop):
                if threading.get_ident() != self.owner:
                    return
                self.store[b] = o
                if stop:
                    raise StopForward

            self.handles.append(self.model.module(b).register_forward_hook(hook))
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.store.clear()

    def run(self, x: torch.Tensor) -> Fetch:
        self.store.clear()
        try:
            self.store["logits"] = self.model.net(x)
        except StopForward:
            pass

        def fetch(key: Key) -> torch.Tensor:
            if key not in self.store:
                raise LayerScopeError(f"Objective asked for {key!r}, which was not computed.")
            v = self.store[key]
            if v.ndim != 4 and key != "logits":
                raise LayerScopeError(f"Block {key} does not output (B, C, h, w) maps; cannot visualise its channels.")
            return v.float()

        return fetch


def settings_key(model, objective: Objective, param: ImageParam, transforms: Sequence[Transform],
                 regularizers: Sequence[Regularizer], steps: int, lr: float, random_state: int) -> dict[str, Any]:
    """Plain dict of everything that determines a render (hash it with store.cache_key)."""
    return {
        "model": model.name, "arch": model.arch, "weights": model.weights_id,
        "mean": list(model.mean), "std": list(model.std),
        "objective": objective.spec, "param": param.spec,
        "transforms": [t.spec for t in transforms], "regularizers": [r.spec for r in regularizers],
        "steps": int(steps), "lr": float(lr), "optimizer": "adam", "random_state": int(random_state),
        "version": 1,
    }


@holds_model_lock
def render(
    model,
    objective: Objective,
    param: ImageParam | None = None,
    transforms: Sequence[Transform] | None = None,
    regularizers: Sequence[Regularizer] = (),
    steps: int = 512,
    lr: float = 0.05,
    progress: Callable[[int, int, np.ndarray], bool | None] | None = None,
    random_state: int = 0,
    image_size: int = 128,
) -> RenderResult:
    """Gradient ascent (Adam) on the image parameters to maximise `objective`.

    param: default `fft_image(batch, image_size, decorrelate=True)` with the objective's batch
    (1 unless it is `channels(...)`). transforms: default `standard_transforms()`; pass [] for
    none. Each step: image -> transforms -> normalise (model mean/std) -> forward (stopped at the
    deepest block needed) -> loss = -sum(objective) + sum(weight * regularizer).
    progress(step, steps, values) is called after every step; return False to stop early.
    """
    if steps < 1:
        raise LayerScopeError(f"steps must be >= 1, got {steps}.")
    if lr <= 0:
        raise LayerScopeError(f"lr must be > 0, got {lr}.")
    if param is None:
        param = fft_image(objective.batch or 1, image_size, random_state=random_state, device=model.device)
    if objective.batch is not None and objective.batch != param.batch:
        raise LayerScopeError(f"The objective optimises {objective.batch} images but the parameterization "
                              f"has a batch of {param.batch}.")
    transforms = standard_transforms() if transforms is None else list(transforms)
    regularizers = list(regularizers)
    settings = settings_key(model, objective, param, transforms, regularizers, steps, lr, random_state)
    gen = torch.Generator().manual_seed(int(random_state))
    mean = torch.as_tensor(model.mean, dtype=torch.float32, device=model.device)[None, :, None, None]
    std = torch.as_tensor(model.std, dtype=torch.float32, device=model.device)[None, :, None, None]
    optimizer = torch.optim.Adam(param.params, lr=lr)
    history: list[np.ndarray] = []
    cancelled = False

    def values_of(fetch: Fetch) -> torch.Tensor:
        v = objective(fetch)
        return v.expand(param.batch) if v.ndim == 0 else v

    with _Activations(model, objective.keys) as acts, torch.enable_grad():
        with torch.no_grad():
            initial = values_of(acts.run((param.image() - mean) / std)).float().cpu().numpy()
        for step in range(1, steps + 1):
            optimizer.zero_grad(set_to_none=True)
            img = param.image()
            x = img
            for t in transforms:
                x = t(x, gen)
            vals = values_of(acts.run((x - mean) / std))
            loss = -vals.sum()
            for r in regularizers:
                loss = loss + r.weight * r.fn(img).sum()
            if not torch.isfinite(loss):
                raise LayerScopeError(f"The objective became non-finite at step {step}; lower the lr ({lr}).")
            loss.backward(inputs=param.params)
            optimizer.step()
            history.append(vals.detach().float().cpu().numpy())
            if progress is not None and progress(step, steps, history[-1]) is False:
                cancelled = True
                break
        with torch.no_grad():
            final_img = param.image()
            final = values_of(acts.run((final_img - mean) / std)).float().cpu().numpy()
    images = (final_img.detach().permute(0, 2, 3, 1).cpu().numpy().clip(0, 1) * 255).round().astype(np.uint8)
    return RenderResult(images=images, history=np.stack(history).astype(np.float32),
                        final_activation=final.astype(np.float32), initial_activation=initial.astype(np.float32),
                        steps=len(history), cancelled=cancelled, settings=settings)


PRESETS = ("lucent", "smooth", "pixels")


def visualize_channels(
    model,
    block: int,
    channel_list: Sequence[int],
    steps: int = 64,
    image_size: int = 128,
    lr: float = 0.05,
    preset: str = "lucent",
    progress: Callable[[int, int, np.ndarray], bool | None] | None = None,
    random_state: int = 0,
) -> RenderResult:
    """Ready-made composition for the channel explorer: one image per channel, in one batch.

    "lucent": FFT + decorrelated colour + `standard_transforms()`, no penalty (Lucent's default).
    "smooth": "lucent" + total_variation(100): flatter, less busy pictures for deep blocks.
    "pixels": raw pixels, no transforms, l2(0.1) — the naive baseline: reaches higher activations
    (adversarial high-frequency noise) but is unreadable beyond the first blocks.
    """
    b = model.block(block)
    bad = [c for c in channel_list if not 0 <= int(c) < b.channels]
    if bad:
        raise LayerScopeError(f"{b.name} has channels 0..{b.channels - 1}; got {bad}.")
    obj = channels(b.index, channel_list)
    n = len(channel_list)
    if preset in ("lucent", "smooth"):
        param = fft_image(n, image_size, decorrelate=True, random_state=random_state, device=model.device)
        transforms = standard_transforms()
        regs = [total_variation(100.0)] if preset == "smooth" else []
    elif preset == "pixels":
        param = pixel_image(n, image_size, random_state=random_state, device=model.device)
        transforms, regs = [], [l2(0.1)]
    else:
        raise LayerScopeError(f"Unknown preset '{preset}'; use one of {PRESETS}.")
    return render(model, obj, param, transforms, regs, steps=steps, lr=lr, progress=progress,
                  random_state=random_state, image_size=image_size)


def activation_vs_dataset(
    activation: float | np.ndarray,
    dataset_max: float | np.ndarray,
    dataset_values: np.ndarray | None = None,
) -> pd.DataFrame:
    """How far the synthetic image drives a unit compared with real images.

    activation: final_activation of a channel objective (mean over positions = the same quantity
    as the GAP descriptor); dataset_max: the largest descriptor value of that channel over the
    dataset (e.g. store.descriptors(block)[:, c].max()). ratio = activation / dataset_max
    (> 1: the unit is driven beyond any real image). With dataset_values (one channel's
    descriptor column; only for a single activation) the percentile is the share of images below.
    """
    a = np.atleast_1d(np.asarray(activation, dtype=np.float64))
    mx = np.broadcast_to(np.asarray(dataset_max, dtype=np.float64), a.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mx > 0, a / mx, np.nan)
    df = pd.DataFrame({"activation": a, "dataset_max": mx, "ratio": ratio})
    if dataset_values is not None:
        v = np.asarray(dataset_values, dtype=np.float64).ravel()
        if len(a) != 1:
            raise LayerScopeError("dataset_values is one channel's column: pass one activation with it.")
        df["percentile"] = [float((v < a[0]).mean() * 100)]
    return df
