"""Binary masks uncover exactly the receptive fields of the positions above threshold."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from analysis.errors import LayerScopeError
from analysis.inspect.masks import (
    ActivationQuantiles,
    activation_heat,
    activation_quantiles,
    apply_mask,
    channel_mask,
    mask_from_map,
    receptive_field_mask,
    sample_indices,
    store_quantiles,
    top_channels,
)
from analysis.models.blocks import Block
from analysis.models.model import Model, load_model
from analysis.models.receptive import measure_receptive_fields

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_model() -> Model:
    """Two 3x3 box-filter convs (stride 1 then 2, padding 1): field 5 px, stride 2, centre of
    position i at pixel 2*i (offset 0) -- worked out by hand, and checked against receptive.py."""
    net = nn.Sequential(nn.Conv2d(3, 1, 3, stride=1, padding=1, bias=False),
                        nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(1.0 / 27)
        net[1].weight.fill_(1.0 / 9)
        net[1].weight[1].mul_(-1)  # channel 1 is the negative of channel 0
    net.eval()
    block = Block(index=1, module="1", channels=2, stride=2, receptive_field=5, rf_global=False, rf_offset=0.0)
    return Model(
        name="tiny", arch="tiny", net=net, blocks=[block], device=torch.device("cpu"), weights_id="tiny",
        data_config={"input_size": (3, 16, 16), "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
        class_names=[], _transform=lambda im: torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1),
    )


def _brute_force_mask(active: np.ndarray, block: Block, shape: tuple[int, int]) -> np.ndarray:
    """Pixel loop over the definition: pixel (y, x) is uncovered if some active (i, j) has
    |y - c_i| <= (RF-1)/2 and |x - c_j| <= (RF-1)/2 with c_i = rf_offset + i*stride."""
    H, W = shape
    half = (block.receptive_field - 1) / 2
    out = np.zeros(shape, bool)
    for i, j in zip(*np.nonzero(active)):
        ci, cj = block.rf_offset + i * block.stride, block.rf_offset + j * block.stride
        for y in range(H):
            for x in range(W):
                if abs(y - ci) <= half and abs(x - cj) <= half:
                    out[y, x] = True
    return out


def test_tiny_model_geometry_matches_the_hand_computation():
    m = _tiny_model()
    rf = measure_receptive_fields(m.net, [("1", 2)])[0]
    assert (rf.size, rf.offset) == (m.blocks[0].receptive_field, m.blocks[0].rf_offset)


def test_single_bright_pixel_uncovers_the_hand_computed_square():
    m = _tiny_model()
    x = torch.zeros(3, 16, 16)
    x[:, 7, 9] = 1.0
    # Positions seeing pixel (7, 9): |2i - 7| <= 2 -> i in {3, 4}; |2j - 9| <= 2 -> j in {4, 5}.
    # Their fields (side 5 centred at rows 6, 8 and columns 8, 10) cover rows 4..10, cols 6..12.
    r = channel_mask(m, x, block=1, channel=0, threshold=1e-6)
    expected_active = np.zeros((8, 8), bool)
    expected_active[3:5, 4:6] = True
    assert np.array_equal(r.active, expected_active)
    expected = np.zeros((16, 16), bool)
    expected[4:11, 6:13] = True
    assert np.array_equal(r.mask, expected)
    assert r.coverage == pytest.approx(49 / 256)
    assert r.image.dtype == np.uint8 and r.image.shape == (16, 16, 3)
    assert r.image[~r.mask].max() == 0 and r.image[7, 9].min() == 255


def test_negative_channel_is_never_above_a_positive_threshold():
    m = _tiny_model()
    x = torch.zeros(3, 16, 16)
    x[:, 7, 9] = 1.0
    r = channel_mask(m, x, block=1, channel=1, threshold=0.0)
    assert not r.mask.any() and r.coverage == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_receptive_mask_equals_brute_force_with_clipping_at_borders(seed):
    rng = np.random.default_rng(seed)
    block = Block(index=3, module="x", channels=1, stride=4, receptive_field=11, rf_offset=1.5)
    active = rng.random((6, 7)) > 0.7
    active[0, 0] = active[-1, -1] = True  # fields that run off the image on every side
    got = receptive_field_mask(active, block, (23, 27))
    assert np.array_equal(got, _brute_force_mask(active, block, (23, 27)))


def test_global_field_uncovers_everything_when_anything_fires():
    block = Block(index=5, module="x", channels=1, stride=32, receptive_field=224, rf_global=True, rf_offset=16)
    active = np.zeros((7, 7), bool)
    assert not receptive_field_mask(active, block, (224, 224)).any()
    active[3, 3] = True
    assert receptive_field_mask(active, block, (224, 224)).all()


def test_upsample_mode_is_smaller_than_the_receptive_mode_and_respects_the_threshold():
    block = Block(index=2, module="x", channels=1, stride=4, receptive_field=19, rf_offset=1.5)
    act = np.zeros((8, 8), np.float32)
    act[4, 4] = 1.0
    up = mask_from_map(act, 0.5, block, (32, 32), mode="upsample")
    rf = mask_from_map(act, 0.5, block, (32, 32), mode="receptive")
    assert up.any() and (up <= rf).all() and up.sum() < rf.sum()
    assert not mask_from_map(act, 1.0, block, (32, 32), mode="upsample").any()
    with pytest.raises(LayerScopeError):
        mask_from_map(act, 0.5, block, (32, 32), mode="nope")


def test_apply_mask_blacks_out_the_rest():
    img = np.full((4, 4, 3), 200, np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    out = apply_mask(img, mask)
    assert out[1, 2].tolist() == [200, 200, 200] and out.sum() == 600


@pytest.fixture(scope="module")
def lite0():
    return load_model(device="cpu")


def _images(n: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)) for _ in range(n)]


def test_dataset_quantiles_give_thresholds_and_reproduce_with_the_same_seed(lite0):
    imgs = _images(5, 0)
    q = activation_quantiles(lite0, imgs, block=2, levels=(0.5, 0.9, 0.99), positions_per_image=64,
                             batch_size=2, random_state=3)
    assert q.values.shape == (3, lite0.blocks[1].channels) and q.n_positions == 5 * 64
    assert (np.diff(q.values, axis=0) >= 0).all() and (q.maxima >= q.values[-1]).all()
    again = activation_quantiles(lite0, imgs, block=2, levels=(0.5, 0.9, 0.99), positions_per_image=64,
                                 batch_size=3, random_state=3)
    assert np.array_equal(q.values, again.values)
    assert q.threshold(4, 0.9) == pytest.approx(q.values[1, 4])
    with pytest.raises(LayerScopeError):
        q.threshold(4, 0.999)
    # A higher dataset quantile never uncovers more of an image.
    lo = channel_mask(lite0, imgs[0], 2, 4, quantile=0.5, reference=q)
    hi = channel_mask(lite0, imgs[0], 2, 4, quantile=0.99, reference=q)
    assert lo.threshold <= hi.threshold and (hi.mask <= lo.mask).all()
    with pytest.raises(LayerScopeError):
        channel_mask(lite0, imgs[0], 3, 4, quantile=0.5, reference=q)


def test_real_model_mask_matches_its_own_geometry(lite0):
    img = _images(1, 1)[0]
    for b in (1, 3):
        r = channel_mask(lite0, img, b, 0, quantile=0.95)
        assert r.mask.shape == (224, 224)
        assert np.array_equal(r.mask, receptive_field_mask(r.active, lite0.blocks[b - 1], (224, 224)))
        assert r.active.sum() >= 1


def test_top_channels_are_sorted_by_mean_activation(lite0):
    img = _images(1, 2)[0]
    df = top_channels(lite0, img, block=3, k=5)
    assert list(df.columns) == ["channel", "mean_activation", "max_activation"] and len(df) == 5
    assert (np.diff(df["mean_activation"].to_numpy()) <= 0).all()
    maps = lite0.block_maps(lite0.preprocess(img)[None], [3])[3][0].numpy()
    assert df["channel"].iloc[0] == int(maps.mean(axis=(1, 2)).argmax())


def test_bad_channel_and_missing_threshold_raise(lite0):
    img = _images(1, 3)[0]
    with pytest.raises(LayerScopeError):
        channel_mask(lite0, img, 1, 999)
    with pytest.raises(LayerScopeError):
        channel_mask(lite0, img, 1, 0, threshold=None, quantile=None)


def _noise_image(seed=0, size=96):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_sample_indices_are_seeded_distinct_and_capped():
    a, b = sample_indices(200, 64, 0), sample_indices(200, 64, 0)
    assert (a == b).all() and len(set(a)) == 64 and a.max() < 200 and (np.diff(a) > 0).all()
    assert not (sample_indices(200, 64, 1) == a).all()
    assert list(sample_indices(5, 64)) == [0, 1, 2, 3, 4]


def test_quantiles_survive_the_array_round_trip(lite0):
    q = activation_quantiles(lite0, [_noise_image(1), _noise_image(2)], 2, positions_per_image=32)
    back = ActivationQuantiles.from_arrays(q.to_arrays())
    assert back.block == 2 and back.n_images == 2
    assert back.threshold(5, 0.9) == pytest.approx(q.threshold(5, 0.9))
    np.testing.assert_array_equal(back.maxima, q.maxima)


def test_activation_heat_scales_by_the_given_maximum():
    a = np.array([[-1.0, 0.0], [2.0, 8.0]])
    np.testing.assert_allclose(activation_heat(a, 4.0), [[0, 0], [0.5, 1.0]])
    np.testing.assert_allclose(activation_heat(a, 0.0), [[0, 0], [0.25, 1.0]])


def test_store_quantiles_are_the_sampled_images_quantiles_and_come_back_from_disk(lite0, tmp_path, monkeypatch):
    import types

    import analysis.inspect.masks as masks_mod

    paths = []
    for i in range(6):
        _noise_image(10 + i, 64).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    store = types.SimpleNamespace(key=f"test-{tmp_path.name}", n=6, paths=paths)  # what a cache entry offers
    q = store_quantiles(lite0, store, 2, n_images=4, positions_per_image=16, random_state=5)
    idx = sample_indices(6, 4, random_state=5)
    ref = activation_quantiles(lite0, [paths[int(i)] for i in idx], 2, positions_per_image=16, random_state=5)
    np.testing.assert_allclose(q.values, ref.values)
    assert q.n_images == 4
    monkeypatch.setattr(masks_mod, "activation_quantiles", lambda *a, **k: pytest.fail("should come from disk"))
    again = store_quantiles(lite0, store, 2, n_images=4, positions_per_image=16, random_state=5)
    np.testing.assert_array_equal(again.values, q.values)
