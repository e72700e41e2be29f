"""Which model, and which block of it: the block report of several models on the same images.

Each model's report is the cached block report of its descriptor store (the same numbers the
Block report page shows, computed once). Blocks are placed on a normalised depth axis (block i of
N -> i / N) so models with different numbers of blocks share one x axis. Per label column the best
(model, block) is the highest primary score; every (model, block) whose 95 % interval overlaps the
winner's is listed as "not clearly worse". Cost per model: channels of its chosen block and the
images/s measured when its descriptors were extracted (cache manifest provenance).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import LayerScopeError
from analysis.probes.logme import rank_agreement
from analysis.probes.report import BlockReport
from analysis.probes.report_store import cached_block_report
from analysis.progress import Progress, fraction, report

# Fast by default: no UMAP + HDBSCAN (minutes per block on big sets); kNN, prototypes, P@k, LogME.
DEFAULTS = {"clustering": False}


@dataclass(frozen=True)
class Comparison:
    """table: one row per (label, model, block): depth, channels, every score with interval.
    best: one row per label column: the winning model/block, its score and interval, and the
    (model, block) pairs not clearly worse. cost: one row per model. rank: Spearman ρ of LogME
    vs the primary score over all (model, block) pairs, per label."""

    table: pd.DataFrame
    best: pd.DataFrame
    cost: pd.DataFrame
    rank: pd.DataFrame
    reports: dict[tuple[str, str], BlockReport]
    primary: str


def check_same_images(stores: Mapping[str, object]) -> None:
    """Every store must hold the same images in the same order (same dataset, same readable files)."""
    names = list(stores)
    ref = stores[names[0]]
    for name in names[1:]:
        s = stores[name]
        if s.paths != ref.paths:  # type: ignore[attr-defined]
            extra = len(set(s.paths) ^ set(ref.paths))  # type: ignore[attr-defined]
            raise LayerScopeError(
                f"{names[0]} and {name} were extracted on different images ({extra} differ). Compare models "
                "on the same dataset; if an image failed for only one model, fix or remove that file."
            )


def model_cost(store) -> dict:
    prov = store.manifest.get("provenance", {})
    return {"images_per_second": prov.get("images_per_second"), "device": prov.get("device"),
            "dtype": prov.get("dtype"), "extraction_seconds": prov.get("seconds")}


def compare_models(
    stores: Mapping[str, object],
    labels: Sequence[str] | None = None,
    *,
    progress: Progress | None = None,
    **params,
) -> Comparison:
    """Block reports of every store (one per model, same images) for each label column, side by side."""
    if len(stores) < 2:
        raise LayerScopeError("a comparison needs at least two models.")
    check_same_images(stores)
    first = next(iter(stores.values()))
    labels = list(labels or first.labels.columns)  # type: ignore[attr-defined]
    params = {**DEFAULTS, **params}
    primary = params.get("primary", "knn")
    reports: dict[tuple[str, str], BlockReport] = {}
    rows, best_rows, rank_rows = [], [], []
    jobs = [(lab, m) for lab in labels for m in stores]
    for j, (label, model) in enumerate(jobs):
        store = stores[model]

        def sub(done: int, total: int, note: str = "", j=j, model=model) -> None:
            # each report counts as 1000 steps, so the bar moves within a model as well
            report(progress, j * 1000 + round(1000 * fraction(done, total)), len(jobs) * 1000, f"{model}: {note}")

        r = cached_block_report(store, label, progress=sub, **params)
        reports[(label, model)] = r
        n_blocks = len(store.blocks)  # type: ignore[attr-defined]
        for i, b in enumerate(store.blocks, start=1):  # type: ignore[attr-defined]
            row = {"label": label, "model": model, "block": b.name, "block_index": i, "depth": i / n_blocks,
                   "channels": b.channels}
            row.update(r.table.loc[b.name].to_dict())
            rows.append(row)
    table = pd.DataFrame(rows)
    for label in labels:
        t = table[table["label"] == label]
        if not t[primary].notna().any():
            raise LayerScopeError(f"the score {primary!r} was not computed; enable it or pick another.")
        w = t.loc[t[primary].idxmax()]
        low_w = w.get(f"{primary}_low", np.nan)
        ties = t[(t.index != w.name) & (t[f"{primary}_high"] >= low_w)] if np.isfinite(low_w) else t.iloc[0:0]
        best_rows.append({
            "label": label, "model": w["model"], "block": w["block"], "score": primary, "value": w[primary],
            "low": low_w, "high": w.get(f"{primary}_high", np.nan), "channels": int(w["channels"]),
            "not_clearly_worse": ", ".join(f"{m} {b}" for m, b in zip(ties["model"], ties["block"])),
        })
        if "logme" in t:
            rank_rows.append({"label": label, "spearman_logme_vs_" + primary: rank_agreement(t["logme"], t[primary]),
                              "pairs": int(t["logme"].notna().sum())})
    cost_rows = []
    for model, store in stores.items():
        chosen = {lab: reports[(lab, model)].recommended_block for lab in labels}
        ch = {b.name: b.channels for b in store.blocks}  # type: ignore[attr-defined]
        cost_rows.append({"model": model, "blocks": len(ch), "chosen_blocks": ", ".join(sorted(set(chosen.values()))),
                          "channels_of_chosen": ", ".join(str(ch[b]) for b in sorted(set(chosen.values()))),
                          **model_cost(store)})
    return Comparison(table=table, best=pd.DataFrame(best_rows), cost=pd.DataFrame(cost_rows),
                      rank=pd.DataFrame(rank_rows), reports=reports, primary=primary)
