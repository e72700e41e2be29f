"""Neighbour indexes: exact = today's sklearn-equal search; IVF-PQ finds the exact neighbours on
clustered data; persisted next to the descriptors, reloaded, rebuilt when the descriptors change."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.descriptors import index as idx_mod
from analysis.descriptors.index import build_index, choose_kind, load_index, save_index, store_index
from analysis.descriptors.store import Store
from analysis.errors import LayerScopeError
from analysis.probes.neighbours import nearest


def clustered(n: int, d: int = 32, centres: int = 40, seed: int = 0) -> np.ndarray:
    """Like block descriptors: clusters varying in a low-dimensional subspace plus a little noise."""
    structure = np.random.default_rng(0)  # the same clusters for every seed
    C = structure.standard_normal((centres, d)) * 3
    B = structure.standard_normal((centres, 4, d))
    rng = np.random.default_rng(seed)
    c = rng.integers(0, centres, n)
    X = C[c] + np.einsum("ns,nsd->nd", rng.standard_normal((n, 4)), B[c]) + 0.1 * rng.standard_normal((n, d))
    return X.astype(np.float32)


def recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


def test_auto_kind_is_exact_for_small_and_ivfpq_for_large_memories():
    assert choose_kind(1000) == "exact"
    assert choose_kind(idx_mod.EXACT_MAX + 1) == "ivfpq"
    with pytest.raises(LayerScopeError):
        choose_kind(10, "annoy")


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_index_equals_the_sklearn_equal_search(metric):
    X = clustered(600)
    vi = build_index(X, metric)
    assert vi.kind == "exact"
    i1, d1 = vi.search(X[:50], 7)
    i2, d2 = nearest(X[:50], X, 7, metric)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ivfpq_with_reranking_finds_the_exact_neighbours(metric):
    X = clustered(3000)
    Q = clustered(100, seed=1)
    vi = build_index(X, metric, "ivfpq", params={"nlist": 16, "nprobe": 4, "m": 8, "train_size": 3000})
    got, dist = vi.search(Q, 10)
    want, wdist = nearest(Q, X, 10, metric)
    assert recall(got, want) >= 0.95
    # re-ranked distances are exact distances of the returned rows, in increasing order
    assert np.all(np.diff(dist, axis=1) >= 0)
    hit = got == want
    np.testing.assert_allclose(dist[hit], wdist[hit], rtol=1e-5, atol=1e-6)
    assert vi.index_bytes < X.nbytes  # codes, not a copy of the vectors


def test_hnsw_index_finds_the_exact_neighbours():
    X = clustered(3000)
    vi = build_index(X, "euclidean", "hnsw")
    got, _ = vi.search(X[:100], 5)
    assert recall(got, nearest(X[:100], X, 5)[0]) >= 0.95


@pytest.mark.parametrize("kind", ["exact", "ivfpq"])
def test_a_memory_of_some_rows_returns_only_those_rows_and_honours_exclude(kind):
    X = clustered(2000)
    rows = np.arange(0, 2000, 2)
    vi = build_index(X, "euclidean", kind, rows=rows, params={"nlist": 16, "nprobe": 16, "m": 8})
    got, _ = vi.search(X[:20], 5)
    assert np.isin(got, rows).all()
    assert (got[::2, 0] == np.arange(0, 20, 2)).all()  # a memory row is its own nearest neighbour
    got, _ = vi.search(X[:20], 5, exclude=np.arange(20))
    assert not (got == np.arange(20)[:, None]).any()
    assert vi.n == len(rows)


def test_index_errors_are_user_errors():
    X = clustered(100)
    with pytest.raises(LayerScopeError, match="at least"):
        build_index(X, "euclidean", "ivfpq", params={"nlist": 256})
    vi = build_index(X)
    with pytest.raises(LayerScopeError, match="neighbours"):
        vi.search(X[:2], 101)
    with pytest.raises(LayerScopeError, match="queries"):
        vi.search(X[:2, :5], 3)


def fake_store(tmp_path, X: np.ndarray, sha: str = "abc") -> Store:
    path = tmp_path / "model__data__0123456789abcdef"
    path.mkdir(exist_ok=True)
    np.save(path / "block_1.npy", X)
    manifest = {"n": len(X), "blocks": [{"index": 1, "module": "m", "channels": X.shape[1], "stride": 1}],
                "arrays": [{"file": "block_1.npy", "sha256": sha}], "labels": {}, "paths": []}
    return Store(path, manifest)


def test_store_index_is_built_once_saved_next_to_the_descriptors_and_reloaded(tmp_path, monkeypatch):
    X = clustered(1500)
    store = fake_store(tmp_path, X)
    p = {"nlist": 16, "nprobe": 8, "m": 8}
    vi = store_index(store, 1, kind="ivfpq", params=p)
    files = sorted((store.path / "index").glob("*.faiss"))
    assert len(files) == 1
    first, _ = vi.search(X[:30], 5)

    def no_build(*a, **k):
        raise AssertionError("rebuilt although a saved index exists")

    monkeypatch.setattr(idx_mod, "build_index", no_build)
    again = store_index(store, 1, kind="ivfpq", params=p)
    np.testing.assert_array_equal(again.search(X[:30], 5)[0], first)
    monkeypatch.undo()
    # changed descriptors (another checksum) -> another key -> a new index, the old one never read
    store2 = fake_store(tmp_path, X, sha="def")
    store_index(store2, 1, kind="ivfpq", params=p)
    assert len(list((store.path / "index").glob("*.faiss"))) == 2


def test_a_damaged_or_mismatched_index_file_is_not_used(tmp_path):
    X = clustered(1000)
    vi = build_index(X, "euclidean", "ivfpq", params={"nlist": 16, "m": 8})
    path = tmp_path / "i.faiss"
    save_index(vi, path)
    assert load_index(path, X) is not None
    assert load_index(path, X[:500]) is None  # other memory size
    path.write_bytes(b"not an index")
    assert load_index(path, X) is None
