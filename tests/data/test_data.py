import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.data.datasets import open_csv, open_dataset, open_fashion_mnist, open_folder
from analysis.data.images import load_image
from analysis.errors import LayerScopeError


def _rgb(path, colour=(200, 30, 30), size=(40, 30)):
    Image.new("RGB", size, colour).save(path)


@pytest.fixture()
def messy_folder(tmp_path):
    """A class folder per awkward case the loader must survive."""
    root = tmp_path / "messy"
    for c in ("red", "blue", "empty"):
        (root / c).mkdir(parents=True)
    _rgb(root / "red" / "ok.png")
    Image.new("CMYK", (30, 30), (0, 255, 255, 0)).save(root / "red" / "cmyk.jpg")
    Image.new("RGBA", (30, 30), (255, 0, 0, 128)).save(root / "red" / "rgba.png")
    Image.fromarray(np.full((30, 30), 40000, np.uint16)).save(root / "blue" / "sixteen.png")
    Image.new("L", (30, 30), 90).save(root / "blue" / "gray.png")
    _rgb(root / "blue" / "b.jpg", (20, 20, 220))
    (root / "blue" / "notes.txt").write_text("not an image")
    (root / "blue" / "fake.jpg").write_bytes(b"this is text pretending to be a jpeg")
    _rgb(root / "blue" / "whole.jpg", (20, 20, 220), size=(400, 400))
    data = (root / "blue" / "whole.jpg").read_bytes()
    (root / "blue" / "truncated.jpg").write_bytes(data[: len(data) // 3])
    _rgb(root / "stray.png")
    return root


def test_folder_lists_images_per_class_and_reports_the_rest(messy_folder):
    ds = open_folder(messy_folder)
    assert set(ds.labels["label"]) == {"red", "blue"}
    reasons = {p.path.split("/")[-1]: p.reason for p in ds.problems}
    assert "not an image" in reasons["notes.txt"] and "outside a class" in reasons["stray.png"]
    assert any("empty" in w for w in ds.warnings)


@pytest.mark.parametrize("name", ["cmyk.jpg", "rgba.png", "sixteen.png", "gray.png", "ok.png"])
def test_awkward_modes_load_as_8bit_rgb(messy_folder, name):
    path = next(messy_folder.rglob(name))
    img = load_image(path)
    assert img.mode == "RGB"


def test_sixteen_bit_is_scaled_not_clipped(messy_folder):
    a = np.asarray(load_image(next(messy_folder.rglob("sixteen.png"))))
    assert a.max() < 255 or a.min() == 0  # constant image maps to one value, never all-white clipping


def test_unreadable_files_raise_a_message_naming_the_file(messy_folder):
    for name in ("fake.jpg", "truncated.jpg"):
        with pytest.raises(LayerScopeError, match=name):
            load_image(next(messy_folder.rglob(name)))


def test_huge_image_is_refused_with_advice(tmp_path):
    p = tmp_path / "huge.png"
    Image.new("1", (20000, 10000)).save(p)
    with pytest.raises(LayerScopeError, match="too large|Downscale|downscale"):
        load_image(p)


def test_csv_with_two_label_columns_and_missing_paths(tmp_path):
    _rgb(tmp_path / "a.png")
    _rgb(tmp_path / "b.png", (0, 0, 255))
    pd.DataFrame({"path": ["a.png", "b.png", "gone.png"], "colour": ["red", "blue", "red"],
                  "pattern": ["plain", "plain", "stripes"]}).to_csv(tmp_path / "labels.csv", index=False)
    ds = open_csv(tmp_path / "labels.csv")
    assert ds.label_columns == ["colour", "pattern"] and len(ds) == 2
    assert any("gone.png" in p.path and "missing" in p.reason for p in ds.problems)
    assert any("single class" in w for w in ds.warnings)  # pattern has only 'plain' left


def test_csv_without_path_column_is_explained(tmp_path):
    pd.DataFrame({"x": [1], "y": [2]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(LayerScopeError, match="path column"):
        open_csv(tmp_path / "t.csv")


def test_empty_folder_and_unknown_spec_are_explained(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(LayerScopeError, match="No usable images"):
        open_folder(tmp_path)
    with pytest.raises(LayerScopeError, match="not a dataset"):
        open_dataset(str(tmp_path / "nope"))


def test_content_hash_changes_when_an_image_changes(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        _rgb(tmp_path / c / "x.png")
    h1 = open_folder(tmp_path).content_hash()
    _rgb(tmp_path / "a" / "x.png", (1, 2, 3))
    assert open_folder(tmp_path).content_hash() != h1


def test_builtin_garments_are_generated_once_and_reused(small_garments):
    from analysis.data.datasets import open_dataset

    again = open_dataset("garments:n=40,size=128,seed=3")
    assert again.paths == small_garments.paths
    assert set(small_garments.label_columns) >= {"colour", "pattern"}
    counts = small_garments.class_counts("colour")
    assert counts.sum() == 40 and len(counts) == 10 and counts.min() >= 2


def test_fashion_mnist_reads_idx_files(tmp_path):
    import gzip
    import struct

    imgs = np.random.default_rng(0).integers(0, 255, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 1, 0], np.uint8)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBBIII", 0, 8, 3, 5, 28, 28) + imgs.tobytes())
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBBI", 0, 8, 1, 5) + labels.tobytes())
    ds = open_fashion_mnist(tmp_path, n=5)
    assert len(ds) == 5 and list(ds.labels["label"][:3]) == ["T-shirt/top", "Trouser", "Pullover"]
    assert np.array_equal(np.asarray(Image.open(ds.paths[0])), imgs[0])
