import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from analysis.probes.bootstrap import bootstrap_ci


def test_mean_interval_brackets_the_mean_and_is_seeded():
    x = np.random.default_rng(0).random(500)
    low, high = bootstrap_ci(np.mean, x, n_boot=300, random_state=1)
    assert low < x.mean() < high and high - low < 0.1
    assert (low, high) == bootstrap_ci(np.mean, x, n_boot=300, random_state=1)


def test_ari_ami_intervals_contain_the_estimate_for_unrelated_clusters():
    # Labels and clusters independent: ARI/AMI ~ 0. Plain resampling duplicates images, which
    # always agree with themselves, and pushes the whole interval above 0.
    rng = np.random.default_rng(0)
    y, c = rng.integers(0, 10, 1000), rng.integers(0, 3, 1000)
    for fn in (adjusted_rand_score, adjusted_mutual_info_score):
        est = fn(y, c)
        low, high = bootstrap_ci(fn, y, c, n_boot=100, random_state=0, distinct=True)
        assert low <= est <= high, (fn.__name__, est, low, high)
        plain_low, plain_high = bootstrap_ci(fn, y, c, n_boot=100, random_state=0)
        # the bias this option exists for: plain resamples centre the interval well above the estimate
        assert (plain_low + plain_high) / 2 - est > 2 * abs((low + high) / 2 - est)
