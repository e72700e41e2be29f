"""weights="random": an untrained control that needs no download, labelled as such everywhere."""
import numpy as np
from PIL import Image

from analysis.data.datasets import open_dataset
from analysis.descriptors.store import entry_dir
from analysis.models.model import UNTRAINED, load_model


def test_random_weights_are_named_untrained_and_cached_apart_from_pretrained(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.full((32, 32, 3), 200 if cls == "a" else 40, np.uint8)).save(tmp_path / cls / "x.png")
    ds = open_dataset(str(tmp_path))
    random_net = load_model("efficientnet_lite0", weights="random")
    pretrained = load_model("efficientnet_lite0")
    assert random_net.name == f"efficientnet_lite0 {UNTRAINED}" and pretrained.name == "efficientnet_lite0"
    assert random_net.weights_id == "random:0"
    assert "untrained" in entry_dir(random_net, ds).name and entry_dir(random_net, ds) != entry_dir(pretrained, ds)
    again = load_model("efficientnet_lite0", weights="random")  # seeded: the same untrained net every time
    w = next(iter(random_net.net.state_dict()))
    assert np.array_equal(again.net.state_dict()[w].numpy(), random_net.net.state_dict()[w].numpy())
