"""Command line: `layerscope models | precompute | cache list|clear | report | compare | cka | flags | heads | app`.

`python -m analysis …` is the same command.
"""
from __future__ import annotations

import argparse
import sys
import time

from analysis.errors import LayerScopeError


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (a zero or negative batch size once cached all-zero arrays)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _check_out(path: str | None) -> None:
    """Fail before a long report, not after it, when the output file cannot be written."""
    from pathlib import Path

    if not path:
        return
    out = Path(path).expanduser()
    if out.is_dir():
        raise LayerScopeError(f"--out {path} is a folder: give a file name, e.g. {out / 'report.csv'}.")
    if not out.parent.is_dir():
        raise LayerScopeError(f"--out {path}: the folder {out.parent} does not exist; create it first.")
    import os

    if not os.access(out.parent, os.W_OK):
        raise LayerScopeError(f"--out {path}: the folder {out.parent} is not writable.")


def _check_device(name: str | None) -> None:
    from analysis.models.device import pick_device

    if name is not None:
        pick_device(name)  # unknown or absent devices are refused before any work


def _cmd_models(args: argparse.Namespace) -> None:
    from analysis.models.model import list_models

    for row in list_models(include_all_timm=args.all):
        print(f"{row['name']:<28} {row['source']:<20} {row['description']}")


