"""Small trained heads on frozen block descriptors: does training something move the best block?

Scored on exactly the same cross-validation folds as the training-free probes (analysis.probes.folds):

* ``mlp_head_cv``: standardise (train-fold statistics) -> Linear(D, hidden) -> ReLU -> Linear(hidden,
  classes), Adam + weight decay, cross-entropy, a fixed number of epochs (no early stopping on the
  test fold, so nothing leaks).
* ``triplet_projection_cv``: standardise -> Linear(D, dim), L2-normalised; trained with the triplet
  loss and batch semi-hard mining (Schroff et al. 2015, FaceNet: for each anchor-positive pair the
  closest negative farther than the positive; none -> the farthest negative). Scored by kNN in the
  learned space (same ks, euclidean on the unit sphere, the best k as for the raw kNN) and by the
  silhouette of the test images in that space.

Torch on the CPU, seeded (torch.manual_seed per fold), small enough for seconds per block.
``heads_table`` puts them next to kNN / prototype / linear for every block.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from sklearn.metrics import silhouette_score
from torch import nn

from analysis.probes.classifiers import (
    KS,
    ProbeResult,
    _check_ks,
    _cross_validate,
    _inputs,
    _knn_fold,
    knn_cv,
    linear_probe_cv,
    prototype_cv,
)
from analysis.probes.folds import FoldPlan, plan_folds
from analysis.progress import Progress, report


@dataclass(frozen=True)
class HeadSettings:
    hidden: int = 256
    dim: int = 64  # triplet projection dimension
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 0.2


def _standardise(Xtr: np.ndarray, Xte: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd[sd == 0] = 1.0
    f = lambda A: torch.from_numpy(((A - mu) / sd).astype(np.float32))  # noqa: E731
    return f(Xtr), f(Xte)


def _batches(n: int, size: int, gen: torch.Generator):
    order = torch.randperm(n, generator=gen)
    for s in range(0, n, size):
        yield order[s:s + size]


def _train(net: nn.Module, loss_fn: Callable, Xtr: torch.Tensor, ctr: torch.Tensor, s: HeadSettings, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=s.lr, weight_decay=s.weight_decay, foreach=False)
    # Heads this small gain nothing from intra-op threads, and on a busy CPU the thread hand-offs
    # made training ~30x slower (measured: 31 s vs 1 s for 5 folds of the MLP): one thread here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net.train()
        for _ in range(s.epochs):
            for idx in _batches(len(Xtr), s.batch_size, gen):
                opt.zero_grad()
                loss = loss_fn(net(Xtr[idx]), ctr[idx])
                loss.backward()
                opt.step()
        net.eval()
    finally:
        torch.set_num_threads(threads)


def mlp_head_cv(
    X: ArrayLike, y: ArrayLike, *, plan: FoldPlan | None = None, n_splits: int = 5, random_state: int = 0,
    settings: HeadSettings = HeadSettings(),  # noqa: B008 - frozen dataclass, immutable default
) -> ProbeResult:
    """One-hidden-layer MLP classifier trained on each training fold, cross-validated."""
    X, plan = _inputs(X, y, plan, n_splits, random_state)
    fold_no = iter(range(plan.n_splits))

    def fold_fn(Xtr, ctr, Xte, n_classes):
        f = next(fold_no)
        torch.manual_seed(random_state * 1000 + f)
        A, B = _standardise(np.asarray(Xtr, np.float64), np.asarray(Xte, np.float64))
        net = nn.Sequential(nn.Linear(A.shape[1], settings.hidden), nn.ReLU(), nn.Linear(settings.hidden, n_classes))
        _train(net, nn.functional.cross_entropy, A, torch.from_numpy(ctr), settings, random_state * 1000 + f)
        with torch.no_grad():
            return {(): (net(B).argmax(1).numpy(), None)}

    params = {"hidden": settings.hidden, "epochs": settings.epochs, "lr": settings.lr}
    return _cross_validate(X, plan, "mlp", lambda _: params, fold_fn)[()]


def semi_hard_triplet_loss(E: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over valid (anchor, positive) pairs of max(0, d(a,p) − d(a,n) + margin), n semi-hard.

    E: (b, dim) embeddings, labels: (b,) ints. Pairs without any negative in the batch are skipped."""
    D = torch.cdist(E, E)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(E), dtype=torch.bool)
    pos = same & ~eye
    neg = ~same
    if not pos.any() or not neg.any():
        return E.sum() * 0.0
    big = torch.finfo(D.dtype).max
    # For each (a, p): closest negative with d(a,n) > d(a,p)  (semi-hard) ...
    dap = D[:, :, None]                        # (a, p, 1)
    dan = D[:, None, :]                        # (a, 1, n)
    farther = neg[:, None, :] & (dan > dap)    # (a, p, n)
    semi = torch.where(farther, dan.expand_as(farther), torch.full_like(farther, big, dtype=D.dtype)).amin(-1)
    # ... or, when none is farther, the farthest negative (the easiest hard one).
    hardest_far = torch.where(neg, D, torch.full_like(D, -big)).amax(-1, keepdim=True).expand_as(D)
    chosen = torch.where(farther.any(-1), semi, hardest_far)
    loss = torch.relu(D - chosen + margin)
    return loss[pos].mean()


