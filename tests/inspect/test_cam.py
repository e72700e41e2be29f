"""CAM family on the built-in real model: correct layer, hooks released, points at the object."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from analysis.errors import LayerScopeError
from analysis.inspect.cam import (
    CAM_METHODS,
    ClassicCAM,
    cam_cost,
    compute_cam,
    head_layer,
    overlay,
)
from analysis.models.model import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def _whole_photo(model, img: np.ndarray, height: int = 224) -> tuple[torch.Tensor, float]:
    """The whole photo (no centre crop) resized to `height`, normalised like the model's input.

    The model's own centre crop of chelsea is all cat face, so a box test on it would be empty;
    the uncropped photo keeps the blurred background on the right."""
    t = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    scale = height / img.shape[0]
    t = torch.nn.functional.interpolate(t, size=(height, round(img.shape[1] * scale)), mode="bilinear",
                                        antialias=True)[0]
    mean, std = torch.tensor(model.mean)[:, None, None], torch.tensor(model.std)[:, None, None]
    return (t - mean) / std, scale


def _box_stats(heat: np.ndarray, box: tuple[int, int, int, int], scale: float) -> tuple[float, float]:
    """(share of the CAM mass inside the box, mean heat inside / mean heat outside)."""
    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    inside = np.zeros_like(heat, dtype=bool)
    inside[y0:y1, x0:x1] = True
    mass = heat[inside].sum() / heat.sum()
    return float(mass), float(heat[inside].mean() / heat[~inside].mean())


def _no_hooks(net: torch.nn.Module) -> bool:
    return all(
        not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks
        and not getattr(m, "_backward_pre_hooks", {})
        for m in net.modules()
    )


def test_registry_offers_the_cam_family():
    for name in ["Grad-CAM", "Grad-CAM++", "HiResCAM", "LayerCAM", "EigenCAM", "ScoreCAM", "CAM"]:
        assert name in CAM_METHODS


def test_every_method_gives_a_unit_range_heatmap_at_input_resolution(model):
    x = torch.randn(3, 96, 128)
    for name in CAM_METHODS:
        block = 1 if name == "ScoreCAM" else None  # ScoreCAM: one forward per channel, keep it small
        r = compute_cam(model, x, block=block, method=name)
        assert r.heatmap.shape == (96, 128) and r.heatmap.dtype == np.float32
        assert np.isfinite(r.heatmap).all() and r.heatmap.min() >= 0 and r.heatmap.max() <= 1
        assert r.method == name and r.target == r.predicted and 0 <= r.probability <= 1
        assert r.target_name == model.class_names[r.target]


def test_hooks_are_released_after_twenty_runs_and_after_errors(model):
    x = torch.randn(3, 64, 64)
    methods = ["Grad-CAM", "Grad-CAM++", "HiResCAM", "LayerCAM", "EigenCAM", "CAM"]
    for i in range(20):
        method = methods[i % len(methods)]
        block = None if method == "CAM" or i % 3 == 0 else 1 + i % len(model.blocks)
        compute_cam(model, x, block=block, method=method)
    with pytest.raises(LayerScopeError):
        compute_cam(model, x, method="Grad-CAM", target=5000)
    assert _no_hooks(model.net)
    assert all(p.grad is None for p in model.net.parameters())


def test_classic_cam_hooks_the_layer_the_classifier_pools(model):
    # tf_efficientnet_lite0: the last feature_info block is blocks.6, but conv_head + bn2 follow.
    assert model.blocks[-1].module == "blocks.6"
    assert head_layer(model) == "bn2"
    r = compute_cam(model, torch.randn(3, 64, 64), method="CAM")
    assert r.layer == "bn2" and r.block == len(model.blocks)
    # Exactness: mean over positions of (classifier weights x pooled maps) + bias == logit.
    x = torch.randn(1, 3, 96, 96)
    maps = {}
    h = model.net.get_submodule("bn2").register_forward_hook(lambda _m, _a, o: maps.setdefault("a", o.clone()))
    try:
        logits = model.logits(x)[0]
    finally:
        h.remove()
    cam = ClassicCAM(model.net, [model.net.bn2])
    try:
        w = cam.fc_weight[[7]]
        raw = (w[:, :, None, None] * maps["a"].numpy()).sum(1)[0]
    finally:
        cam.activations_and_grads.release()
    bias = float(model.net.get_classifier().bias.detach()[7])
    assert raw.mean() + bias == pytest.approx(float(logits[7]), rel=1e-4, abs=1e-4)


def test_classic_cam_refuses_other_blocks(model):
    with pytest.raises(LayerScopeError, match="last block"):
        compute_cam(model, torch.randn(3, 64, 64), block=2, method="CAM")


def test_bad_inputs_raise_layerscope_errors(model):
    with pytest.raises(LayerScopeError):
        compute_cam(model, torch.randn(3, 64, 64), method="NoSuchCAM")
    with pytest.raises(LayerScopeError):
        compute_cam(model, torch.randn(2, 3, 64, 64))
    with pytest.raises(LayerScopeError):
        compute_cam(model, torch.randn(3, 64, 64), block=99)


def test_gradcam_on_the_last_block_sits_on_the_cat(model):
    # Box drawn by eye on skimage's chelsea (451x300 px, original coordinates): the cat's face and
    # ears; the blurred background on the right (x > 370) and the top-left corner are outside.
    x, scale = _whole_photo(model, data.chelsea())
    r = compute_cam(model, x, method="Grad-CAM")
    assert "cat" in r.target_name or r.target_name == "tabby"
    mass, contrast = _box_stats(r.heatmap, (20, 30, 370, 300), scale)
    assert mass > 0.75  # box is 70% of the photo
    assert contrast > 1.5


def test_gradcam_on_the_last_block_sits_on_the_espresso_cup(model):
    # Box drawn by eye on skimage's coffee (600x400 px): the cup with its handle, without saucer.
    x, scale = _whole_photo(model, data.coffee())
    r = compute_cam(model, x, method="Grad-CAM")
    assert r.target_name == "espresso"
    mass, contrast = _box_stats(r.heatmap, (165, 10, 420, 320), scale)
    assert mass > 1.4 * 0.33  # box is 33% of the photo
    assert contrast > 1.8


@pytest.mark.parametrize("method", ["Grad-CAM", "CAM"])
def test_cam_follows_the_chosen_class_on_a_cat_plus_coffee_picture(model, method):
    cat = model.preprocess(Image.fromarray(data.chelsea()))
    cup = model.preprocess(Image.fromarray(data.coffee()))
    both = torch.cat([cat, cup], dim=2)  # cat on the left half, espresso on the right half
    left = compute_cam(model, both, method=method, target=EGYPTIAN_CAT).heatmap
    right = compute_cam(model, both, method=method, target=ESPRESSO).heatmap
    assert left[:, :224].sum() / left.sum() > 0.85
    assert right[:, 224:].sum() / right.sum() > 0.85


def test_overlay_blends_a_colormap_over_the_image():
    img = np.full((20, 30, 3), 100, np.uint8)
    heat = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    assert np.array_equal(overlay(img, heat, opacity=0.0), img)
    out = overlay(img, heat, opacity=1.0, colormap="gray")
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    assert overlay(img, heat[::2, ::2]).shape == img.shape  # heatmaps are resized to the image
    with pytest.raises(LayerScopeError):
        overlay(img, heat, opacity=2.0)


def test_cam_cost_counts_scorecam_forwards(model):
    assert cam_cost(model, 5, "ScoreCAM")["forward"] == 1 + model.blocks[4].channels
    assert cam_cost(model, None, "Grad-CAM") == {"forward": 1, "backward": 1}
