"""Embedding a new image gives the same vector as the cached descriptor of that image."""
import io

import numpy as np
import pytest
from PIL import Image

from analysis.data.images import image_from_bytes, load_image
from analysis.descriptors.embed import embed_image, embed_images
from analysis.errors import LayerScopeError


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embedded_dataset_image_equals_its_cached_descriptor(lite0, small_store):
    for row in (0, 7):
        vecs = embed_image(lite0, load_image(small_store.paths[row]))
        assert sorted(vecs) == [b.index for b in small_store.blocks]
        for b in small_store.blocks:
            cached = np.asarray(small_store.descriptors(b.index)[row])
            assert vecs[b.index].shape == (b.channels,) and vecs[b.index].dtype == np.float32
            assert cosine(vecs[b.index], cached) >= 0.999, (row, b.name)


def test_nearest_cached_row_of_an_embedded_image_is_that_image(lite0, small_store):
    row = 11
    vecs = embed_image(lite0, load_image(small_store.paths[row]))
    X = np.asarray(small_store.descriptors(5))
    assert int(np.argmin(np.linalg.norm(X - vecs[5], axis=1))) == row


def test_uploaded_bytes_decode_like_files(lite0, small_store):
    data = open(small_store.paths[3], "rb").read()
    img = image_from_bytes(data, "shirt.png")
    assert img.mode == "RGB"
    a, b = embed_image(lite0, img)[3], np.asarray(small_store.descriptors(3)[3])
    assert cosine(a, b) >= 0.999
    # An RGBA upload is composited (no crash), batches give one row per image.
    buf = io.BytesIO()
    Image.new("RGBA", (50, 40), (255, 0, 0, 128)).save(buf, "PNG")
    batch = embed_images(lite0, [img, image_from_bytes(buf.getvalue(), "x.png")])
    assert batch[1].shape == (2, small_store.blocks[0].channels)


def test_bad_upload_names_the_file():
    with pytest.raises(LayerScopeError, match="notes.txt"):
        image_from_bytes(b"this is not an image", "notes.txt")
    with pytest.raises(LayerScopeError):
        embed_images(None, [])
