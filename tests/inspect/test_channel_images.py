"""Activation-maximisation images of several channels: seeded per channel, cached on disk."""
import numpy as np
import pytest

from analysis.descriptors.results_cache import result_path
from analysis.errors import LayerScopeError
from analysis.inspect.featureviz import channel_images as ci

TINY = ci.AMSettings(steps=2, image_size=48)


def test_a_channels_image_does_not_depend_on_its_batch_companions(lite0):
    alone = ci.render_units(lite0, 1, [3], TINY)
    batch = ci.render_units(lite0, 1, [5, 3], TINY)
    assert batch.images.shape == (2, 48, 48, 3)
    diff = np.abs(alone.images[0].astype(int) - batch.images[1].astype(int))
    assert diff.max() <= 2  # same start, same transforms: equal up to float rounding
    assert np.abs(batch.images[0].astype(int) - batch.images[1].astype(int)).mean() > 1


def test_render_units_rejects_bad_channels_and_settings(lite0):
    with pytest.raises(LayerScopeError, match="channels 0..15"):
        ci.render_units(lite0, 1, [16], TINY)
    with pytest.raises(LayerScopeError, match="parameterisation"):
        ci.render_units(lite0, 1, [0], ci.AMSettings(param="wavelets", steps=1))
    with pytest.raises(LayerScopeError, match="at least one"):
        ci.render_units(lite0, 1, [], TINY)


def test_pixel_parameterisation_with_regularizers_runs(lite0):
    s = ci.AMSettings(param="pixels", transforms=False, l2=0.1, tv=0.05, blur=0.0, steps=3, image_size=40)
    r = ci.render_units(lite0, 2, [0, 1], s)
    assert r.images.shape == (2, 40, 40, 3) and r.steps == 3
    assert [t["kind"] for t in r.settings["regularizers"]] == ["l2", "total_variation"]
    assert r.settings["transforms"] == []


def test_cached_units_render_once_then_read_from_disk(lite0, monkeypatch):
    s = ci.AMSettings(steps=2, image_size=40, random_state=123)
    for c in (2, 7):
        result_path(ci.AM_NAMESPACE, ci.am_parts(lite0, 1, c, s), ".npz").unlink(missing_ok=True)
    assert not ci.is_cached(lite0, 1, [2, 7], s)
    calls = []
    first = ci.cached_units(lite0, 1, [2, 7, 2], s, progress=lambda i, n, v: calls.append(i))
    assert [u.channel for u in first] == [2, 7] and calls == [1, 2]
    assert ci.is_cached(lite0, 1, [2, 7], s)
    monkeypatch.setattr(ci, "render_units", lambda *a, **k: pytest.fail("should come from the cache"))
    again = ci.cached_units(lite0, 1, [7, 2], s)
    assert [u.channel for u in again] == [7, 2]
    np.testing.assert_array_equal(again[1].image, first[0].image)
    assert again[0].activation == pytest.approx(first[1].activation)
    assert again[0].history.shape == (2,)


def test_a_cancelled_render_is_shown_but_not_stored(lite0):
    s = ci.AMSettings(steps=5, image_size=40, random_state=321)
    result_path(ci.AM_NAMESPACE, ci.am_parts(lite0, 1, 0, s), ".npz").unlink(missing_ok=True)
    out = ci.cached_units(lite0, 1, [0], s, progress=lambda i, n, v: i < 2)
    assert out[0].history.shape == (2,)
    assert not ci.is_cached(lite0, 1, [0], s)
