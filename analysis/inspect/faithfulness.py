"""How faithful a heatmap is: deletion / insertion curves (Petsiuk et al. 2018, RISE).

The target probability as the most salient pixels are deleted (replaced by a blurred copy, or
the mean colour) or inserted (into a blurred copy) in N steps, in batched forward passes. Works
for any (H, W) saliency map at the model's input resolution, e.g. `cam.compute_cam(...).heatmap`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.models.model import Model, holds_model_lock


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
    model: Model,
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
    x = model.as_input(image)
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
