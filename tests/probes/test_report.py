"""The block report: every number equals the underlying analysis, best block, CI, progress."""
import numpy as np
import pandas as pd
import pytest

from analysis.errors import LayerScopeError
from analysis.probes.classifiers import knn_cv, prototype_cv
from analysis.probes.clustering import cluster_block
from analysis.probes.folds import plan_folds
from analysis.probes.report import SCORES, block_report
from analysis.probes.retrieval import precision_at_k


def blocks_and_labels(seed=0, n=150):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["yellow", "blue", "red"]), n // 3)
    codes = np.unique(y, return_inverse=True)[1]
    blocks = {}
    for i, (d, spread) in enumerate([(8, 0.3), (16, 3.0), (32, 1.0)], start=1):
        centres = rng.standard_normal((3, d)) * spread
        blocks[f"block {i}"] = (centres[codes] + rng.standard_normal((n, d))).astype(np.float32)
    return blocks, y


@pytest.fixture(scope="module")
def report():
    blocks, y = blocks_and_labels()
    ticks = []
    r = block_report(blocks, y, label="colour", reducer="pca", n_components=3, n_queries=60, n_boot=200,
                     n_boot_clustering=50, random_state=0, progress=lambda d, t, m="": ticks.append((d / t, m)))
    return blocks, y, r, ticks


def test_table_values_equal_the_single_analyses(report):
    blocks, y, r, _ = report
    plan = plan_folds(y, random_state=0)
    X = blocks["block 3"]
    row = r.table.loc["block 3"]
    best = knn_cv(X, y, plan=plan).best
    assert row["knn"] == pytest.approx(best.mean) and row["knn_k"] == best.params["k"]
    assert row["prototype_cosine"] == pytest.approx(prototype_cv(X, y, "cosine", plan=plan).mean)
    assert row["precision"] == pytest.approx(precision_at_k(X, y, 10, n_queries=60, random_state=0).mean)
    c = cluster_block(X, y, reducer="pca", n_components=3, random_state=0)
    assert row["ari"] == pytest.approx(c.ari) and row["ami"] == pytest.approx(c.ami)


def test_intervals_bracket_the_estimates(report):
    _, _, r, _ = report
    for col in ("knn", "prototype_euclidean", "precision", "ari"):
        t = r.table
        assert (t[f"{col}_low"] <= t[col] + 1e-9).all() and (t[col] <= t[f"{col}_high"] + 1e-9).all(), col
    assert r.table["linear"].isna().all()  # not asked for


def test_best_block_and_recommendation(report):
    _, _, r, _ = report
    assert r.recommended_block == "block 2" and r.best["knn"] == "block 2"
    assert set(r.best) == set(SCORES) - {"linear"}
    assert r.recommendation.startswith("for `colour` use block 2: kNN ")
    assert "±" in r.recommendation and "ARI" in r.recommendation
    assert list(r.table.index) == ["block 1", "block 2", "block 3"]


def test_progress_goes_from_zero_to_one_and_names_blocks(report):
    _, _, _, ticks = report
    fractions = [f for f, _ in ticks]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any("block 3" in m for _, m in ticks)


def test_cancel_by_raising_from_progress():
    blocks, y = blocks_and_labels(1)
    calls = []

    def cancel_on_third(done, total, message=""):
        calls.append(message)
        if len(calls) == 3:
            raise InterruptedError("stop")

    with pytest.raises(InterruptedError):
        block_report(blocks, y, reducer="pca", progress=cancel_on_third)
    assert len(calls) == 3


def test_linear_probe_and_small_class_message():
    blocks, y = blocks_and_labels(2, n=60)
    y = y.copy()
    y[:2] = ["tiny", "tiny"]  # 2 images: folds drop to 2
    r = block_report({"block 1": blocks["block 1"], "block 2": blocks["block 2"]}, y, linear=True,
                     clustering=False, n_queries=20, n_boot=50, primary="linear")
    assert r.table["linear"].notna().all() and r.table["ari"].isna().all()
    assert "2 folds" in r.fold_message and r.params["n_splits"] == 2
    assert r.recommendation.split(": ")[1].startswith("linear probe")


def test_bad_inputs_raise():
    blocks, y = blocks_and_labels(3, n=30)
    with pytest.raises(LayerScopeError):
        block_report({}, y)
    bad = dict(blocks)
    bad["block 2"] = bad["block 2"].copy()
    bad["block 2"][4] = np.nan
    with pytest.raises(LayerScopeError, match="block 2.*rows 4"):
        block_report(bad, y, clustering=False)
    with pytest.raises(LayerScopeError, match="primary"):
        block_report(blocks, y, primary="speed")


def test_report_numbers_are_the_same_with_the_exact_knn_path(monkeypatch):
    """knn_sets' screened euclidean path (d >= 128, >= 256 training rows) changes no number of the report."""
    import analysis.probes.neighbours as nb

    rng = np.random.default_rng(4)
    n = 420
    y = np.repeat(np.array(["yellow", "blue", "red"]), n // 3)
    codes = np.unique(y, return_inverse=True)[1]
    blocks = {f"block {i}": np.maximum(rng.standard_normal((3, d))[codes] * s + rng.standard_normal((n, d)), 0)
              .astype(np.float32) for i, (d, s) in enumerate([(8, 0.5), (48, 0.4), (160, 0.3)], start=1)}
    kw = dict(label="colour", reducer="pca", n_components=3, n_queries=60, n_boot=100, n_boot_clustering=20,
              random_state=0)
    calls = []
    screen_sets = nb._EuclideanScreen.sets
    monkeypatch.setattr(nb._EuclideanScreen, "sets", lambda self, *a: calls.append(1) or screen_sets(self, *a))
    fast = block_report(blocks, y, **kw)
    assert calls  # the screen ran on the wider blocks
    screened = len(calls)
    monkeypatch.setattr(nb, "_SCREEN_MIN_MEMORY", 10**9)  # every block on the exact per-metric path
    exact = block_report(blocks, y, **kw)
    assert len(calls) == screened
    pd.testing.assert_frame_equal(fast.table, exact.table, check_exact=True)
    assert fast.recommendation == exact.recommendation
