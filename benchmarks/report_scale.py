"""The block report at scale: one label column of 10 000 built-in images, cold and warm.

    python benchmarks/report_scale.py                          # garments:n=10000 (builds the descriptors once)
    python benchmarks/report_scale.py --data garments:n=2000   # quicker
    python benchmarks/report_scale.py --build-only             # only generate + extract (cached afterwards)
    python benchmarks/report_scale.py --profile                # cProfile of the cold report, top 25 by cumtime

What `layerscope report --label colour` does, with the CLI's default settings (5 folds, k 1 2 4 8 16,
UMAP-5 + HDBSCAN, 500 queries for P@10, 1000 bootstrap resamples), on efficientnet_lite0 (5 blocks):

* descriptors: generated and extracted once, then read from the descriptor cache (not timed);
* cold: the report with nothing in the results cache (this store's cached reports and
  reduced spaces are deleted first), in a fresh process, with its peak resident memory
  (``resource.getrusage`` maxrss of that process: model + descriptors + report);
* warm: the same call again (the report is read from disk);
* other label: a second label column right after (the per-block reduced spaces are shared);
* label cold: a fresh process again, with the per-block reduced spaces (UMAP-5 of every block,
  which do not depend on the labels) left on disk and the reports deleted: what one label
  column costs once `precompute` or a first report has reduced each block.

Last line exactly:
report_scale: n=<N> blocks=<B> label=<L> cold_s=<C> label_cold_s=<S> warm_s=<W> other_label_s=<O> peak_rss_mb=<M>
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("LAYERSCOPE_MAX_IMAGES", "0")  # the CLI has no cap either


def _open(data: str, model_name: str, verbose: bool = True):
    from analysis.data.datasets import open_dataset
    from analysis.descriptors.extract import extract
    from analysis.models.model import load_model

    t = time.perf_counter()
    last = [0.0]

    def note(done: int, total: int, msg: str = "") -> None:
        if verbose and (time.perf_counter() - last[0] > 30 or done == total):
            last[0] = time.perf_counter()
            print(f"  {msg or 'working'}: {done}/{total} ({time.perf_counter() - t:.0f} s)", flush=True)

    ds = open_dataset(data, progress=note)
    model = load_model(model_name, device="cpu")
    store = extract(model, ds, progress=note)
    return model, ds, store


def _settings() -> dict:
    """The CLI's defaults (analysis/cli.py `report`)."""
    return {"n_splits": 5, "linear": False, "n_queries": 500, "n_boot": 1000, "random_state": 0,
            "clustering": True, "reducer": "umap"}


def _forget(store, labels: list[str], spaces: bool = True) -> int:
    """Delete this store's cached reports (and, with spaces, the per-block reduced spaces): the next report is cold."""
    from analysis.descriptors.results_cache import result_path
    from analysis.probes.report_store import _report_parts, cluster_space_path, resolved_params

    full = resolved_params(**_settings())
    paths = [result_path("block_report", _report_parts(store, lab, full), ".json") for lab in labels]
    if spaces:
        paths += [cluster_space_path(store, b.index, "umap", full["n_components"], full["n_neighbors"],
                                     full["random_state"]) for b in store.blocks]
    removed = 0
    for p in paths:
        if p.is_file():
            p.unlink()
            removed += 1
    return removed


def child(args: argparse.Namespace) -> None:
    """One fresh process: open the cached store, forget its results, time the report (cold, warm, other label)."""
    from analysis.probes.report_store import cached_block_report

    _, _, store = _open(args.data, args.model, verbose=False)
    labels = [args.label] + [c for c in store.labels.columns if c != args.label][:1]
    _forget(store, labels, spaces=not args.keep_spaces)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"n": store.n, "blocks": len(store.blocks), "rss_before_mb": rss_before}
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.runcall(cached_block_report, store, args.label, **_settings())
        out["cold_s"] = time.perf_counter() - t
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(20)
    else:
        t = time.perf_counter()
        r = cached_block_report(store, args.label, **_settings())
        out["cold_s"] = time.perf_counter() - t
        out["recommendation"] = r.recommendation
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    cached_block_report(store, args.label, **_settings())
    out["warm_s"] = time.perf_counter() - t
    if len(labels) > 1:
        t = time.perf_counter()
        cached_block_report(store, labels[1], **_settings())
        out["other_label_s"] = time.perf_counter() - t
        out["other_label"] = labels[1]
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="garments:n=10000")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--label", default="colour")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--keep-spaces", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    print(f"descriptors of {args.data} under {args.model} (built once, then cached) ...", flush=True)
    t = time.perf_counter()
    _, _, store = _open(args.data, args.model)
    print(f"  ready: {store.n} images, {len(store.blocks)} blocks ({time.perf_counter() - t:.1f} s)", flush=True)
    if args.build_only:
        return
    cmd = [sys.executable, __file__, "--child", "--data", args.data, "--model", args.model, "--label", args.label]
    r = _run_child(cmd + (["--profile"] if args.profile else []))
    print(f"cold report (fresh process, nothing cached but the descriptors): {r['cold_s']:.1f} s; peak RSS "
          f"{r['peak_rss_mb']:.0f} MB ({r['rss_before_mb']:.0f} MB before the report: model + descriptors)")
    print(f"warm (read from disk): {r['warm_s']:.3f} s")
    if "other_label_s" in r:
        print(f"a second label column ({r['other_label']}; reduced spaces cached): {r['other_label_s']:.1f} s")
    if "recommendation" in r:
        print("  " + r["recommendation"])
    # The per-block reduced spaces do not depend on the labels: `precompute` / the first report
    # computes them once per block. What one label column then costs, in a fresh process:
    s = _run_child(cmd + ["--keep-spaces"])
    print(f"one label column, per-block reduced spaces on disk (fresh process): {s['cold_s']:.1f} s; "
          f"peak RSS {s['peak_rss_mb']:.0f} MB")
    print(f"report_scale: n={r['n']} blocks={r['blocks']} label={args.label} cold_s={r['cold_s']:.1f} "
          f"label_cold_s={s['cold_s']:.1f} warm_s={r['warm_s']:.3f} other_label_s={r.get('other_label_s', float('nan')):.1f} "
          f"peak_rss_mb={max(r['peak_rss_mb'], s['peak_rss_mb']):.0f}")


def _run_child(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.exit(f"report child failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


if __name__ == "__main__":
    main()
