"""The cached block report: same numbers as block_report, found again on disk, shown as text tables."""
import numpy as np
import pandas as pd
import pytest

from analysis.errors import LayerScopeError
from analysis.probes.reduction import reduce
from analysis.probes.report import block_report
from analysis.probes.report_store import (
    best_mask,
    cached_block_report,
    cluster_space,
    long_table,
    report_from_json,
    report_to_json,
    resolved_params,
    summary_table,
)

FAST = {"reducer": "pca", "n_components": 3, "n_queries": 30, "n_boot": 50, "n_boot_clustering": 20}


@pytest.fixture(scope="module", autouse=True)
def fresh_results_cache(small_store, tmp_path_factory):
    """Results go to an empty cache (descriptors stay where they are), so 'computed' is observable."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LAYERSCOPE_CACHE", str(tmp_path_factory.mktemp("results")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def cached(small_store):
    ticks = []
    r = cached_block_report(small_store, "pattern", progress=lambda d, t, m="": ticks.append(m), **FAST)
    return r, ticks


def test_cached_report_equals_a_direct_block_report(small_store, cached):
    r, ticks = cached
    assert ticks and ticks[-1] == "report done"  # computed, not read
    direct = block_report(small_store.block_arrays(), small_store.labels["pattern"].to_numpy(), label="pattern", **FAST)
    pd.testing.assert_frame_equal(r.table, direct.table, check_dtype=False)
    assert r.best == direct.best and r.recommendation == direct.recommendation
    assert r.fold_message == direct.fold_message and "2 folds are used" in r.fold_message  # tiny classes


def test_second_call_is_read_from_disk_without_computing(small_store, cached):
    ticks = []
    again = cached_block_report(small_store, "pattern", progress=lambda d, t, m="": ticks.append(m), **FAST)
    assert ticks == [] and again.recommendation == cached[0].recommendation
    other = cached_block_report(small_store, "pattern", progress=lambda d, t, m="": ticks.append(m), **{**FAST, "n_boot": 60})
    assert ticks and other.table["knn"].equals(cached[0].table["knn"])  # new setting -> computed anew


def test_json_round_trip_keeps_nan_and_types(cached):
    r, _ = cached
    back = report_from_json(report_to_json(r))
    pd.testing.assert_frame_equal(back.table, r.table, check_dtype=False)
    assert back.table["linear"].isna().all() and not pd.api.types.is_numeric_dtype(back.table["knn_metric"])
    assert back.params == r.params and back.best == r.best


def test_cluster_space_is_the_reduction_the_report_clusters(small_store):
    E = cluster_space(small_store, 2, "pca", 3)
    X = small_store.descriptors(2)
    np.testing.assert_allclose(E, reduce(X, "pca", 3, min_dist=0.0, random_state=0))
    np.testing.assert_array_equal(cluster_space(small_store, 2, "pca", 3), E)


def test_text_table_intervals_and_best_mask(cached):
    r, _ = cached
    t = summary_table(r)
    assert list(t.index) == [f"block {i}" for i in range(1, 6)]
    assert t["kNN"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    assert "linear probe" not in t and t["silhouette"].str.match(r"^(-?\d\.\d{3}|—)$").all()  # no interval
    mask = best_mask(r, t)
    assert mask["kNN"].sum() == 1 and mask.loc[r.best["knn"], "kNN"]
    assert not mask["kNN setting"].any()
    long = long_table([r, r])
    assert len(long) == 10 and set(long["label_column"]) == {"pattern"} and "best_for" in long


def test_bad_settings_and_labels_raise(small_store):
    with pytest.raises(LayerScopeError, match="speed"):
        resolved_params(speed=3)
    with pytest.raises(LayerScopeError, match="no label column 'size'"):
        cached_block_report(small_store, "size")
    assert resolved_params(ks=(4, 1))["ks"] == [4, 1]


def test_changing_only_the_recommending_score_recomputes_nothing(small_store, cached):
    """`primary` picks the recommended block from the same numbers: a display setting."""
    ticks = []
    r = cached_block_report(small_store, "pattern", progress=lambda d, t, m="": ticks.append(m),
                            **{**FAST, "primary": "prototype_euclidean"})
    assert ticks == []  # read from disk
    direct = block_report(small_store.block_arrays(), small_store.labels["pattern"].to_numpy(), label="pattern",
                          **{**FAST, "primary": "prototype_euclidean"})
    pd.testing.assert_frame_equal(r.table, cached[0].table)
    assert (r.recommended_block, r.recommendation, r.best) == (direct.recommended_block, direct.recommendation,
                                                                direct.best)
    assert r.params["primary"] == "prototype_euclidean" and cached[0].params["primary"] == "knn"
