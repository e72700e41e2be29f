"""reduction.reduce: UMAP on an exact kNN graph at every size."""
import numpy as np

import analysis.probes.reduction as red


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 12)) * 6
    return (centres[rng.integers(0, 4, n)] + rng.normal(size=(n, 12))).astype(np.float32)


def test_large_sets_get_an_exact_graph_and_small_sets_keep_umaps_own(monkeypatch):
    seen = []
    real = red.fit_umap
    monkeypatch.setattr(red, "fit_umap", lambda X, d, **kw: seen.append(kw["exact_knn_max_n"]) or real(X, d, **kw))
    monkeypatch.setattr(red, "UMAP_SMALL_DATA", 100)
    X = _blobs(150)
    red.reduce(X[:80], "umap", 3, random_state=0)
    E = red.reduce(X, "umap", 3, random_state=0)
    assert seen[0] == 0 and seen[1] >= len(X)  # below the threshold UMAP computes its own (exact) graph
    assert E.shape == (150, 3) and np.isfinite(E).all()
    np.testing.assert_array_equal(E, red.reduce(X, "umap", 3, random_state=0))  # seeded: deterministic


def test_the_exact_graph_is_the_brute_force_neighbours():
    X = _blobs(120, seed=1)
    idx, dist, _ = red._exact_knn(X, 6, "euclidean", None)
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(np.argsort(D, axis=1)[:, :6], axis=1))
    np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :6], rtol=1e-4, atol=1e-4)
