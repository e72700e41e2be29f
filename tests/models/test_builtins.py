"""The offline built-ins lite0/1/2: real ImageNet weights, each with its own timm preprocessing."""
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from analysis.models.model import BUILTIN, list_models, load_model

# name -> (timm arch, input size, crop_pct) from timm's pretrained configs.
EXPECTED = {
    "efficientnet_lite0": ("tf_efficientnet_lite0", 224, 0.875),
    "efficientnet_lite1": ("tf_efficientnet_lite1", 240, 0.882),
    "efficientnet_lite2": ("tf_efficientnet_lite2", 260, 0.89),
}


@pytest.fixture(scope="module", params=["efficientnet_lite1", "efficientnet_lite2"])
def builtin(request, lite0):
    return load_model(request.param, device="cpu")


def test_three_builtins_are_listed_first():
    rows = list_models()
    assert [r["name"] for r in rows[:3]] == list(EXPECTED)
    assert all("built-in" in r["source"] for r in rows[:3])
    assert {n: b.arch for n, b in BUILTIN.items()} == {n: e[0] for n, e in EXPECTED.items()}


def test_builtin_uses_its_own_timm_preprocessing(builtin):
    arch, size, crop = EXPECTED[builtin.name]
    pre = builtin.preprocessing_id()
    assert builtin.arch == arch and pre["input_size"] == [3, size, size] and pre["crop_pct"] == crop
    assert builtin.preprocess(Image.fromarray(skdata.chelsea())).shape == (3, size, size)


def test_builtin_weights_are_the_package_tensors_in_order(builtin):
    assert builtin.weights_id.startswith("file:")
    shipped = torch.load(BUILTIN[builtin.name].weights_file(), map_location="cpu", weights_only=True)
    own = builtin.net.state_dict()
    assert len(shipped) == len(own)
    # Mapped by position onto timm's names: every tensor equal, none left at its random init.
    assert all(torch.equal(a, b.cpu()) for a, b in zip(shipped.values(), own.values()))


def test_builtin_recognises_the_cat_photo(builtin):
    (name, p), *_ = builtin.classify(Image.fromarray(skdata.chelsea()), k=5)
    assert name == "Egyptian cat" and p > 0.35


def test_builtin_recognises_espresso(builtin):
    (name, p), *_ = builtin.classify(Image.fromarray(skdata.coffee()), k=5)
    assert name == "espresso" and p > 0.5


def test_builtin_blocks_grow_with_the_model(lite0, builtin):
    # Same five stages; the wider variants have at least as many channels in every block.
    assert len(builtin.blocks) == len(lite0.blocks) == 5
    assert all(b.channels >= a.channels for a, b in zip(lite0.blocks, builtin.blocks))