def _cmd_precompute(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from analysis.cli_scale import open_data
    from analysis.descriptors.extract import cache_status, extract
    from analysis.models.model import load_model

    _check_device(args.device)
    gen_bar = tqdm(desc="generating dataset", unit="img", disable=None)
    ds = open_data(args.data, args.verify,
                   progress=lambda d, n, _note="": (setattr(gen_bar, "total", n), gen_bar.update(d - gen_bar.n)))
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
    if args.runner == "ray":  # issue 12: the same entry computed by a Ray cluster (local Ray if no --address)
        from analysis.descriptors.ray_runner import extract_ray

        store = extract_ray(model, ds, address=args.address, batch_size=args.batch_size, weights=args.weights,
                            writers=args.ray_writers, progress=lambda d, n, _note="": bar.update(d - bar.n))
    else:
        store = extract(model, ds, batch_size=args.batch_size, precision=args.precision, engine=args.engine,
                        progress=lambda d, n, _note="": bar.update(d - bar.n))
    bar.close()
    prov = store.manifest["provenance"]
    print(f"done in {time.time() - t0:.1f} s · {store.n} images · dtype {prov['dtype']} · {store.path}")
    if prov.get("engine"):  # which engine ran, its fidelity, and why others were skipped or refused
        cos = prov.get("min_cosine_to_fp32")
        print(f"engine {prov['engine']}/{prov['precision']} on {prov['device']}"
              + (f" · worst cosine to fp32 torch {cos:.6f}" if cos is not None else ""))
        for note in prov.get("engine_notes", []):
            print(f"engine note: {note}", file=sys.stderr)
    for f in store.failures:
        print(f"unreadable, left out: {f['path']}: {f['reason']}", file=sys.stderr)
    if args.warm:
        from analysis.warm import warm

        t0 = time.time()
        warm(model, store)
        print(f"warm: every page's first results are cached ({time.time() - t0:.1f} s)")


def _cmd_report(args: argparse.Namespace) -> None:
    import pandas as pd
    from tqdm import tqdm

    from analysis.cli_scale import descriptors_with_bar, open_data
    from analysis.models.model import load_model
    from analysis.probes.report_store import cached_block_report, long_table, summary_table

    _check_out(args.out)
    _check_device(args.device)
    ds = open_data(args.data, args.verify)
    model = load_model(args.model, weights=args.weights, device=args.device)
    store = descriptors_with_bar(model, ds)
    labels = args.label or list(store.labels.columns)
    settings = {"n_splits": args.folds, "linear": args.linear, "n_queries": args.queries, "n_boot": args.boot,
                "random_state": args.seed, "clustering": not args.no_clustering, "reducer": args.reducer}
    if args.k:
        settings["ks"] = args.k
    reports = []
    for label in labels:
        t0 = time.time()
        bar = tqdm(total=100, desc=f"report {label}", disable=None)
        r = cached_block_report(store, label, progress=lambda d, t, m="": (bar.set_postfix_str(m), bar.update(round(100 * d / max(t, 1)) - bar.n)),
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
    from analysis.cli_scale import add_verify  # --verify: re-hash every image, ignoring the hash cache

    p = argparse.ArgumentParser(prog="python -m analysis", description="LayerScope: per-block descriptors and analyses.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list models (built-in first)")
    m.add_argument("--all", action="store_true", help="also list every timm architecture")
    m.set_defaults(func=_cmd_models)
    pc = sub.add_parser("precompute", help="compute and cache per-block descriptors")
    pc.add_argument("--model", default="efficientnet_lite0")
    pc.add_argument("--weights", default=None, help="local .safetensors/.pth file (offline), or 'random'")
    pc.add_argument("--data", default="garments", help="garments[:n=..,size=..,seed=..], fashion-mnist, a folder or a CSV")
    pc.add_argument("--batch-size", type=_positive_int, default=32)
    pc.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    pc.add_argument("--engine", choices=["auto", "torch", "openvino"], default="auto",
                    help="forward engine: auto = fastest whose descriptors keep cosine >= 0.999 to fp32 torch")
    pc.add_argument("--device", default=None, help="cpu | cuda | mps (default: best available)")
    pc.add_argument("--runner", choices=["local", "ray"], default="local",
                    help="local: this process; ray: Ray Data + an actor pool (fp32 torch), same cache entry")
    pc.add_argument("--address", default=None, help="with --runner ray: a Ray cluster to join ('auto'); default: "
                    "start a local Ray")
    pc.add_argument("--ray-writers", choices=["auto", "driver"], default="auto",
                    help="with --runner ray: auto = each actor writes its shards into the cache when it sees the "
                    "cache folder (this machine or a shared file system), else sends them to the driver; "
                    "driver = the driver writes every shard")
    add_verify(pc)
    pc.add_argument("--warm", action="store_true", help="also compute what the pages and the Tour show first "
                    "(block report of every label column, UMAP maps, GridCut layouts, the Tour's unit image)")
    pc.set_defaults(func=_cmd_precompute)
    r = sub.add_parser("report", help="the block report: every metric per block, and the block to use")
    r.add_argument("--model", default="efficientnet_lite0")
    r.add_argument("--weights", default=None, help="local .safetensors/.pth file (offline), or 'random'")
    r.add_argument("--data", default="garments")
    r.add_argument("--label", action="append", help="label column (repeat for several; default: all)")
    r.add_argument("--out", default=None, help="write every number (with intervals) to this CSV file")
    r.add_argument("--folds", type=_positive_int, default=5)
    r.add_argument("--k", type=int, nargs="+", default=None, help="kNN k values (default 1 2 4 8 16)")
    r.add_argument("--linear", action="store_true", help="also a linear probe (slower)")
    r.add_argument("--no-clustering", action="store_true", help="skip UMAP + HDBSCAN (ARI, AMI, silhouette)")
    r.add_argument("--reducer", choices=["umap", "pca"], default="umap", help="space HDBSCAN clusters in")
    r.add_argument("--queries", type=_positive_int, default=500, help="random queries for precision@10")
    r.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default=None)
    add_verify(r)
    r.set_defaults(func=_cmd_report)
    c = sub.add_parser("cache", help="list or clear cached descriptors")
    c.add_argument("action", choices=["list", "clear"])
    c.add_argument("entry", nargs="?", default=None, help="entry name or prefix to clear (default: all)")
    c.set_defaults(func=_cmd_cache)
    from analysis.cli_scale import add_commands  # memory, export (issue 12)

    add_commands(sub)
    from analysis.cli_models import register  # compare, cka, flags, heads (issue 13)

    register(sub)
    a = sub.add_parser("app", help="start the dashboard (extra arguments go to `streamlit run`)")
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--address", default="127.0.0.1", help="interface to serve on (0.0.0.0: every interface)")
    a.add_argument("--warm", action="store_true", help="before serving, run every page once in the server process "
                   "(model, data, imports and page results in memory: first visits < 3 s; run.sh does this)")
    a.set_defaults(func=_cmd_app)
    return p


def _cmd_app(args: argparse.Namespace) -> None:
    import subprocess
    from pathlib import Path

    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not app.is_file():
        raise LayerScopeError(f"the dashboard is not next to the library ({app} is missing); "
                              "install LayerScope from a checkout with `pip install -e .`.")
    from analysis.limits import Limits

    # Streamlit refuses larger uploads itself (LAYERSCOPE_MAX_UPLOAD_MB); pages check again.
    # --warm: dashboard.serve runs each page once in the server's own process, then starts the same server.
    start = ["-m", "dashboard.serve"] if args.warm else ["-m", "streamlit", "run", str(app)]
    cmd = [sys.executable, *start, "--server.headless", "true",
           "--server.port", str(args.port), "--server.address", args.address,
           "--server.maxUploadSize", str(max(1, Limits.from_env().max_upload_mb)), *args.streamlit_args]
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
    except OSError as exc:  # disk full, permission denied, ...: a message, never a traceback
        from analysis.data.images import shown

        where = f" ({shown(exc.filename)})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line, not a traceback, unless asked for
        import os

        if os.environ.get("LAYERSCOPE_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
              "LAYERSCOPE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:  # --verify distrusts stats for one command only, also when main() runs in-process
        from analysis.data.hash_cache import trust_stats

        trust_stats(True)
    return 0
