"""Command line: `layerscope models | precompute | cache list|clear | report | app`.

`python -m analysis …` is the same command.
"""
from __future__ import annotations

import argparse
import sys
import time

from analysis.errors import LayerScopeError


def _cmd_models(args: argparse.Namespace) -> None:
    from analysis.models.model import list_models

    for row in list_models(include_all_timm=args.all):
        print(f"{row['name']:<28} {row['source']:<20} {row['description']}")


def _cmd_precompute(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import cache_status, extract
    from analysis.models.model import load_model

    gen_bar = tqdm(desc="generating dataset", unit="img", disable=None)
    ds = open_dataset(args.data, progress=lambda d, n: (setattr(gen_bar, "total", n), gen_bar.update(d - gen_bar.n)))
    gen_bar.close()
    for p in ds.problems:
        print(f"skipped {p.path}: {p.reason}", file=sys.stderr)
    for w in ds.warnings:
        print(f"warning: {w}", file=sys.stderr)
    model = load_model(args.model, weights=args.weights, device=args.device)
    status, _, note = cache_status(model, ds)
    print(f"{model.name} on {model.device} · {ds.name}: {len(ds)} images, {len(model.blocks)} blocks · cache {status}"
          + (f" ({note})" if note else ""))
    t0 = time.time()
    bar = tqdm(total=len(ds), desc="descriptors", unit="img", disable=None)  # tqdm's rate gives the ETA
    store = extract(model, ds, batch_size=args.batch_size, precision=args.precision,
                    progress=lambda d, n: bar.update(d - bar.n))
    bar.close()
    prov = store.manifest["provenance"]
    print(f"done in {time.time() - t0:.1f} s · {store.n} images · dtype {prov['dtype']} · {store.path}")
    for f in store.failures:
        print(f"unreadable, left out: {f['path']}: {f['reason']}", file=sys.stderr)


def _cmd_report(args: argparse.Namespace) -> None:
    import pandas as pd
    from tqdm import tqdm

    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model
    from analysis.probes.report_store import cached_block_report, long_table, summary_table

    ds = open_dataset(args.data)
    model = load_model(args.model, weights=args.weights, device=args.device)
    bar = tqdm(total=len(ds), desc="descriptors", unit="img", disable=None)  # instant when cached
    store = extract(model, ds, progress=lambda d, n: bar.update(d - bar.n))
    bar.close()
    labels = args.label or list(store.labels.columns)
    settings = {"n_splits": args.folds, "linear": args.linear, "n_queries": args.queries, "n_boot": args.boot,
                "random_state": args.seed, "clustering": not args.no_clustering, "reducer": args.reducer}
    if args.k:
        settings["ks"] = args.k
    reports = []
    for label in labels:
        t0 = time.time()
        bar = tqdm(total=100, desc=f"report {label}", disable=None)
        r = cached_block_report(store, label, progress=lambda f, m: (bar.set_postfix_str(m), bar.update(round(100 * f) - bar.n)),
                                **settings)
        bar.close()
        reports.append(r)
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print(f"\n{model.name} · {ds.name} ({store.n} images) · label column `{label}` "
                  f"({time.time() - t0:.1f} s; 95 % bootstrap intervals in brackets)")
            print(summary_table(r).to_string())
        if r.fold_message:
            print(f"note: {r.fold_message}")
        print(r.recommendation)
    if args.out:
        long_table(reports).to_csv(args.out, index=False)
        print(f"\nwrote {args.out}")


def _cmd_cache(args: argparse.Namespace) -> None:
    from analysis.descriptors.store import clear_entries, list_entries

    if args.action == "list":
        table = list_entries()
        print(table.to_string(index=False) if len(table) else "cache is empty")
    else:
        removed = clear_entries(args.entry)
        print("\n".join(f"removed {r}" for r in removed) or "nothing to remove")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description="LayerScope: per-block descriptors and analyses.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list models (built-in first)")
    m.add_argument("--all", action="store_true", help="also list every timm architecture")
    m.set_defaults(func=_cmd_models)
    pc = sub.add_parser("precompute", help="compute and cache per-block descriptors")
    pc.add_argument("--model", default="efficientnet_lite0")
    pc.add_argument("--weights", default=None, help="local .safetensors/.pth file (offline), or 'random'")
    pc.add_argument("--data", default="garments", help="garments[:n=..,size=..,seed=..], fashion-mnist, a folder or a CSV")
    pc.add_argument("--batch-size", type=int, default=32)
    pc.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    pc.add_argument("--device", default=None, help="cpu | cuda | mps (default: best available)")
    pc.set_defaults(func=_cmd_precompute)
    r = sub.add_parser("report", help="the block report: every metric per block, and the block to use")
    r.add_argument("--model", default="efficientnet_lite0")
    r.add_argument("--weights", default=None, help="local .safetensors/.pth file (offline), or 'random'")
    r.add_argument("--data", default="garments")
    r.add_argument("--label", action="append", help="label column (repeat for several; default: all)")
    r.add_argument("--out", default=None, help="write every number (with intervals) to this CSV file")
    r.add_argument("--folds", type=int, default=5)
    r.add_argument("--k", type=int, nargs="+", default=None, help="kNN k values (default 1 2 4 8 16)")
    r.add_argument("--linear", action="store_true", help="also a linear probe (slower)")
    r.add_argument("--no-clustering", action="store_true", help="skip UMAP + HDBSCAN (ARI, AMI, silhouette)")
    r.add_argument("--reducer", choices=["umap", "pca"], default="umap", help="space HDBSCAN clusters in")
    r.add_argument("--queries", type=int, default=500, help="random queries for precision@10")
    r.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default=None)
    r.set_defaults(func=_cmd_report)
    c = sub.add_parser("cache", help="list or clear cached descriptors")
    c.add_argument("action", choices=["list", "clear"])
    c.add_argument("entry", nargs="?", default=None, help="entry name or prefix to clear (default: all)")
    c.set_defaults(func=_cmd_cache)
    a = sub.add_parser("app", help="start the dashboard (extra arguments go to `streamlit run`)")
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--address", default="127.0.0.1", help="interface to serve on (0.0.0.0: every interface)")
    a.set_defaults(func=_cmd_app)
    return p


def _cmd_app(args: argparse.Namespace) -> None:
    import subprocess
    from pathlib import Path

    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not app.is_file():
        raise LayerScopeError(f"the dashboard is not next to the library ({app} is missing); "
                              "install LayerScope from a checkout with `pip install -e .`.")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.port", str(args.port), "--server.address", args.address, *args.streamlit_args]
    raise SystemExit(subprocess.call(cmd))


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and getattr(args, "func", None) is not _cmd_app:
        build_parser().error(f"unrecognized arguments: {' '.join(extra)}")
    args.streamlit_args = extra
    try:
        args.func(args)
    except LayerScopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: partial work is kept and resumes on the next run", file=sys.stderr)
        return 130
    return 0
