"""Unit cards: top images, neuron feature, colour and class selectivity on constructed cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.inspect.units import (
    activation_histogram,
    card_masks,
    class_selectivity_index,
    colour_selectivity_index,
    neuron_feature,
    top_images,
    unit_card,
)
from analysis.models.model import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _solid(rgb, size=(40, 40)) -> np.ndarray:
    return np.broadcast_to(np.asarray(rgb, np.uint8), (*size, 3)).copy()


@pytest.mark.parametrize("rgb", [(255, 0, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)])
def test_most_saturated_colour_of_a_hue_scores_about_one(rgb):
    assert colour_selectivity_index(_solid(rgb)) > 0.95


def test_one_colour_only_scores_high_and_grey_scores_zero():
    assert colour_selectivity_index(_solid((220, 40, 40))) > 0.6
    assert colour_selectivity_index(_solid((40, 160, 60))) > 0.5
    for g in (0, 90, 128, 255):
        assert colour_selectivity_index(_solid((g, g, g))) < 0.01
    rng = np.random.default_rng(0)
    grey_noise = np.repeat(rng.integers(0, 256, (40, 40, 1), dtype=np.uint8), 3, axis=2)
    assert colour_selectivity_index(grey_noise) < 0.01


def test_colour_index_grows_with_saturation():
    values = [colour_selectivity_index(_solid((128 + s, 128 - s, 128 - s))) for s in (0, 30, 60, 100, 127)]
    assert np.all(np.diff(values) > 0)


def test_neuron_feature_is_the_activation_weighted_mean():
    white, black = _solid((255, 255, 255), (4, 4)), _solid((0, 0, 0), (4, 4))
    nf = neuron_feature(np.stack([white, black]), np.array([2.0, -1.0]))  # negative weight counts 0
    assert np.allclose(nf, 1.0)
    nf = neuron_feature(np.stack([white, black]), np.array([3.0, 1.0]))
    assert np.allclose(nf, 0.75)
    with pytest.raises(LayerScopeError):
        neuron_feature(np.stack([white, black]), np.array([1.0]))


def test_class_index_is_one_for_a_single_class_and_zero_when_uniform():
    assert class_selectivity_index(["a"] * 9, n_classes=10) == pytest.approx(1.0)
    assert class_selectivity_index(list("abcde") * 2, n_classes=5) == pytest.approx(0.0, abs=1e-12)
    assert class_selectivity_index(list("abcdefghi"), n_classes=10) == pytest.approx(0.0, abs=1e-12)
    mixed = class_selectivity_index(list("aaaaaaabc"), n_classes=10)
    assert 0.3 < mixed < 1.0
    assert np.isnan(class_selectivity_index(["a", "b"], n_classes=1))


def test_top_images_sorts_descending_and_puts_nan_last():
    v = np.array([0.5, np.nan, 2.0, 2.0, -1.0])
    assert top_images(v, 3).tolist() == [2, 3, 0]
    assert top_images(v, 10).tolist() == [2, 3, 0, 4, 1]
    with pytest.raises(LayerScopeError):
        top_images(v, 0)


def test_histogram_counts_every_finite_value():
    counts, edges = activation_histogram(np.array([0.0, 1.0, 2.0, np.nan, 3.0]), bins=3)
    assert counts.sum() == 4 and len(edges) == 4


@pytest.fixture(scope="module")
def lite0():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def colour_set():
    """24 small photos-like images: 8 colours x 3 shades, with textured noise, labelled by colour."""
    rng = np.random.default_rng(0)
    base = {"red": (200, 30, 30), "green": (40, 170, 50), "blue": (30, 60, 200), "yellow": (220, 200, 30),
            "grey": (128, 128, 128), "black": (20, 20, 20), "white": (235, 235, 235), "purple": (120, 40, 160)}
    images, labels = [], []
    for name, rgb in base.items():
        for shade in (0.8, 1.0, 1.1):
            a = np.clip(np.asarray(rgb) * shade + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
            images.append(Image.fromarray(a))
            labels.append(name)
    return images, labels


def _descriptors(model, images, block):
    x = torch.stack([model.preprocess(im) for im in images])
    return model.block_maps(x, [block])[block].mean(dim=(2, 3)).numpy()


def test_unit_card_is_consistent_with_the_descriptors(lite0, colour_set):
    images, labels = colour_set
    d = _descriptors(lite0, images, 2)
    ch = 3
    card = unit_card(lite0, 2, ch, d[:, ch], images, labels, k=6, batch_size=4)
    assert card.top_indices.tolist() == np.argsort(-d[:, ch], kind="stable")[:6].tolist()
    assert (np.diff(card.top_values) <= 0).all()
    # The card's own maps pool to the descriptor values it ranked by.
    np.testing.assert_allclose(card.maps.mean(axis=(1, 2)), d[card.top_indices, ch], rtol=1e-4, atol=1e-4)
    assert card.images.shape == (6, 224, 224, 3) and card.images.dtype == np.uint8
    assert card.masks.shape == (6, 224, 224) and card.masks.dtype == bool
    assert (card.masked[~card.masks] == 0).all()
    assert card.neuron_feature.shape == (224, 224, 3) and card.neuron_feature.dtype == np.uint8
    assert 0 <= card.colour_index <= 1 and 0 <= card.class_index <= 1
    assert card.class_counts.sum() == 6 and card.hist_counts.sum() == len(images)
    assert card.dataset_max == pytest.approx(d[:, ch].max())
    up, up_masked = card_masks(card, lite0.block(2), "upsample")
    assert up.shape == card.masks.shape and (up_masked[~up] == 0).all()
    assert (up_masked[up] == card.images[up]).all()
    same, _ = card_masks(card, lite0.block(2), "receptive")  # its own mode gives its own masks back
    assert np.array_equal(same, card.masks)


def test_unit_card_of_a_red_unit_is_colour_and_class_selective(lite0, colour_set):
    images, labels = colour_set
    red = np.array([1.0 if lab == "red" else 0.0 for lab in labels])  # a constructed "red detector"
    card = unit_card(lite0, 1, 0, red + np.linspace(0, 0.01, len(red)), images, labels, k=3)
    assert set(card.top_labels) == {"red"}
    assert card.class_index == pytest.approx(1.0)
    assert card.colour_index > 0.5
    grey = np.array([1.0 if lab in ("grey", "black", "white") else 0.0 for lab in labels])
    card = unit_card(lite0, 1, 0, grey + np.linspace(0, 0.01, len(grey)), images, labels, k=9)
    assert card.colour_index < 0.1
    # 3 images in each of 3 of the 8 classes: entropy log 3 out of a possible log 8.
    assert card.class_index == pytest.approx(1 - np.log(3) / np.log(8))


def test_patch_neuron_feature_has_the_receptive_field_size(lite0, colour_set):
    images, labels = colour_set
    d = _descriptors(lite0, images, 2)
    card = unit_card(lite0, 2, 0, d[:, 0], images, None, k=4, nf_mode="patch", mask_mode="upsample")
    side = lite0.blocks[1].receptive_field
    assert card.neuron_feature.shape == (side, side, 3)
    assert card.top_labels is None and np.isnan(card.class_index) and card.class_counts is None


def test_unit_card_rejects_mismatched_inputs(lite0, colour_set):
    images, labels = colour_set
    with pytest.raises(LayerScopeError):
        unit_card(lite0, 1, 0, np.zeros(3), images)
    with pytest.raises(LayerScopeError):
        unit_card(lite0, 1, 0, np.zeros(len(images)), images, labels[:-1])
    with pytest.raises(LayerScopeError):
        unit_card(lite0, 1, 999, np.zeros(len(images)), images)
