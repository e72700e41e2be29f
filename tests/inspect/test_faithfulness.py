"""Deletion / insertion: a CAM that points at the object scores better than its inverse or noise."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from analysis.errors import LayerScopeError
from analysis.inspect.cam import compute_cam
from analysis.inspect.faithfulness import deletion_insertion
from analysis.models.model import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ESPRESSO = 967


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def test_deletion_insertion_rewards_the_cam_over_its_inverse(model):
    cat = model.preprocess(Image.fromarray(data.chelsea()))
    cup = model.preprocess(Image.fromarray(data.coffee()))
    both = torch.cat([cat, cup], dim=2)
    r = compute_cam(model, both, method="Grad-CAM", target=ESPRESSO)
    good = deletion_insertion(model, both, r.heatmap, ESPRESSO, steps=8)
    bad = deletion_insertion(model, both, 1 - r.heatmap, ESPRESSO, steps=8)
    assert good.fractions.shape == good.deletion.shape == good.insertion.shape == (9,)
    assert good.deletion[0] == pytest.approx(r.probability, abs=1e-4)
    assert good.insertion[-1] == pytest.approx(r.probability, abs=1e-4)
    assert 0 <= good.deletion_auc <= 1 and 0 <= good.insertion_auc <= 1
    assert good.deletion_auc < bad.deletion_auc
    assert good.insertion_auc > bad.insertion_auc
    assert good.score == pytest.approx(good.insertion_auc - good.deletion_auc)
    with pytest.raises(LayerScopeError):
        deletion_insertion(model, both, r.heatmap[:10], ESPRESSO)
    with pytest.raises(LayerScopeError):
        deletion_insertion(model, both, r.heatmap, ESPRESSO, deletion_baseline="zeros")


def test_gradcam_is_more_faithful_than_a_random_heatmap_on_the_coffee_photo(model):
    x = model.preprocess(Image.fromarray(data.coffee()))
    r = compute_cam(model, x, method="Grad-CAM")
    cam = deletion_insertion(model, x, r.heatmap, r.target, steps=8)
    noise = np.random.default_rng(0).random(r.heatmap.shape)
    rnd = deletion_insertion(model, x, noise, r.target, steps=8)
    assert cam.score > rnd.score + 0.2
    grey = deletion_insertion(model, x, r.heatmap, r.target, steps=8, deletion_baseline="mean")
    assert np.array_equal(grey.insertion, cam.insertion) and grey.deletion[0] == cam.deletion[0]
