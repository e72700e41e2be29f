"""Trained heads on frozen descriptors: MLP head, semi-hard triplet projection, and the per-block table."""
import numpy as np
import pytest
import torch

from analysis.probes.classifiers import knn_cv, prototype_cv
from analysis.probes.folds import plan_folds
from analysis.probes.heads import (
    HeadSettings,
    heads_table,
    mlp_head_cv,
    semi_hard_triplet_loss,
    triplet_projection_cv,
)

FAST = HeadSettings(hidden=64, dim=16, epochs=40, batch_size=128, lr=3e-3)


def naive_semi_hard(E, y, margin):
    """Loop version of FaceNet's batch semi-hard rule, written independently."""
    D = np.linalg.norm(E[:, None] - E[None], axis=-1)
    losses = []
    for a in range(len(E)):
        for p in range(len(E)):
            if a == p or y[a] != y[p]:
                continue
            negs = [n for n in range(len(E)) if y[n] != y[a]]
            farther = [D[a, n] for n in negs if D[a, n] > D[a, p]]
            dn = min(farther) if farther else max(D[a, n] for n in negs)
            losses.append(max(0.0, D[a, p] - dn + margin))
    return np.mean(losses)


def test_semi_hard_triplet_loss_matches_the_loop_definition():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(14, 3))
    y = rng.integers(0, 3, size=14)
    got = semi_hard_triplet_loss(torch.tensor(E), torch.tensor(y), margin=0.5).item()
    assert got == pytest.approx(naive_semi_hard(E, y, 0.5), rel=1e-10)


def test_mlp_head_learns_what_a_prototype_cannot():
    # XOR of two features: the class means coincide, so a nearest-prototype probe is at chance.
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(240, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    X = np.hstack([X, 0.1 * rng.normal(size=(240, 3))])
    plan = plan_folds(y, 5, random_state=0)
    mlp = mlp_head_cv(X, y, plan=plan, settings=FAST)
    assert mlp.mean > 0.85 > prototype_cv(X, y, plan=plan).mean + 0.2
    assert (mlp.rows.size == len(y)) and mlp.method == "mlp"
    again = mlp_head_cv(X, y, plan=plan, settings=FAST)
    assert np.array_equal(mlp.y_pred, again.y_pred)  # seeded


def test_triplet_projection_ignores_noisy_dimensions_that_hurt_raw_knn():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 40)
    signal = np.eye(4)[y] * 1.2 + 0.3 * rng.normal(size=(160, 4))
    noise = 3.0 * rng.normal(size=(160, 60))
    X = np.hstack([signal, noise])
    plan = plan_folds(y, 5, random_state=0)
    raw = knn_cv(X, y, (1, 4, 8), metrics=["euclidean"], plan=plan).best.mean
    trip = triplet_projection_cv(X, y, (1, 4, 8), plan=plan, settings=FAST)
    assert trip.knn.mean > raw + 0.15
    assert trip.silhouette > 0.1 and trip.knn.params["dim"] == 16


def test_heads_table_reports_every_method_per_block_and_the_gain():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(3), 30)
    blocks = {"block 1": rng.normal(size=(90, 6)), "block 2": rng.normal(size=(90, 6)) + 2.5 * np.eye(3, 6)[y]}
    r = heads_table(blocks, y, settings=FAST)
    assert list(r.table.index) == ["block 1", "block 2"]
    assert {"knn", "prototype", "linear", "mlp", "triplet_knn", "triplet_silhouette", "raw_silhouette"} <= set(r.table)
    assert r.best["knn"] == r.best["mlp"] == "block 2"
    assert r.gain == pytest.approx(r.best_trained[2] - r.best_free[2])
    assert not r.moves_best_block
    assert (r.table.loc["block 1", ["knn", "mlp"]] < 0.6).all()  # noise stays near chance (1/3)
