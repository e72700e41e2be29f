"""Label-noise flags: flipped labels of known images must rank at the top."""
import numpy as np
import pytest

from analysis.errors import LayerScopeError
from analysis.probes.label_noise import flag_images


def blobs(seed=0, per=30, classes=4, d=8):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per)
    X = rng.normal(size=(len(y), d)) + 6 * np.eye(classes, d)[y]
    return X, y


def test_flipped_labels_rank_first_by_mistakenness_and_prototype_distance():
    X, y = blobs()
    flipped = np.array([3, 40, 77, 101])
    y_noisy = y.copy()
    y_noisy[flipped] = (y[flipped] + 1) % 4
    f = flag_images(X, y_noisy, k=7, metric="euclidean")
    assert set(f.ranked("mistakenness", top=4)["row"]) == set(flipped)
    assert set(f.ranked("prototype", top=4)["row"]) == set(flipped)
    t = f.table.set_index("row")
    assert (t.loc[flipped, "neighbour_label"].to_numpy() == y[flipped]).all()  # the neighbours know the truth
    assert (t.loc[flipped, "mistakenness"] == 1.0).all()


def test_glosh_flags_a_far_away_image_without_labels():
    X, y = blobs(seed=1)
    X[5] += 40.0  # one odd image, label unchanged
    f = flag_images(X, y, k=5, metric="euclidean", glosh=True, min_cluster_size=10)
    assert f.ranked("glosh", top=1)["row"].item() == 5
    assert f.table["glosh"].between(0, 1).all()


def test_flipped_garment_colours_rank_at_the_top(small_store):
    # The built-in set at block 1 (colour is separable there): relabel 3 known images.
    X = small_store.descriptors(1)
    y = small_store.labels["colour"].to_numpy().copy()
    classes = sorted(set(y))
    flipped = np.array([0, 11, 27])
    for i in flipped:
        y[i] = classes[(classes.index(y[i]) + 3) % len(classes)]
    f = flag_images(X, y, k=3, metric="cosine")
    top = f.ranked("mistakenness", top=6)["row"].tolist()
    assert set(flipped) <= set(top), top
    clean = flag_images(X, small_store.labels["colour"].to_numpy(), k=3, metric="cosine")
    # Every neighbour of a flipped image disagrees; with the true labels, on average far fewer do.
    assert (f.table.loc[flipped, "mistakenness"] == 1.0).all()
    assert clean.table["mistakenness"].mean() < 0.5


def test_bad_k_is_a_plain_error():
    X, y = blobs(per=3)
    with pytest.raises(LayerScopeError, match="need at least"):
        flag_images(X, y, k=len(y))
    with pytest.raises(LayerScopeError, match="rank by"):
        flag_images(X, y, k=2).ranked("nope")
