"""CLI commands for "which model and which block": compare, cka, flags, heads.

Registered by analysis.cli (`register(sub)`); same library calls as the dashboard pages.
"""
from __future__ import annotations

import argparse
import time

from analysis.errors import LayerScopeError


def _stores(models: list[str], data: str, device: str | None, weights: str | None = None,
            verify: bool = False) -> dict:
    """Descriptors of every model on one dataset (computed and cached when missing)."""
    from analysis.cli_scale import descriptors_with_bar, open_data
    from analysis.models.model import load_model

    ds = open_data(data, verify)
    return {name: descriptors_with_bar(load_model(name, weights=weights if name == models[0] else None, device=device),
                                       ds, f"descriptors {name}")
            for name in models}


def _print(df, title: str) -> None:
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.precision", 3):
        print(f"\n{title}\n{df.to_string()}")


def _cmd_compare(args: argparse.Namespace) -> None:
    from analysis.cli import _check_device, _check_out
    from analysis.probes.compare import compare_models

    models = list(dict.fromkeys(args.model or []))
    if len(models) < 2:
        raise LayerScopeError("give at least two different models: --model A --model B [--model C …].")
    _check_out(args.out)
    _check_device(args.device)
    stores = _stores(models, args.data, args.device, verify=args.verify)
    t0 = time.time()
    cmp = compare_models(stores, args.label, primary=args.score, n_boot=args.boot, random_state=args.seed)
    cols = ["model", "block", "depth", "channels", args.score, f"{args.score}_low", f"{args.score}_high", "logme"]
    for label in cmp.best["label"]:
        _print(cmp.table[cmp.table["label"] == label][list(dict.fromkeys(cols))].set_index(["model", "block"]),
               f"label column `{label}` ({args.score} with 95 % bootstrap interval, LogME)")
    _print(cmp.best.set_index("label"), "best (model, block) per label column")
    _print(cmp.cost.set_index("model"), "cost per model (img/s measured at extraction)")
    _print(cmp.rank.set_index("label"), "rank agreement of LogME with " + args.score + " over (model, block) pairs")
    print(f"\n({time.time() - t0:.1f} s)")
    if args.out:
        cmp.table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


def _cmd_cka(args: argparse.Namespace) -> None:
    from analysis.cli import _check_device, _check_out
    from analysis.probes.cka import store_cka

    _check_out(args.out)
    _check_device(args.device)
    models = [args.model] + ([args.vs] if args.vs else [])
    stores = _stores(models, args.data, args.device, weights=args.weights, verify=args.verify)
    t0 = time.time()
    m = store_cka(stores[args.model], stores[args.vs] if args.vs else None)
    _print(m.round(3), f"linear CKA · rows: {args.model}" + (f" · columns: {args.vs}" if args.vs else "")
           + f" ({time.time() - t0:.2f} s)")
    if args.out:
        m.to_csv(args.out, index_label=args.model)
        print(f"wrote {args.out}")


def _cmd_flags(args: argparse.Namespace) -> None:
    from analysis.cli import _check_device, _check_out
    from analysis.probes.label_noise import flag_images

    _check_out(args.out)
    _check_device(args.device)
    store = _stores([args.model], args.data, args.device, weights=args.weights, verify=args.verify)[args.model]
    y = store.label_values(args.label)
    n_blocks = len(store.blocks)
    block = args.block or n_blocks
    if not 1 <= block <= n_blocks:
        raise LayerScopeError(f"--block must be 1..{n_blocks}; got {block}.")
    f = flag_images(store.descriptors(block), y, k=args.k, metric=args.metric,
                    glosh=args.by == "glosh")
    ranked = f.ranked(args.by)
    paths = store.paths  # one copy of the list, not one per row
    ranked.insert(1, "path", [paths[i] for i in ranked["row"]])
    ranked["neighbours"] = [" ".join(str(int(j)) for j in f.neighbours[i]) for i in ranked["row"]]
    _print(ranked.head(args.top).set_index("row"), f"block {block} · `{args.label}` · most suspicious by {args.by}")
    if args.out:
        ranked.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


