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

`deletion_insertion` scores a heatmap's faithfulness (Petsiuk et al. 2018, RISE): the target
probability as the most salient pixels are deleted (replaced by a blurred copy, or the mean
colour) or inserted (into a blurred copy) in N steps, batched forwards.
"""
from __future__ import annotations

import threading
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
from analysis.models.model import holds_model_lock


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


def cam_cost(model, block: int | None, method: str) -> dict[str, int]:
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
def head_layer(model) -> str:
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
    records: list[tuple[str, torch.Tensor]] = []  # tensors kept alive, so `is` comparisons are safe
    pooled: list[torch.Tensor] = []
    hooks = []
    owner = threading.get_ident()  # ignore forwards other threads run on a shared model meanwhile
    try:
        for n, m in net.named_modules():
            if n and m is not pool:
                hooks.append(m.register_forward_hook(
                    lambda _m, _a, o, n=n: records.append((n, o))
                    if isinstance(o, torch.Tensor) and threading.get_ident() == owner else None))
        hooks.append(pool.register_forward_pre_hook(
            lambda _m, a: pooled.append(a[0]) if threading.get_ident() == owner else None))
        size = max(64, 2 * max(b.stride for b in model.blocks))
        with torch.no_grad():
            net(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        for h in hooks:
            h.remove()
    # Hooks fire innermost first, so the last module returning the pooled tensor is the outermost
    # one (`bn2` rather than `bn2.act`, `layer4` rather than `layer4.2.act3`).
    names = [n for n, o in records if pooled and o is pooled[0]]
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


def as_input(model, image: Image.Image | torch.Tensor | np.ndarray) -> torch.Tensor:
    """PIL image -> normalised (1,3,H,W); a (3,H,W) / (1,3,H,W) tensor is taken as already normalised."""
    if isinstance(image, Image.Image):
        x = model.preprocess(image)
    elif isinstance(image, (torch.Tensor, np.ndarray)):
        x = torch.as_tensor(image).float()
    else:
        raise LayerScopeError(f"Expected a PIL image or a normalised (3,H,W) tensor, got {type(image).__name__}.")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise LayerScopeError(f"Expected one RGB image as (3,H,W) or (1,3,H,W); got shape {tuple(x.shape)}.")
    return x.to(model.device)


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
    model,
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
    x = as_input(model, image)
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


# ---------------------------------------------------------------------------------------------
# Faithfulness: deletion / insertion
# ---------------------------------------------------------------------------------------------
@dataclass
class Faithfulness:
    """Deletion / insertion curves of the target probability (Petsiuk et al. 2018).

    fractions: (steps+1,) share of pixels deleted / inserted, 0..1.
    deletion: probability after deleting the most salient `fraction` of pixels (-> blurred image,
    or the mean colour with deletion_baseline="mean").
    insertion: probability after inserting them into a blurred copy of the image.
    deletion_auc: area under `deletion` (lower = more faithful); insertion_auc: under
    `insertion` (higher = more faithful); score = insertion_auc - deletion_auc.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    score: float
    target: int
    steps: int


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    k = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    xp = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    xp = F.conv2d(xp, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(xp, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


@torch.no_grad()
@holds_model_lock
def deletion_insertion(
    model,
    image: Image.Image | torch.Tensor,
    heatmap: np.ndarray,
    target: int,
    steps: int = 16,
    batch_size: int = 17,
    blur_sigma: float | None = None,
    deletion_baseline: str = "blur",
    random_state: int = 0,
) -> Faithfulness:
    """Deletion and insertion curves of `target`'s probability in `steps` equal pixel fractions.

    Insertion starts from a Gaussian blur (sigma = blur_sigma, default image side / 20) of the
    image and puts original pixels back. Deleted pixels take the blurred image's value
    (deletion_baseline="blur", default) or 0 in normalised space, i.e. the mean colour ("mean").
    Why blur: scattered grey pixels are far outside the training distribution, so with "mean" a
    *random* pixel order destroys the prediction faster than a CAM's contiguous regions (on the
    coffee photo: deletion AUC 0.13 random vs 0.21 Grad-CAM with "mean"; 0.26 vs 0.13 with "blur").
    Pixels are ranked by heatmap value; ties (e.g. the zeros of a ReLU'd map) are broken at random
    with `random_state`, so flat regions are not removed top row first. Cost: 2 * (steps + 1)
    forward passes at input resolution, batched.
    """
    if deletion_baseline not in ("blur", "mean"):
        raise LayerScopeError(f"deletion_baseline must be 'blur' or 'mean', not '{deletion_baseline}'.")
    if steps < 1:
        raise LayerScopeError(f"steps must be >= 1, got {steps}.")
    x = as_input(model, image)
    n_out = len(model.class_names) or int(getattr(model.net, "num_classes", 0) or 0)
    if not 0 <= int(target) < max(n_out, 1):
        raise LayerScopeError(f"Class index {target} is out of range 0..{n_out - 1}.")
    h, w = x.shape[-2:]
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.shape != (h, w):
        raise LayerScopeError(f"heatmap is {heat.shape} but the input is {(h, w)}; pass the CAM of this image.")
    rng = np.random.default_rng(random_state)
    order = np.lexsort((rng.random(h * w), -heat.ravel()))  # most salient first, random tie-break
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    rank_t = torch.from_numpy(rank.reshape(h, w)).to(x.device)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * h * w).astype(np.int64)
    blurred = _gaussian_blur(x, blur_sigma or max(h, w) / 20.0)
    deleted_value = blurred if deletion_baseline == "blur" else torch.zeros_like(x)

    def curve(start: torch.Tensor, end: torch.Tensor) -> np.ndarray:
        probs = []
        for i in range(0, len(counts), batch_size):
            keep = torch.stack([(rank_t < int(c)) for c in counts[i:i + batch_size]])[:, None].to(x.dtype)
            batch = end * keep + start * (1 - keep)  # pixels ranked < count come from `end`
            probs.append(model.net(batch).float().softmax(-1)[:, target].cpu())
        return torch.cat(probs).numpy()

    deletion = curve(x, deleted_value)
    insertion = curve(blurred, x)
    d_auc, i_auc = float(np.trapezoid(deletion, fractions)), float(np.trapezoid(insertion, fractions))
    return Faithfulness(
        fractions=fractions, deletion=deletion, insertion=insertion, deletion_auc=d_auc,
        insertion_auc=i_auc, score=i_auc - d_auc, target=int(target), steps=steps,
    )
