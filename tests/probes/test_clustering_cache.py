"""The Clustering page's HDBSCAN runs on disk: same numbers as cluster_block, read back without computing."""
import numpy as np
import pytest

from analysis.probes import clustering
from analysis.probes.chance import agreement_intervals
from analysis.probes.report_store import cached_clustering, cluster_space
from tests.apptest_util import ensure_small_store


def test_cached_clustering_equals_the_direct_run_and_is_read_back(monkeypatch):
    store = ensure_small_store()
    c = cached_clustering(store, 2, "pattern", reducer="pca", n_components=3, random_state=0)
    E = cluster_space(store, 2, "pca", 3, 15, 0)
    r = clustering.cluster_block(store.descriptors(2), store.labels["pattern"].to_numpy(), embedding=E, random_state=0)
    assert np.array_equal(c["clusters"], r.clusters) and float(c["ari"]) == pytest.approx(r.ari)
    ci = agreement_intervals(r.codes, r.clusters, n_boot=200, random_state=0)
    assert float(c["ami_low"]) == pytest.approx(ci["ami_low"]) and int(c["n_clusters"]) == r.n_clusters

    def boom(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(clustering, "cluster_block", boom)
    again = cached_clustering(store, 2, "pattern", reducer="pca", n_components=3, random_state=0)
    assert np.array_equal(again["clusters"], c["clusters"])
