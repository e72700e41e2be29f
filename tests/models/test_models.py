import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from analysis.errors import LayerScopeError
from analysis.models.model import list_models, load_model


def test_builtin_model_recognises_the_cat_photo(lite0):
    top5 = [name.lower() for name, _ in lite0.classify(Image.fromarray(skdata.chelsea()), k=5)]
    assert top5[0] in {"tiger cat", "egyptian cat", "tabby"}
    assert sum(n in {"tiger cat", "egyptian cat", "tabby", "lynx", "persian cat", "siamese cat"} for n in top5) >= 3


def test_builtin_model_recognises_espresso(lite0):
    (name, p), *_ = lite0.classify(Image.fromarray(skdata.coffee()), k=5)
    assert name == "espresso" and p > 0.5


def test_classify_probabilities_are_sorted_and_sum_below_one(lite0):
    res = lite0.classify(Image.fromarray(skdata.astronaut()), k=5)
    probs = [p for _, p in res]
    assert len(res) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_builtin_preprocessing_comes_from_pretrained_config(lite0):
    pre = lite0.preprocessing_id()
    assert pre["input_size"] == [3, 224, 224] and pre["mean"] == [0.5, 0.5, 0.5]
    assert pre["interpolation"] == "bicubic" and pre["crop_pct"] == 0.875


def test_resnet50_has_the_five_blocks_of_the_mission():
    m = load_model("resnet50", weights="random")
    assert [b.channels for b in m.blocks] == [64, 256, 512, 1024, 2048]
    assert [b.name for b in m.blocks] == [f"block {i}" for i in range(1, 6)]
    assert [b.module for b in m.blocks] == ["act1", "layer1", "layer2", "layer3", "layer4"]
    assert [b.stride for b in m.blocks] == [2, 4, 8, 16, 32]
    # Known geometry of ResNet50 (7x7/2 stem, 3x3/2 max-pool, bottlenecks): 427 px at layer4.
    assert [b.receptive_field for b in m.blocks] == [7, 35, 91, 267, 427]


def test_block_maps_have_block_channels(lite0):
    x = torch.randn(1, 3, 224, 224)
    maps = lite0.block_maps(x)
    assert [maps[b.index].shape[1] for b in lite0.blocks] == [b.channels for b in lite0.blocks]


def test_resnet50_loads_a_user_weights_file_safetensors_and_pth(tmp_path):
    from safetensors.torch import save_file

    src = load_model("resnet50", weights="random")
    sd = {k: v.clone() * 0.5 for k, v in src.net.state_dict().items()}
    save_file(sd, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, tmp_path / "w.pth")
    for f in ("w.safetensors", "w.pth"):
        m = load_model("resnet50", weights=tmp_path / f)
        assert torch.equal(m.net.state_dict()["fc.weight"].cpu(), sd["fc.weight"])
        assert m.weights_id.startswith("file:")


def test_mismatched_weights_file_gives_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(LayerScopeError, match="do not fit"):
        load_model("resnet50", weights=tmp_path / "bad.safetensors")


def test_missing_weights_file_and_unknown_model_are_explained(tmp_path):
    with pytest.raises(LayerScopeError, match="not found"):
        load_model("resnet50", weights=tmp_path / "none.pth")
    with pytest.raises(LayerScopeError, match="Unknown model"):
        load_model("not_a_model_xyz")


def test_pickle_payload_in_pth_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"a": Evil()}, f)
    with pytest.raises(LayerScopeError, match="Could not read"):
        load_model("resnet50", weights=tmp_path / "evil.pth")


def test_offline_pretrained_download_fails_with_instructions(monkeypatch):
    import analysis.models.model as models

    monkeypatch.setattr(models, "_hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(LayerScopeError, match="--weights"):
        load_model("resnet50")


def test_model_list_puts_builtin_first():
    rows = list_models()
    assert rows[0]["name"] == "efficientnet_lite0" and "built-in" in rows[0]["source"]
    assert any(r["name"] == "resnet50" for r in rows)


def test_preprocess_display_matches_input_size(lite0):
    img = Image.fromarray(np.zeros((300, 500, 3), np.uint8))
    assert lite0.preprocess_display(img).shape == (224, 224, 3)


def test_top_classes_gives_indices_names_and_sorted_probabilities(lite0):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    df = lite0.top_classes(img, k=5)
    assert list(df["rank"]) == [1, 2, 3, 4, 5]
    assert all(lite0.class_names[i] == n for i, n in zip(df["class_index"], df["name"]))
    assert (np.diff(df["probability"]) <= 0).all() and df["probability"].sum() <= 1 + 1e-6
    logits = lite0.logits(lite0.preprocess(img).unsqueeze(0))[0]
    assert int(df["class_index"][0]) == int(logits.argmax())
    assert lite0.classify(img, k=2) == [(n, p) for n, p in zip(df["name"][:2], df["probability"][:2])]


def test_to_display_undoes_the_normalisation_of_preprocess(lite0):
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 260, 3), dtype=np.uint8))
    x = lite0.preprocess(img)
    one, batch = lite0.to_display(x), lite0.to_display(torch.stack([x, x]))
    assert one.dtype == np.uint8 and one.shape == (224, 224, 3)
    assert batch.shape == (2, 224, 224, 3) and np.array_equal(batch[1], one)
    back = (torch.as_tensor(one).permute(2, 0, 1).float() / 255 - torch.tensor(lite0.mean)[:, None, None]) \
        / torch.tensor(lite0.std)[:, None, None]
    assert float((back - x).abs().max()) < 0.02  # equal up to the uint8 rounding