class _Projection(nn.Module):
    def __init__(self, d: int, dim: int):
        super().__init__()
        self.lin = nn.Linear(d, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.lin(x), dim=1)


@dataclass(frozen=True)
class TripletResult:
    knn: ProbeResult  # best k in the learned space
    silhouette: float  # mean over folds, test images in the learned space


def triplet_projection_cv(
    X: ArrayLike, y: ArrayLike, ks: Sequence[int] = KS, *, plan: FoldPlan | None = None, n_splits: int = 5,
    random_state: int = 0, settings: HeadSettings = HeadSettings(),  # noqa: B008
) -> TripletResult:
    """A linear projection to the unit sphere trained with semi-hard triplet loss on each training fold;
    kNN (best k) and silhouette of the held-out images in that space."""
    X, plan = _inputs(X, y, plan, n_splits, random_state)
    ks = _check_ks(ks, plan)
    knn = _knn_fold(ks, ["euclidean"])
    sil: list[float] = []
    fold_no = iter(range(plan.n_splits))

    def fold_fn(Xtr, ctr, Xte, n_classes):
        f = next(fold_no)
        torch.manual_seed(random_state * 1000 + f)
        A, B = _standardise(np.asarray(Xtr, np.float64), np.asarray(Xte, np.float64))
        net = _Projection(A.shape[1], settings.dim)
        _train(net, lambda E, c: semi_hard_triplet_loss(E, c, settings.margin), A, torch.from_numpy(ctr), settings,
               random_state * 1000 + f)
        with torch.no_grad():
            Etr, Ete = net(A).numpy().astype(np.float64), net(B).numpy().astype(np.float64)
        cte = plan.codes[plan.splits[f][1]]
        sil.append(float(silhouette_score(Ete, cte)) if 1 < len(np.unique(cte)) < len(cte) else float("nan"))
        return knn(Etr, ctr, Ete, n_classes)

    params = lambda key: {"metric": key[0], "k": key[1], "dim": settings.dim, "margin": settings.margin}  # noqa: E731
    results = _cross_validate(X, plan, "triplet", params, fold_fn)
    best = max(results.values(), key=lambda r: r.mean)
    return TripletResult(knn=best, silhouette=float(np.nanmean(sil)) if np.isfinite(sil).any() else float("nan"))


HEADS = ("knn", "prototype", "linear", "mlp", "triplet_knn")
TRAINING_FREE = ("knn", "prototype")
TRAINED = ("linear", "mlp", "triplet_knn")


@dataclass(frozen=True)
class HeadsReport:
    """table: one row per block: accuracy per method (HEADS), triplet silhouette and raw silhouette.
    best: method -> block with the highest accuracy. gain: best trained accuracy − best training-free."""

    table: pd.DataFrame
    best: dict[str, str]
    best_free: tuple[str, str, float]     # (method, block, accuracy)
    best_trained: tuple[str, str, float]
    fold_message: str

    @property
    def gain(self) -> float:
        return self.best_trained[2] - self.best_free[2]

    @property
    def moves_best_block(self) -> bool:
        return self.best_trained[1] != self.best_free[1]


def heads_table(
    blocks: Mapping[str, ArrayLike], y: ArrayLike, *, n_splits: int = 5, random_state: int = 0,
    settings: HeadSettings = HeadSettings(), progress: Progress | None = None,  # noqa: B008
) -> HeadsReport:
    """Training-free (kNN best k×metric, prototype) vs trained (linear, MLP, triplet kNN) per block,
    all on one fold plan."""
    y = np.asarray(y)
    plan = plan_folds(y, n_splits=n_splits, random_state=random_state)
    ks = [k for k in KS if k <= plan.min_train_size] or [1]
    rows = []
    for i, (name, X) in enumerate(blocks.items()):
        report(progress, i, len(blocks), f"{name}: MLP, triplet, linear, kNN")
        X = np.asarray(X)
        trip = triplet_projection_cv(X, y, ks, plan=plan, random_state=random_state, settings=settings)
        codes = plan.codes[plan.rows]
        rows.append({
            "block": name,
            "knn": knn_cv(X, y, ks, plan=plan).best.mean,
            "prototype": prototype_cv(X, y, "euclidean", plan=plan).mean,
            "linear": linear_probe_cv(X, y, plan=plan, random_state=random_state).mean,
            "mlp": mlp_head_cv(X, y, plan=plan, random_state=random_state, settings=settings).mean,
            "triplet_knn": trip.knn.mean,
            "triplet_silhouette": trip.silhouette,
            "raw_silhouette": float(silhouette_score(X[plan.rows], codes)),
        })
    report(progress, len(blocks), len(blocks), "heads done")
    table = pd.DataFrame(rows).set_index("block")
    best = {m: str(table[m].idxmax()) for m in HEADS}

    def top(methods):
        m = max(methods, key=lambda c: table[c].max())
        return m, best[m], float(table[m].max())

    return HeadsReport(table=table, best=best, best_free=top(TRAINING_FREE), best_trained=top(TRAINED),
                       fold_message=plan.message)
