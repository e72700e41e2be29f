"""What to maximise, and what to penalise (Lucent's `objectives`).

- **Objectives** (`channel`, `channels`, `neuron`, `class_logit`) map the network's activations
  to one value per batch element to maximise; they add, subtract and scale like numbers
  (`channel(3, 5) + 0.5 * class_logit(1)`, `Objective.sum([...], weights)`).
- **Regularizers** (`l2`, `total_variation`, `blur`) are weighted penalties on the image.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from analysis.errors import LayerScopeError

Key = int | str  # a 1-based block index, or "logits"
Fetch = Callable[[Key], torch.Tensor]


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
