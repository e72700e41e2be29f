"""The one optimisation loop (Lucent's `render`), and ready-made compositions of it.

Each step: image -> transforms -> normalise (model mean/std) -> forward, stopped at the deepest
block the objective needs -> loss = -sum(objective) + sum(weight * regularizer) -> Adam step.
Only the image parameters receive gradients (`backward(inputs=...)`), so the model's weights are
never touched. Block outputs are read through the one hook helper, `analysis.models.hooks.capture`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from analysis.errors import LayerScopeError
from analysis.inspect.featureviz.objectives import Fetch, Key, Objective, Regularizer, channels, l2, total_variation
from analysis.inspect.featureviz.param import ImageParam, fft_image, pixel_image
from analysis.inspect.featureviz.transform import Transform, standard_transforms
from analysis.models.hooks import capture, run_until
from analysis.models.model import Model, holds_model_lock

# Not analysis.progress.Progress: besides (step, steps) it receives the objective values of the
# step, and returning False stops the render with the partial images (a cancel that keeps them).
StepCallback = Callable[[int, int, np.ndarray], "bool | None"]


@dataclass
class RenderResult:
    images: np.ndarray            # (B, H, W, 3) uint8, the final images (untransformed)
    history: np.ndarray           # (steps_done, B) float32 objective value per step (transformed input)
    final_activation: np.ndarray  # (B,) float32 objective on the final untransformed image
    initial_activation: np.ndarray  # (B,) float32 objective on the starting image
    steps: int                    # steps actually run (fewer if progress cancelled)
    cancelled: bool
    settings: dict[str, Any]      # settings_key(...) of this run


def _block_of(model: Model, key: Key) -> int:
    if not isinstance(key, int) or not 1 <= key <= len(model.blocks):
        raise LayerScopeError(f"{model.name} has blocks 1..{len(model.blocks)}; objective asks for {key!r}.")
    return key


@contextmanager
def _activations(model: Model, keys: frozenset) -> Iterator[Callable[[torch.Tensor], Fetch]]:
    """While open: run(x) does a forward pass and returns T(key) -> that block's output (or the
    logits). The pass stops at the deepest block needed unless the logits are needed too."""
    blocks = sorted(_block_of(model, k) for k in keys if k != "logits")
    full = "logits" in keys
    stop = blocks[-1] if blocks and not full else None
    with capture({b: model.module(b) for b in blocks}, stop_after=stop) as store:

        def run(x: torch.Tensor) -> Fetch:
            store.clear()
            logits = run_until(model.net, x)

            def fetch(key: Key) -> torch.Tensor:
                v = logits if key == "logits" else store.get(key)
                if v is None:
                    raise LayerScopeError(f"Objective asked for {key!r}, which was not computed.")
                if v.ndim != 4 and key != "logits":
                    raise LayerScopeError(f"Block {key} does not output (B, C, h, w) maps; cannot visualise its channels.")
                return v.float()

            return fetch

        yield run


def settings_key(model: Model, objective: Objective, param: ImageParam, transforms: Sequence[Transform],
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


def _check(objective: Objective, param: ImageParam | None, steps: int, lr: float) -> None:
    if steps < 1:
        raise LayerScopeError(f"steps must be >= 1, got {steps}.")
    if lr <= 0:
        raise LayerScopeError(f"lr must be > 0, got {lr}.")
    if param is not None and objective.batch is not None and objective.batch != param.batch:
        raise LayerScopeError(f"The objective optimises {objective.batch} images but the parameterization "
                              f"has a batch of {param.batch}.")


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8."""
    return (images.detach().permute(0, 2, 3, 1).cpu().numpy().clip(0, 1) * 255).round().astype(np.uint8)


@holds_model_lock
def render(
    model: Model,
    objective: Objective,
    param: ImageParam | None = None,
    transforms: Sequence[Transform] | None = None,
    regularizers: Sequence[Regularizer] = (),
    steps: int = 512,
    lr: float = 0.05,
    progress: StepCallback | None = None,
    random_state: int = 0,
    image_size: int = 128,
) -> RenderResult:
    """Gradient ascent (Adam) on the image parameters to maximise `objective`.

    param: default `fft_image(batch, image_size, decorrelate=True)` with the objective's batch
    (1 unless it is `channels(...)`). transforms: default `standard_transforms()`; pass [] for
    none. progress(step, steps, values) is called after every step; return False to stop early.
    """
    _check(objective, param, steps, lr)
    if param is None:
        param = fft_image(objective.batch or 1, image_size, random_state=random_state, device=model.device)
    transforms = standard_transforms() if transforms is None else list(transforms)
    regularizers = list(regularizers)
    settings = settings_key(model, objective, param, transforms, regularizers, steps, lr, random_state)
    gen = torch.Generator().manual_seed(int(random_state))
    mean = torch.as_tensor(model.mean, dtype=torch.float32, device=model.device)[None, :, None, None]
    std = torch.as_tensor(model.std, dtype=torch.float32, device=model.device)[None, :, None, None]
    optimizer = torch.optim.Adam(param.params, lr=lr)
    history: list[np.ndarray] = []
    cancelled = False

    with _activations(model, objective.keys) as run, torch.enable_grad():

        def values(image: torch.Tensor) -> torch.Tensor:
            v = objective(run((image - mean) / std))
            return v.expand(param.batch) if v.ndim == 0 else v

        def step(i: int) -> np.ndarray:
            optimizer.zero_grad(set_to_none=True)
            img = param.image()
            x = img
            for t in transforms:
                x = t(x, gen)
            vals = values(x)
            loss = -vals.sum()
            for r in regularizers:
                loss = loss + r.weight * r.fn(img).sum()
            if not torch.isfinite(loss):
                raise LayerScopeError(f"The objective became non-finite at step {i}; lower the lr ({lr}).")
            loss.backward(inputs=param.params)
            optimizer.step()
            return vals.detach().float().cpu().numpy()

        with torch.no_grad():
            initial = values(param.image()).float().cpu().numpy()
        for i in range(1, steps + 1):
            history.append(step(i))
            if progress is not None and progress(i, steps, history[-1]) is False:
                cancelled = True
                break
        with torch.no_grad():
            final_img = param.image()
            final = values(final_img).float().cpu().numpy()
    return RenderResult(images=_to_uint8(final_img), history=np.stack(history).astype(np.float32),
                        final_activation=final.astype(np.float32), initial_activation=initial.astype(np.float32),
                        steps=len(history), cancelled=cancelled, settings=settings)


PRESETS = ("lucent", "smooth", "pixels")


def visualize_channels(
    model: Model,
    block: int,
    channel_list: Sequence[int],
    steps: int = 64,
    image_size: int = 128,
    lr: float = 0.05,
    preset: str = "lucent",
    progress: StepCallback | None = None,
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
