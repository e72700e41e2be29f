import io

import numpy as np
import pytest
from PIL import Image

from analysis.data.images import image_from_bytes
from analysis.errors import LayerScopeError
from analysis.inspect import explorer as ex
from analysis.inspect.masks import activation_quantiles

TINY = ex.AMSettings(steps=2, image_size=48)


def _img(seed=0, size=96):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_top_classes_gives_indices_names_and_sorted_probabilities(lite0):
    df = ex.top_classes(lite0, _img(), k=5)
    assert list(df["rank"]) == [1, 2, 3, 4, 5]
    assert all(lite0.class_names[i] == n for i, n in zip(df["class_index"], df["name"]))
    assert (np.diff(df["probability"]) <= 0).all() and df["probability"].sum() <= 1 + 1e-6
    logits = lite0.logits(lite0.preprocess(_img()).unsqueeze(0))[0]
    assert int(df["class_index"][0]) == int(logits.argmax())


def test_image_from_bytes_reads_png_and_names_the_upload_when_unreadable():
    buf = io.BytesIO()
    Image.new("RGBA", (20, 10), (255, 0, 0, 255)).save(buf, format="PNG")
    img = image_from_bytes(buf.getvalue(), "shirt.png")
    assert img.mode == "RGB" and img.size == (20, 10) and img.getpixel((0, 0)) == (255, 0, 0)
    with pytest.raises(LayerScopeError, match="shirt.jpg"):
        image_from_bytes(b"not an image at all", "shirt.jpg")
    with pytest.raises(LayerScopeError, match="empty"):
        image_from_bytes(b"", "x.png")


def test_sample_indices_are_seeded_distinct_and_capped():
    a, b = ex.sample_indices(200, 64, 0), ex.sample_indices(200, 64, 0)
    assert (a == b).all() and len(set(a)) == 64 and a.max() < 200 and (np.diff(a) > 0).all()
    assert not (ex.sample_indices(200, 64, 1) == a).all()
    assert list(ex.sample_indices(5, 64)) == [0, 1, 2, 3, 4]


def test_quantiles_survive_the_array_round_trip(lite0):
    q = activation_quantiles(lite0, [_img(1), _img(2)], 2, positions_per_image=32)
    back = ex.quantiles_from_arrays(ex.quantiles_to_arrays(q))
    assert back.block == 2 and back.n_images == 2
    assert back.threshold(5, 0.9) == pytest.approx(q.threshold(5, 0.9))
    np.testing.assert_array_equal(back.maxima, q.maxima)


def test_a_channels_image_does_not_depend_on_its_batch_companions(lite0):
    alone = ex.render_units(lite0, 1, [3], TINY)
    batch = ex.render_units(lite0, 1, [5, 3], TINY)
    assert batch.images.shape == (2, 48, 48, 3)
    diff = np.abs(alone.images[0].astype(int) - batch.images[1].astype(int))
    assert diff.max() <= 2  # same start, same transforms: equal up to float rounding
    assert np.abs(batch.images[0].astype(int) - batch.images[1].astype(int)).mean() > 1


def test_render_units_rejects_bad_channels_and_settings(lite0):
    with pytest.raises(LayerScopeError, match="channels 0..15"):
        ex.render_units(lite0, 1, [16], TINY)
    with pytest.raises(LayerScopeError, match="parameterisation"):
        ex.render_units(lite0, 1, [0], ex.AMSettings(param="wavelets", steps=1))
    with pytest.raises(LayerScopeError, match="at least one"):
        ex.render_units(lite0, 1, [], TINY)


def test_pixel_parameterisation_with_regularizers_runs(lite0):
    s = ex.AMSettings(param="pixels", transforms=False, l2=0.1, tv=0.05, blur=0.0, steps=3, image_size=40)
    r = ex.render_units(lite0, 2, [0, 1], s)
    assert r.images.shape == (2, 40, 40, 3) and r.steps == 3
    assert [t["kind"] for t in r.settings["regularizers"]] == ["l2", "total_variation"]
    assert r.settings["transforms"] == []


