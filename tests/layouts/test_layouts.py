"""Seeded 2-D UMAP per block, alignment across blocks, and the degenerate-input fallbacks.

UMAP runs are tiny (<= 150 points); the aligned maps are computed once per module."""
import numpy as np
import pytest

from analysis.errors import LayerScopeError
from analysis.layouts.umap_maps import (
    aligned_umaps,
    normalise_map,
    pca_2d,
    procrustes_align,
    umap_2d,
    warm_up,
)


def three_clusters(n=150, d=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.normal(size=(3, d)) * 6
    X = centres[y] + rng.normal(size=(n, d))
    return np.maximum(X, 0).astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    return three_clusters()


@pytest.fixture(scope="module")
def maps(data):
    X, _ = data
    rng = np.random.default_rng(1)
    other = np.sqrt(X @ np.abs(rng.normal(size=(16, 24))).astype(np.float32))  # a related block
    return aligned_umaps({"block 1": X, "block 2": X, "block 3": other}, random_state=0)


def test_warm_up_compiles_and_reports_seconds():
    assert warm_up() > 0


def test_aligned_maps_cover_every_block_normalised(maps, data):
    X, _ = data
    assert list(maps) == ["block 1", "block 2", "block 3"]
    for name, coords in maps.items():
        assert coords.shape == (len(X), 2) and coords.dtype == np.float32
        assert np.allclose(coords.mean(axis=0), 0, atol=1e-4)
        assert np.sqrt((coords.astype(np.float64) ** 2).sum(axis=1).mean()) == pytest.approx(1, abs=1e-4)
        assert maps.methods[name] == "umap"
    assert maps.residuals["block 1"] is None and maps.seconds > 0


def test_identical_consecutive_blocks_give_nearly_the_same_map(maps):
    assert maps.residuals["block 2"] < 0.25
    _, resid = procrustes_align(maps["block 1"], maps["block 2"])
    assert resid == pytest.approx(maps.residuals["block 2"], abs=1e-4)  # already aligned


def test_a_related_block_keeps_the_picture_roughly_in_place(maps):
    assert maps.residuals["block 3"] < 0.6


def test_umap_map_separates_clusters(maps, data):
    from sklearn.neighbors import KNeighborsClassifier

    _, y = data
    acc = KNeighborsClassifier(5).fit(maps["block 1"], y).score(maps["block 1"], y)
    assert acc > 0.95


def test_umap_2d_is_deterministic_for_a_seed(data):
    X, _ = data
    a = umap_2d(X[:80], random_state=3, n_epochs=50)
    b = umap_2d(X[:80], random_state=3, n_epochs=50)
    assert np.array_equal(a.coords, b.coords) and a.method == "umap"


def test_independent_maps_of_identical_blocks_align_exactly(data):
    X, _ = data
    m = aligned_umaps({"a": X[:60], "b": X[:60]}, chain_init=False, n_epochs=50)
    assert m.residuals["b"] < 1e-8
    assert np.allclose(m["a"], m["b"], atol=1e-5)


def test_procrustes_recovers_rotation_reflection_and_scale():
    rng = np.random.default_rng(0)
    ref = normalise_map(rng.normal(size=(40, 2)))
    theta = 1.1
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) @ np.diag([1, -1])
    emb = ref @ R * 3.5 + np.array([4.0, -2.0])
    aligned, resid = procrustes_align(ref, emb)
    assert resid < 1e-10
    assert np.allclose(aligned, ref, atol=1e-5)
    _, unrelated = procrustes_align(ref, rng.normal(size=(40, 2)))
    assert unrelated > 0.5
    with pytest.raises(LayerScopeError):
        procrustes_align(ref, ref[:10])


@pytest.mark.parametrize("n, method", [(1, "single"), (2, "pca"), (3, "pca"), (7, "pca")])
def test_tiny_sets_fall_back_with_a_note(data, n, method):
    X, _ = data
    m = umap_2d(X[:n])
    assert m.method == method and m.coords.shape == (n, 2) and np.isfinite(m.coords).all()
    assert m.notes


def test_n_neighbors_larger_than_the_set_is_clamped(data):
    X, _ = data
    m = umap_2d(X[:12], n_neighbors=30, n_epochs=30)
    assert m.method == "umap" and m.n_neighbors == 11
    assert any("clamped" in note for note in m.notes)


def test_duplicates_and_identical_descriptors(data):
    X, _ = data
    dup = np.repeat(X[:10], 6, axis=0)
    m = umap_2d(dup, n_epochs=30)
    assert m.method == "umap" and np.isfinite(m.coords).all()
    assert any("duplicate" in note for note in m.notes)
    same = umap_2d(np.repeat(X[:1], 20, axis=0))
    assert same.method == "constant" and not same.coords.any()
    few = umap_2d(np.repeat(X[:4], 5, axis=0))  # 20 rows, 4 distinct
    assert few.method == "pca" and np.isfinite(few.coords).all()
    # A constant block in the middle of a chain does not break the alignment.
    m = aligned_umaps({"a": X[:40], "b": np.zeros((40, 5), np.float32), "c": X[:40]}, n_epochs=30)
    assert m.methods == {"a": "umap", "b": "constant", "c": "umap"}
    assert all(np.isfinite(c).all() for c in m.values())


def test_read_only_memmap_is_not_written(tmp_path, data):
    X, _ = data
    path = tmp_path / "block.npy"
    np.save(path, X[:50])
    Xm = np.load(path, mmap_mode="r")
    m = umap_2d(Xm, metric="cosine", n_epochs=30)
    assert m.method == "umap"
    assert np.array_equal(np.load(path), X[:50])


@pytest.mark.parametrize(
    "X, kwargs",
    [
        (np.zeros(5), {}),
        (np.zeros((0, 3)), {}),
        (np.array([[np.nan, 1.0]] * 10), {}),
        (np.ones((10, 3)), {"metric": "hamming-ish"}),
        (np.ones((10, 3)), {"n_neighbors": 1}),
        (np.ones((10, 3)), {"min_dist": 2.0}),
        (np.ones((10, 3)), {"random_state": None}),
        (np.ones((10, 3)), {"init": np.zeros((9, 2))}),
    ],
)
def test_bad_inputs_raise_layerscope_errors(X, kwargs):
    with pytest.raises(LayerScopeError):
        umap_2d(X, **kwargs)


def test_aligned_umaps_rejects_blocks_of_different_images():
    with pytest.raises(LayerScopeError):
        aligned_umaps({"a": np.ones((10, 3)), "b": np.ones((11, 3))})
    with pytest.raises(LayerScopeError):
        aligned_umaps({})


def test_pca_fallback_is_deterministic_and_two_dimensional():
    X = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    p = pca_2d(X)
    assert p.shape == (2, 2) and np.allclose(p[:, 1], 0)
    assert np.array_equal(p, pca_2d(X))


def test_undefined_correlation_distances_do_not_break_the_map(data):
    X, _ = data
    Xz = X[:60].copy()
    Xz[:3] = 0.0  # correlation distance of an all-zero row is 0/0
    m = umap_2d(Xz, metric="correlation", n_epochs=30)
    assert m.method == "umap" and np.isfinite(m.coords).all()
    assert any("undefined correlation" in note for note in m.notes)


def test_aligned_umaps_reports_progress_per_block(data):
    X, _ = data
    calls = []
    aligned_umaps({"a": X[:40], "b": X[:40]}, n_epochs=20, progress=lambda d, n, name: calls.append((d, n, name)))
    assert calls == [(1, 2, "a"), (2, 2, "b")]
