"""Thumbnails of dataset images for the layout pages."""
import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.thumbnails import thumbnails


def test_thumbnails_are_square_crops_and_unreadable_files_are_grey(tmp_path):
    a = np.zeros((40, 80, 3), np.uint8)
    a[:, 20:60] = (255, 0, 0)  # the centre square is red, the sides black
    Image.fromarray(a).save(tmp_path / "wide.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    calls = []
    t = thumbnails([str(tmp_path / "wide.png"), str(tmp_path / "broken.png")], size=16,
                   progress=lambda d, n, note="": calls.append((d, n)))
    assert t.shape == (2, 16, 16, 3) and t.dtype == np.uint8
    assert (t[0, :, :, 0] > 200).all() and (t[0, :, :, 1] < 50).all()  # only the red centre kept
    assert (t[1] == 128).all()
    assert calls == [(2, 2)]
    with pytest.raises(LayerScopeError):
        thumbnails([], size=2)
