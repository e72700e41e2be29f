"""Parallel decode gives exactly the model's own preprocessing, batched; JPEGs decode reduced."""
import numpy as np
import torch
from PIL import Image

from analysis.data.decode import BatchDecoder
from analysis.data.images import load_image


def test_batches_equal_the_models_per_image_preprocess(lite0, small_garments):
    paths = small_garments.paths[:7]
    got = list(BatchDecoder(lite0, workers=3).batches(paths, start=2, batch_size=3))
    assert [s for s, _, _ in got] == [2, 5]
    for s, x, errs in got:
        ref = torch.stack([lite0.preprocess(load_image(p)) for p in paths[s:s + 3]])
        assert errs == [None] * len(ref) and x.shape == ref.shape
        assert torch.equal(x, ref)  # same float operations, batched: identical values


def test_unreadable_files_are_reported_by_row_and_the_rest_decoded(lite0, small_garments, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    paths = [small_garments.paths[0], str(bad), small_garments.paths[1]]
    (_, x, errs), = BatchDecoder(lite0).batches(paths, 0, 8)
    assert errs[0] is None and errs[2] is None and "broken.png" in errs[1]
    assert torch.equal(x[2], lite0.preprocess(load_image(paths[2])))


def test_big_jpegs_are_decoded_at_reduced_scale_but_never_below_the_resize_side(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 255, (1600, 2400, 3), dtype=np.uint8)).save(f, quality=90)
    full = load_image(f, max_side=None)
    small = load_image(f, max_side=None, min_side=256)
    assert full.size == (2400, 1600)
    assert min(small.size) >= 256 and small.size[0] < full.size[0]  # DCT-scaled decode (1/4 here)
