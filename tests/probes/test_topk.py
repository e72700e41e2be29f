"""The compiled k-smallest selection (analysis/probes/topk.py) against NumPy's lexicographic order."""
import numpy as np
import pytest

import analysis.probes.neighbours as nb
from analysis.probes.topk import lex_topk_rows


def lexicographic(D: np.ndarray, k: int) -> np.ndarray:
    """Reference: per row, a full stable sort by (value, index), NaN last."""
    return np.argsort(D, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_topk_equals_a_stable_full_sort_with_many_ties(dtype):
    rng = np.random.default_rng(0)
    D = rng.integers(0, 6, (300, 500)).astype(dtype)  # every k-th place is a tie
    for k in (1, 5, 17, 64, 500):
        np.testing.assert_array_equal(lex_topk_rows(D, k), lexicographic(D, k), err_msg=f"k={k}")


def test_compiled_topk_puts_nan_last_by_index():
    D = np.array([[np.nan, 3.0, np.nan, 1.0], [np.nan, np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(lex_topk_rows(D, 4), [[3, 1, 0, 2], [0, 1, 2, 3]])


def test_lex_topk_takes_the_compiled_path_for_large_blocks_with_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    D = np.round(rng.random((200, 3000)), 3).astype(np.float32)  # continuous, with some ties
    numpy_answer = nb.lex_topk(D, 33)  # 600 000 entries: below the compiled threshold
    calls = []
    monkeypatch.setattr(nb, "_COMPILED_MIN_SIZE", 1)
    import analysis.probes.topk as topk

    real = topk.lex_topk_rows
    monkeypatch.setattr(topk, "lex_topk_rows", lambda *a: calls.append(1) or real(*a))
    np.testing.assert_array_equal(nb.lex_topk(D, 33), numpy_answer)
    assert calls
