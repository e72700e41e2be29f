"""A score at chance is never "best"; the report says so in words."""
import numpy as np

from analysis.probes.chance import chance_levels
from analysis.probes.report import block_report, chance_notes
from analysis.probes.report_store import best_mask, report_from_json, report_to_json, summary_table


def noise_blocks(n=120, seed=1):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["red", "blue", "green"]), n // 3)
    return {f"block {i}": rng.standard_normal((n, 6)).astype(np.float32) for i in (1, 2)}, y


def test_chance_levels_follow_the_class_shares():
    c = chance_levels(np.array(["a"] * 6 + ["b"] * 2 + ["c"] * 2))
    assert c["knn"] == 0.6 and abs(c["precision"] - (0.36 + 0.04 + 0.04)) < 1e-12 and c["ari"] == 0.0


def test_descriptors_without_signal_have_no_best_block_and_say_so():
    blocks, y = noise_blocks()
    r = block_report(blocks, y, label="colour", clustering=True, reducer="pca", n_components=2, n_queries=60,
                     n_boot=200, n_boot_clustering=50, random_state=0)
    assert "knn" in r.at_chance and "knn" not in r.best
    assert {"ari", "ami"} <= set(r.at_chance) and "ari" not in r.best
    assert "no block is clearly above chance" in r.recommendation
    notes = " ".join(chance_notes(r))
    assert "kNN shows nothing" in notes and "ARI shows nothing" in notes
    display = summary_table(r)
    assert not best_mask(r, display)[["kNN", "ARI", "AMI"]].to_numpy().any()
    back = report_from_json(report_to_json(r))
    assert back.at_chance == r.at_chance and back.chance == r.chance


def test_a_real_signal_is_still_best_where_it_peaks():
    blocks, y = noise_blocks()
    codes = np.unique(y, return_inverse=True)[1]
    blocks["block 2"] = blocks["block 2"] + 4.0 * np.eye(6, dtype=np.float32)[codes]
    r = block_report(blocks, y, label="colour", clustering=False, n_queries=60, n_boot=200, random_state=0)
    assert r.best["knn"] == "block 2" and r.recommended_block == "block 2" and "knn" not in r.at_chance
    assert r.recommendation.startswith("for `colour` use block 2")
