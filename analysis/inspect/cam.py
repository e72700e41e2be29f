"""Class activation maps for any block, through the `grad-cam` package (pytorch_grad_cam).

Design (pytorch-grad-cam's): one small base class (`BaseCAM`: hooks the target layer, runs the
model, asks the subclass for channel weights or a map) and tiny subclasses per method. We use the
package's classes as they are and add three tiny subclasses of our own:

- `ClassicCAM` — the original CAM (Zhou et al. 2016): classifier weight row of the target class ×
  the maps the classifier global-average-pools. Only defined for a GAP + linear head, and only at
  the layer that feeds the pool. That layer is found by running the net once and matching the
  tensor that enters `global_pool`; for tf_efficientnet_lite0 it is `bn2` (conv_head + bn2 +
  ReLU6 follow the last feature_info block `blocks.6`), for ResNets it is `layer4` (= block 5).
  With that layer, mean(CAM) + bias == the class logit exactly (a test checks it).
- `SignedEigenCAM` — EigenCAM with the sign of the first principal component fixed so that the
  side with the larger activation energy is positive (the package's EigenCAM leaves the SVD sign
  arbitrary, which can highlight the background instead).
- `QuietScoreCAM` — ScoreCAM without the package's tqdm bar, batched, under no_grad.

Hooks are always released (`release()` in `finally`; we do not rely on the package's `__exit__`,
which swallows IndexError). The input tensor is made to require grad so gradients reach the
target layer whatever `requires_grad` the parameters have, and parameter `.grad`s are cleared.

How faithful a heatmap is (deletion / insertion curves) is measured in `faithfulness.py`.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection
from torch import nn

from analysis.errors import LayerScopeError
from analysis.models.hooks import capture
from analysis.models.model import Model, holds_model_lock


# ---------------------------------------------------------------------------------------------
# Tiny subclasses in the package's style
# ---------------------------------------------------------------------------------------------
class ClassicCAM(BaseCAM):
    """CAM: weights = the classifier's weight row of each target class (no gradients needed).

    `target_layers` must be the layer whose output the head global-average-pools; use
    `head_layer(model)` to find it.
    """

    def __init__(self, model: nn.Module, target_layers: list[nn.Module], reshape_transform=None) -> None:
        super().__init__(model, target_layers, reshape_transform, uses_gradients=False)
        fc = _linear_classifier(model)
        self.fc_weight = fc.weight.detach().float().cpu().numpy()  # (classes, C)

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads) -> np.ndarray:
        cats = [int(t.category) for t in targets]
        return self.fc_weight[cats]  # (B, C)


class SignedEigenCAM(EigenCAM):
    """EigenCAM with the principal component's sign fixed: positive where the layer's activation
    energy (sum over channels of |A|) is high. SVD leaves the sign arbitrary; the package's EigenCAM
    keeps it as is, and Seg-Eigen-CAM's |min| > |max| rule picked the background of the chelsea cat
    photo at the last block of tf_efficientnet_lite0, where the energy rule picks the cat (and the
    cup on the coffee photo). EigenCAM is class-agnostic: `target` does not change it."""

    def get_cam_image(self, input_tensor, target_layer, target_category, activations, grads, eigen_smooth):
        proj = get_2d_projection(activations)
        for i, a in enumerate(np.nan_to_num(activations)):
            energy = np.abs(a).sum(0)
            p = proj[i] - proj[i].mean()
            if float((p * (energy - energy.mean())).sum()) < 0:
                proj[i] = -proj[i]
        return proj


class QuietScoreCAM(ScoreCAM):
    """ScoreCAM (Wang et al. 2020) without a progress bar: one masked forward per channel, batched."""

    batch_size = 32

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads) -> np.ndarray:
        with torch.no_grad():
            act = torch.from_numpy(activations).to(self.device)
            up = F.interpolate(act, size=input_tensor.shape[-2:], mode="bilinear", align_corners=True)
            flat = up.flatten(2)
            lo, hi = flat.min(-1)[0][..., None, None], flat.max(-1)[0][..., None, None]
            up = (up - lo) / (hi - lo + 1e-8)
            weights = []
            for target, x, masks in zip(targets, input_tensor.detach(), up):
                scores = []
                for i in range(0, masks.shape[0], self.batch_size):
                    batch = x[None] * masks[i:i + self.batch_size, None]
                    scores.append(target(self.model(batch)).float().cpu())
                weights.append(torch.cat(scores).softmax(-1))
            return torch.stack(weights).numpy()


#: Registry: display name -> grad-cam class. "CAM" only works on the head layer (see module doc).
CAM_METHODS: dict[str, type[BaseCAM]] = {
    "Grad-CAM": GradCAM,
    "Grad-CAM++": GradCAMPlusPlus,
    "HiResCAM": HiResCAM,
    "LayerCAM": LayerCAM,
    "XGrad-CAM": XGradCAM,
    "EigenCAM": SignedEigenCAM,
    "ScoreCAM": QuietScoreCAM,
    "CAM": ClassicCAM,
}
#: Methods whose map does not depend on the target class.
CLASS_AGNOSTIC = {"EigenCAM"}


def cam_cost(model: Model, block: int | None, method: str) -> dict[str, int]:
    """Passes through the network one `compute_cam` call needs (for a page to warn before slow ones).

    ScoreCAM runs one forward pass per channel of the block (320 at block 5 of lite0).
    """
    name, _ = _method(method)
    b = model.block(len(model.blocks) if block is None else block)
    if name == "ScoreCAM":
        return {"forward": 1 + b.channels, "backward": 0}
    if name in ("EigenCAM", "CAM"):
        return {"forward": 1, "backward": 0}
    return {"forward": 1, "backward": 1}


def _method(name: str) -> tuple[str, type[BaseCAM]]:
    for key, cls in CAM_METHODS.items():
        if key.lower() == str(name).lower():
            return key, cls
    raise LayerScopeError(f"Unknown CAM method '{name}'. Pick one of: {', '.join(CAM_METHODS)}.")


# ---------------------------------------------------------------------------------------------
# The layer the classifier pools
# ---------------------------------------------------------------------------------------------
def _linear_classifier(net: nn.Module) -> nn.Linear:
    fc = net.get_classifier() if hasattr(net, "get_classifier") else None
    if not isinstance(fc, nn.Linear):
        raise LayerScopeError(
            "Classic CAM needs a single linear classifier after global average pooling; this model's "
            f"head is {type(fc).__name__}. Use Grad-CAM, which works with any head, instead."
        )
    return fc


_HEAD_LAYER: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()


@holds_model_lock
def head_layer(model: Model) -> str:
    """Dotted name of the module whose output the classifier global-average-pools.

    Found by matching tensors in one small forward pass (no per-model names), cached per net.
    Raises LayerScopeError when the head is not GAP -> (flatten/dropout) -> Linear.
    """
    net = model.net
    if net in _HEAD_LAYER:
        return _HEAD_LAYER[net]
    _linear_classifier(net)
    pool = getattr(net, "global_pool", None)
    pool_type = getattr(pool, "pool_type", None)
    if pool is None or pool_type not in ("avg", "fast_avg"):
        raise LayerScopeError(
            f"Classic CAM needs global average pooling before the classifier ({model.name} has "
            f"{type(pool).__name__ if pool is not None else 'no global_pool'}). Use Grad-CAM instead."
        )
    # Outputs (and the pool's input) are kept alive in the dicts, so `is` comparisons are safe.
    hooked = {n: m for n, m in net.named_modules() if n and m is not pool}
    size = max(64, 2 * max(b.stride for b in model.blocks))
    with capture(hooked) as outputs, capture({"pool": pool}, inputs=True) as pooled, torch.no_grad():
        net(torch.zeros(1, 3, size, size, device=model.device))
    # Hooks fire innermost first, so the last module returning the pooled tensor is the outermost
    # one (`bn2` rather than `bn2.act`, `layer4` rather than `layer4.2.act3`).
    names = [n for n, o in outputs.items() if "pool" in pooled and o is pooled["pool"]]
    if not names:
        raise LayerScopeError(f"Could not find the layer feeding {model.name}'s global pool; use Grad-CAM.")
    _HEAD_LAYER[net] = names[-1]
    return names[-1]


# ---------------------------------------------------------------------------------------------
# Running a CAM
# ---------------------------------------------------------------------------------------------
@dataclass
class CamResult:
    """One heatmap. `heatmap` is HxW float32 in [0, 1] at the model's input resolution (the
    preprocessed crop, same pixels as `model.preprocess_display`)."""

    heatmap: np.ndarray
    target: int            # class index the map explains
    target_name: str
    probability: float     # softmax probability of `target` for this image
    predicted: int         # the model's top-1 class index
    method: str            # registry name, e.g. "Grad-CAM"
    block: int             # 1-based block index (the last block for "CAM")
    layer: str             # dotted module name actually hooked (e.g. "bn2" for CAM on lite0)


def _token_reshape(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """(B, tokens, C) -> (B, C, h, w) for ViT-like blocks: drop prefix tokens, fold a square grid."""
    prefix = int(getattr(net, "num_prefix_tokens", 0))

    def reshape(t: torch.Tensor) -> torch.Tensor:
        if t.ndim != 3:
            return t
        t = t[:, prefix:]
        side = int(round(t.shape[1] ** 0.5))
        if side * side != t.shape[1]:
            raise LayerScopeError(f"Cannot fold {t.shape[1]} tokens into a square grid for a CAM.")
        return t.reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)

    return reshape


@holds_model_lock
def compute_cam(
    model: Model,
    image: Image.Image | torch.Tensor,
    block: int | None = None,
    method: str = "Grad-CAM",
    target: int | None = None,
) -> CamResult:
    """Heatmap of `method` at `block` (1-based; None = last block) for class `target`
    (None = the predicted class).

    "CAM" (classic) is only defined at the layer the classifier pools, so it accepts only the last
    block (or None) and hooks `head_layer(model)` (e.g. `bn2` on tf_efficientnet_lite0).
    """
    name, cls = _method(method)
    x = model.as_input(image)
    last = len(model.blocks)
    b = last if block is None else model.block(block).index
    if name == "CAM":
        if b != last:
            raise LayerScopeError(
                f"Classic CAM is only defined on the last block (block {last}), whose maps the "
                f"classifier pools; block {b} was asked. Use Grad-CAM for other blocks."
            )
        layer_name = head_layer(model)
    else:
        layer_name = model.block(b).module
    n_classes = len(model.class_names) or int(getattr(model.net, "num_classes", 0) or 0)
    if target is not None and not 0 <= int(target) < max(n_classes, 1):
        raise LayerScopeError(f"Class index {target} is out of range 0..{n_classes - 1}.")
    layer = model.net.get_submodule(layer_name)
    targets = None if target is None else [ClassifierOutputTarget(int(target))]
    cam = cls(model.net, [layer], reshape_transform=_token_reshape(model.net))
    cam.compute_input_gradient = True  # gradients reach the layer even if parameters are frozen
    try:
        with torch.enable_grad():
            grayscale = cam(input_tensor=x, targets=targets)
        logits = cam.outputs.detach().float()[0]
    except RuntimeError as exc:
        raise LayerScopeError(f"{name} failed on {model.block(b).name} ({layer_name}): {exc}") from exc
    finally:
        cam.activations_and_grads.release()
        cam.outputs = None
        for p in model.net.parameters():
            p.grad = None
    probs = logits.softmax(-1)
    predicted = int(probs.argmax())
    t = predicted if target is None else int(target)
    heat = np.nan_to_num(grayscale[0].astype(np.float32))
    return CamResult(
        heatmap=np.clip(heat, 0.0, 1.0),
        target=t,
        target_name=model.class_names[t] if t < len(model.class_names) else str(t),
        probability=float(probs[t]),
        predicted=predicted,
        method=name,
        block=b,
        layer=layer_name,
    )


def overlay(
    image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, colormap: str = "jet"
) -> np.ndarray:
    """Blend a [0,1] heatmap (coloured with a matplotlib colormap) over an HxWx3 uint8 image."""
    from matplotlib import colormaps

    img = np.asarray(image)
    heat = np.asarray(heatmap, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise LayerScopeError(f"overlay needs an HxWx3 image, got shape {img.shape}.")
    if not 0.0 <= opacity <= 1.0:
        raise LayerScopeError(f"opacity must be in [0, 1], got {opacity}.")
    if heat.shape != img.shape[:2]:
        t = torch.from_numpy(heat)[None, None]
        heat = F.interpolate(t, size=img.shape[:2], mode="bilinear", align_corners=False)[0, 0].numpy()
    try:
        cmap = colormaps[colormap]
    except KeyError as exc:
        raise LayerScopeError(f"Unknown matplotlib colormap '{colormap}'.") from exc
    coloured = cmap(np.clip(heat, 0, 1))[..., :3]
    out = (1 - opacity) * img.astype(np.float32) / 255 + opacity * coloured
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)
