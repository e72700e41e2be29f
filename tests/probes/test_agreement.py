"""ARI / AMI from contingency tables, and the report's agreement intervals: equal (==) to scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from analysis.probes import agreement
from analysis.probes.bootstrap import bootstrap_ci
from analysis.probes.chance import agreement_intervals


def table(codes, clusters):
    ci = np.unique(codes, return_inverse=True)[1]
    ki = np.unique(clusters, return_inverse=True)[1]
    T = np.zeros((ci.max() + 1, ki.max() + 1), dtype=np.int64)
    np.add.at(T, (ci, ki), 1)
    return T


def label_pairs():
    rng = np.random.default_rng(0)
    for n, k, c in [(300, 5, 8), (1200, 12, 40), (80, 3, 2), (500, 2, 30), (60, 4, 1), (60, 1, 4), (40, 1, 1)]:
        codes = rng.integers(0, k, n)
        clusters = np.where(rng.random(n) < 0.3, -1, (codes * 7 + rng.integers(0, 3, n)) % max(c, 1))
        if c == 1:
            clusters = np.zeros(n, dtype=int)
        yield codes, clusters
    yield np.arange(50) % 5, np.arange(50) % 5  # identical partitions: ARI = AMI = 1


@pytest.mark.parametrize("case", range(8))
def test_ari_and_ami_from_the_table_equal_sklearn_bit_for_bit(case):
    codes, clusters = list(label_pairs())[case]
    T = table(codes, clusters)
    lg = agreement.lgamma_table(len(codes))
    assert agreement.adjusted_rand(T) == adjusted_rand_score(codes, clusters)
    assert agreement.adjusted_mutual_info(T, lg) == adjusted_mutual_info_score(codes, clusters)


def test_emi_loop_equals_sklearns_cython():
    from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information

    rng = np.random.default_rng(1)
    lg = agreement.lgamma_table(3000)
    assert agreement._emi_loop() is not None and lg is not None  # the fast path is the one tested
    for n, k, c in [(3000, 12, 60), (700, 4, 9), (150, 7, 3)]:
        T = table(rng.integers(0, k, n), rng.integers(-1, c, n))
        assert agreement.expected_mutual_information(T, n, lg) == expected_mutual_information(T, n)


@pytest.mark.parametrize("seed", [0, 3])
def test_agreement_intervals_equal_two_sklearn_bootstraps(seed):
    rng = np.random.default_rng(seed)
    codes = np.array(["red", "blue", "green", "pink"])[rng.integers(0, 4, 900)]
    clusters = np.where(rng.random(900) < 0.2, -1, rng.integers(0, 6, 900))
    clusters[codes == "red"] = 2  # some real agreement
    got = agreement_intervals(codes, clusters, n_boot=60, random_state=seed)
    for name, fn in (("ari", adjusted_rand_score), ("ami", adjusted_mutual_info_score)):
        low, high = bootstrap_ci(fn, codes, clusters, n_boot=60, random_state=seed, distinct=True)
        assert (got[f"{name}_low"], got[f"{name}_high"]) == (low, high)
