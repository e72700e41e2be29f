"""Activation maximization: objectives rise, images are valid, parts compose, batches are independent."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from analysis.errors import LayerScopeError
from analysis.inspect.featureviz import (
    Objective,
    activation_vs_dataset,
    blur,
    channel,
    channels,
    class_logit,
    fft_image,
    jitter,
    l2,
    neuron,
    pad,
    pixel_image,
    random_rotate,
    random_scale,
    render,
    rfft2d_freqs,
    settings_key,
    standard_transforms,
    total_variation,
    visualize_channels,
)
from analysis.models.blocks import Block
from analysis.models.model import Model, load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_model() -> Model:
    """conv(3->4, 3x3) -> ReLU -> conv(4->4, 3x3, stride 2): a 'block' we can optimise in ms."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    net.eval()
    block = Block(index=1, module="2", channels=4, stride=2, receptive_field=5, rf_offset=0.0)
    return Model(
        name="tiny", arch="tiny", net=net, blocks=[block], device=torch.device("cpu"), weights_id="tiny",
        data_config={"input_size": (3, 32, 32), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
        class_names=[], _transform=None,
    )


@pytest.fixture(scope="module")
def lite0():
    return load_model(device="cpu")


def test_objective_rises_monotonically_with_a_small_lr_on_a_tiny_model():
    m = _tiny_model()
    r = render(m, channel(1, 2), pixel_image(1, 24, random_state=0), transforms=[], steps=12, lr=0.01,
               random_state=0)
    h = r.history[:, 0]
    assert h.shape == (12,) and np.isfinite(h).all()
    assert (np.diff(h) > 0).all()
    assert r.final_activation[0] > r.initial_activation[0]


def test_real_model_objective_gains_a_clear_margin_in_few_steps(lite0):
    r = visualize_channels(lite0, block=3, channel_list=[5], steps=16, image_size=64, random_state=0)
    assert r.final_activation[0] > r.initial_activation[0] + 5.0
    assert r.images.dtype == np.uint8 and r.images.shape == (1, 64, 64, 3)
    assert np.isfinite(r.history).all() and r.steps == 16 and not r.cancelled


def test_several_channels_in_one_batch_match_separate_runs(lite0):
    kw = dict(transforms=standard_transforms(), steps=6, lr=0.05, random_state=1)
    both = render(lite0, channels(2, [3, 7]), fft_image(2, 48, random_state=1), **kw)
    alone = render(lite0, channels(2, [3]), fft_image(1, 48, random_state=1), **kw)
    assert both.images.shape == (2, 48, 48, 3) and both.history.shape == (6, 2)
    # Image 0 of the batch sees the same noise, transforms and Adam updates as the lone run.
    np.testing.assert_allclose(both.history[:, 0], alone.history[:, 0], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(both.final_activation[0], alone.final_activation[0], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("size", [(32, 32), (33, 47)])
def test_fft_param_shapes_and_round_trip_from_an_image(size):
    h, w = size
    p = fft_image(2, size, random_state=0)
    assert p.params[0].shape == (2, 3, h, w // 2 + 1, 2) == (2, 3, *rfft2d_freqs(h, w).shape, 2)
    assert p.image().shape == (2, 3, h, w)
    rng = np.random.default_rng(0)
    target = rng.integers(10, 246, (2, h, w, 3), dtype=np.uint8)
    for param in (fft_image(2, size, init=target), fft_image(2, size, init=target, decorrelate=False),
                  pixel_image(2, size, init=target)):
        back = (param.image().detach().permute(0, 2, 3, 1).numpy() * 255)
        np.testing.assert_allclose(back, target, atol=0.05)


def test_noise_start_is_mid_grey_and_seeded():
    a = fft_image(1, 32, random_state=3).image().detach()
    b = fft_image(1, 32, random_state=3).image().detach()
    c = fft_image(1, 32, random_state=4).image().detach()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.mean()) - 0.5) < 0.05


def test_transforms_keep_batch_and_channels_and_are_seeded():
    x = torch.rand(2, 3, 40, 40)
    assert pad(5)(x, torch.Generator()).shape == (2, 3, 50, 50)
    assert jitter(8)(x, torch.Generator()).shape == (2, 3, 32, 32)
    assert random_scale([1.1])(x, torch.Generator()).shape == (2, 3, 44, 44)
    assert random_rotate([0])(x, torch.Generator()) is x
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    y1, y2 = x, x
    for t in standard_transforms():
        y1, y2 = t(y1, g1), t(y2, g2)
    assert torch.equal(y1, y2) and y1.shape[:2] == (2, 3)


def test_regularizers_penalise_noise_more_than_smooth_images():
    smooth = torch.full((1, 3, 16, 16), 0.5)
    noisy = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for reg in (l2(), total_variation(), blur()):
        assert float(reg.fn(noisy)[0]) > float(reg.fn(smooth)[0]) + 1e-4
        assert float(reg.fn(smooth)[0]) == pytest.approx(0.0, abs=1e-7)


def test_regularizer_weight_trades_activation_for_smoothness():
    m = _tiny_model()
    kw = dict(transforms=[], steps=30, lr=0.05, random_state=0)
    free = render(m, channel(1, 0), pixel_image(1, 24), **kw)
    tied = render(m, channel(1, 0), pixel_image(1, 24), regularizers=[total_variation(50.0)], **kw)
    tv = total_variation().fn
    img = lambda r: torch.from_numpy(r.images).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    assert float(tv(img(tied))[0]) < float(tv(img(free))[0])


def test_objectives_compose_like_numbers_and_describe_themselves():
    m = _tiny_model()
    x = torch.rand(2, 3, 24, 24)
    a = m.net(x)  # block 1 == the whole tiny net
    T = lambda key: a  # noqa: E731
    obj = channel(1, 0) + 2 * channel(1, 1) - channel(1, 3)
    expected = a[:, 0].mean((1, 2)) + 2 * a[:, 1].mean((1, 2)) - a[:, 3].mean((1, 2))
    torch.testing.assert_close(obj(T), expected)
    torch.testing.assert_close(Objective.sum([channel(1, 0), channel(1, 1)], [0.5, 0.5])(T),
                               0.5 * (a[:, 0] + a[:, 1]).mean((1, 2)))
    torch.testing.assert_close(neuron(1, 2)(T), a[:, 2, 6, 6])
    json.dumps(obj.spec)
    assert obj.keys == frozenset({1})
    with pytest.raises(LayerScopeError):
        Objective.sum([channels(1, [0, 1]), channels(1, [0, 1, 2])])


def test_class_logit_objective_runs_the_whole_network(lite0):
    r = render(lite0, class_logit(1), pixel_image(1, 48), transforms=[], steps=4, lr=0.05, random_state=0)
    assert r.final_activation[0] > r.initial_activation[0]


def test_progress_is_called_every_step_and_can_cancel():
    m = _tiny_model()
    calls: list[int] = []
    r = render(m, channel(1, 1), pixel_image(1, 16), transforms=[pad(2), jitter(2)], steps=512, lr=0.02,
               progress=lambda s, n, v: calls.append(s), random_state=0)
    assert calls == list(range(1, 513)) and r.steps == 512 and r.history.shape == (512, 1)
    stop = render(m, channel(1, 1), pixel_image(1, 16), transforms=[], steps=50,
                  progress=lambda s, n, v: s < 5, random_state=0)
    assert stop.cancelled and stop.steps == 5 and stop.history.shape == (5, 1)


def test_render_leaves_no_hooks_and_no_weight_gradients(lite0):
    visualize_channels(lite0, 2, [0, 1], steps=2, image_size=32, preset="smooth", random_state=0)
    with pytest.raises(LayerScopeError):
        render(lite0, channel(99, 0), steps=1)
    for mod in lite0.net.modules():
        assert not mod._forward_hooks and not mod._forward_pre_hooks
    assert all(p.grad is None for p in lite0.net.parameters())


def test_settings_key_is_plain_json_and_tracks_every_setting(lite0):
    p = fft_image(1, 64, random_state=0)
    base = dict(transforms=standard_transforms(), regularizers=[blur(1.0)], steps=64, lr=0.05, random_state=0)
    k = settings_key(lite0, channel(3, 5), p, **base)
    assert json.loads(json.dumps(k)) == k
    assert k != settings_key(lite0, channel(3, 6), p, **base)
    assert k != settings_key(lite0, channel(3, 5), p, **{**base, "steps": 512})
    assert k != settings_key(lite0, channel(3, 5), fft_image(1, 64, random_state=1), **base)
    assert k["weights"] == lite0.weights_id


def test_bad_settings_raise():
    m = _tiny_model()
    with pytest.raises(LayerScopeError):
        render(m, channels(1, [0, 1]), pixel_image(3, 16), steps=1)
    with pytest.raises(LayerScopeError):
        render(m, channel(1, 0), pixel_image(1, 16), steps=0)
    with pytest.raises(LayerScopeError):
        visualize_channels(m, 1, [9], steps=1)
    with pytest.raises(LayerScopeError):
        visualize_channels(m, 1, [0], steps=1, preset="nope")


def test_activation_vs_dataset_reports_ratio_and_percentile():
    df = activation_vs_dataset(np.array([3.0, 6.0]), np.array([6.0, 3.0]))
    assert df["ratio"].tolist() == [0.5, 2.0]
    one = activation_vs_dataset(2.5, 4.0, dataset_values=np.array([1.0, 2.0, 3.0, 4.0]))
    assert one["ratio"].iloc[0] == 0.625 and one["percentile"].iloc[0] == 50.0
    assert np.isnan(activation_vs_dataset(1.0, 0.0)["ratio"].iloc[0])