def test_cached_units_render_once_then_read_from_disk(lite0, monkeypatch):
    s = ex.AMSettings(steps=2, image_size=40, random_state=123)
    for c in (2, 7):
        ex.result_path(ex.AM_NAMESPACE, ex.am_parts(lite0, 1, c, s), ".npz").unlink(missing_ok=True)
    assert not ex.is_cached(lite0, 1, [2, 7], s)
    calls = []
    first = ex.cached_units(lite0, 1, [2, 7, 2], s, progress=lambda i, n, v: calls.append(i))
    assert [u.channel for u in first] == [2, 7] and calls == [1, 2]
    assert ex.is_cached(lite0, 1, [2, 7], s)
    monkeypatch.setattr(ex, "render_units", lambda *a, **k: pytest.fail("should come from the cache"))
    again = ex.cached_units(lite0, 1, [7, 2], s)
    assert [u.channel for u in again] == [7, 2]
    np.testing.assert_array_equal(again[1].image, first[0].image)
    assert again[0].activation == pytest.approx(first[1].activation)
    assert again[0].history.shape == (2,)


def test_a_cancelled_render_is_shown_but_not_stored(lite0):
    s = ex.AMSettings(steps=5, image_size=40, random_state=321)
    ex.result_path(ex.AM_NAMESPACE, ex.am_parts(lite0, 1, 0, s), ".npz").unlink(missing_ok=True)
    out = ex.cached_units(lite0, 1, [0], s, progress=lambda i, n, v: i < 2)
    assert out[0].history.shape == (2,)
    assert not ex.is_cached(lite0, 1, [0], s)


def test_hstack_images_and_png_bytes():
    a = np.zeros((10, 20, 3), np.uint8)
    b = np.full((20, 20, 3), 200, np.uint8)
    out = ex.hstack_images([a, b], gap=2)
    assert out.shape == (20, 40 + 2 + 20, 3)
    assert (out[:, 40:42] == 255).all()
    back = np.asarray(Image.open(io.BytesIO(ex.png_bytes(out))))
    np.testing.assert_array_equal(back, out)
    with pytest.raises(LayerScopeError):
        ex.hstack_images([])


def test_parse_unit_link_reads_valid_values_and_explains_the_rest():
    chans, cols = [16, 24, 40, 112, 320], ["colour", "pattern"]
    ok = ex.parse_unit_link({"block": "3", "channel": "17", "label": "pattern"}, chans, cols)
    assert (ok.block, ok.channel, ok.label, ok.problems) == (3, 17, "pattern", [])
    assert ex.parse_unit_link({"block": "block 5", "channel": "300"}, chans, cols).channel == 300
    bad = ex.parse_unit_link({"block": "9", "channel": "x", "label": "size"}, chans, cols)
    assert (bad.block, bad.channel, bad.label) == (None, None, None) and len(bad.problems) == 3
    assert "block 9 does not exist (1..5)" in bad.problems[0]
    tight = ex.parse_unit_link({"block": "1", "channel": "16"}, chans, cols)
    assert tight.block == 1 and tight.channel is None and "0..15" in tight.problems[0]
    assert ex.parse_unit_link({}, chans, cols) == ex.UnitLink(None, None, None, [])
    assert ex.unit_query(3, 17, "colour") == {"block": "3", "channel": "17", "label": "colour"}
    assert ex.parse_unit_link(ex.unit_query(2, 5, None), chans, cols).channel == 5


def test_activation_heat_scales_by_the_given_maximum():
    a = np.array([[-1.0, 0.0], [2.0, 8.0]])
    np.testing.assert_allclose(ex.activation_heat(a, 4.0), [[0, 0], [0.5, 1.0]])
    np.testing.assert_allclose(ex.activation_heat(a, 0.0), [[0, 0], [0.25, 1.0]])


def test_parse_explorer_link_reads_image_block_channel_and_view():
    views = {"cam": "CAM", "masks": "Binary masks", "am": "Activation maximization"}
    ok = ex.parse_explorer_link({"image": "12", "block": "3", "channel": "5", "view": "masks"}, 200,
                                [16, 24, 40], views)
    assert (ok.image, ok.block, ok.channel, ok.view, ok.problems) == (12, 3, 5, "Binary masks", [])
    assert ex.parse_explorer_link({"view": "Activation maximization"}, 5, [16], views).view == "Activation maximization"
    bad = ex.parse_explorer_link({"image": "200", "block": "0", "view": "umap"}, 200, [16, 24, 40], views)
    assert (bad.image, bad.block, bad.view) == (None, None, None) and len(bad.problems) == 3
    assert ex.parse_explorer_link({}, 5, [16], views) == ex.ExplorerLink(None, None, None, None, [])