def _cmd_heads(args: argparse.Namespace) -> None:
    from analysis.cli import _check_device, _check_out
    from analysis.probes.heads import HeadSettings, heads_table

    _check_out(args.out)
    _check_device(args.device)
    store = _stores([args.model], args.data, args.device, weights=args.weights, verify=args.verify)[args.model]
    y = store.label_values(args.label)
    t0 = time.time()
    r = heads_table({b.name: store.descriptors(b.index) for b in store.blocks}, y,
                    random_state=args.seed, settings=HeadSettings(epochs=args.epochs))
    _print(r.table, f"`{args.label}`: cross-validated accuracy per block, training-free vs trained heads "
                    f"({time.time() - t0:.1f} s)")
    free, trained = r.best_free, r.best_trained
    print(f"best training-free: {free[0]} at {free[1]} {free[2]:.3f} · best trained: {trained[0]} at {trained[1]} "
          f"{trained[2]:.3f} · gain {r.gain:+.3f} · the trained head "
          + ("moves the best block" if r.moves_best_block else "keeps the same best block"))
    if args.out:
        r.table.to_csv(args.out)
        print(f"wrote {args.out}")


def register(sub) -> None:
    """Add compare / cka / flags / heads to the `layerscope` sub-command parser."""
    from analysis.cli import _positive_int
    from analysis.cli_scale import add_verify
    from analysis.probes.label_noise import RANKINGS

    c = sub.add_parser("compare", help="block report of two or more models on the same data, side by side")
    c.add_argument("--model", action="append", help="model name (repeat: --model A --model B …)")
    c.add_argument("--data", default="garments")
    c.add_argument("--label", action="append", help="label column (repeat; default: all)")
    c.add_argument("--score", default="knn", choices=["knn", "prototype_euclidean", "prototype_cosine", "precision",
                                                      "logme"], help="what 'best' means")
    c.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default=None, help="write every score of every (model, block) to this CSV")
    c.add_argument("--device", default=None)
    add_verify(c)
    c.set_defaults(func=_cmd_compare)

    k = sub.add_parser("cka", help="linear CKA between the blocks of one model, or of two models")
    k.add_argument("--model", default="efficientnet_lite0")
    k.add_argument("--weights", default=None, help="local weights file of --model (or 'random')")
    k.add_argument("--vs", default=None, help="second model (rows = blocks of --model, columns = blocks of --vs)")
    k.add_argument("--data", default="garments")
    k.add_argument("--out", default=None, help="write the CKA table to this CSV")
    k.add_argument("--device", default=None)
    add_verify(k)
    k.set_defaults(func=_cmd_cka)

    f = sub.add_parser("flags", help="images that look mislabelled or odd at one block")
    f.add_argument("--model", default="efficientnet_lite0")
    f.add_argument("--weights", default=None)
    f.add_argument("--data", default="garments")
    f.add_argument("--label", required=True, help="label column to check")
    f.add_argument("--block", type=_positive_int, default=None, help="block (default: the last)")
    f.add_argument("--k", type=_positive_int, default=10)
    f.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine")
    f.add_argument("--by", choices=list(RANKINGS), default="mistakenness")
    f.add_argument("--top", type=_positive_int, default=20)
    f.add_argument("--out", default=None, help="write every image's scores, most suspicious first, to this CSV")
    f.add_argument("--device", default=None)
    add_verify(f)
    f.set_defaults(func=_cmd_flags)

    h = sub.add_parser("heads", help="small trained heads (MLP, triplet projection) vs kNN per block")
    h.add_argument("--model", default="efficientnet_lite0")
    h.add_argument("--weights", default=None)
    h.add_argument("--data", default="garments")
    h.add_argument("--label", required=True)
    h.add_argument("--epochs", type=_positive_int, default=60)
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--out", default=None)
    h.add_argument("--device", default=None)
    add_verify(h)
    h.set_defaults(func=_cmd_heads)
