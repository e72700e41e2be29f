import numpy as np

from analysis.descriptors.results_cache import cached_arrays, cached_json, result_path


def test_arrays_are_computed_once_and_reloaded():
    calls = []

    def compute():
        calls.append(1)
        return {"emb": np.arange(6, dtype=np.float32).reshape(3, 2)}

    parts = {"t": "arrays-once", "v": 1}
    a = cached_arrays("test", parts, compute)
    b = cached_arrays("test", parts, compute)
    assert len(calls) == 1 and np.array_equal(a["emb"], b["emb"])


def test_damaged_result_is_recomputed():
    parts = {"t": "damaged"}
    cached_arrays("test", parts, lambda: {"x": np.ones(3)})
    result_path("test", parts, ".npz").write_bytes(b"garbage")
    assert np.array_equal(cached_arrays("test", parts, lambda: {"x": np.zeros(3)})["x"], np.zeros(3))


def test_json_results_depend_on_every_part():
    assert cached_json("test", {"a": 1}, lambda: {"v": 1}) == {"v": 1}
    assert cached_json("test", {"a": 2}, lambda: {"v": 2}) == {"v": 2}
    assert cached_json("test", {"a": 1}, lambda: {"v": 3}) == {"v": 1}
