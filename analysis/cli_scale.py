"""CLI commands of the scale features: `layerscope memory …`, `layerscope export …`, and the Ray
runner of `precompute`. Registered by analysis.cli (kept here so that file stays small)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI imports its heavy modules when a command runs
    from analysis.data.datasets import Dataset
    from analysis.descriptors.store import Store
    from analysis.models.model import Model
    from analysis.progress import Progress


def open_data(spec: str, verify: bool = False, progress: Progress | None = None) -> Dataset:
    """open_dataset, then every image's content hash (the dataset's identity in cache keys) with a bar:
    from the hash cache for unchanged files, or with `verify` (--verify) every file re-read, and the
    checksums of the cache entries this command opens too."""
    from tqdm import tqdm

    from analysis.data.datasets import open_dataset
    from analysis.data.hash_cache import trust_stats
    from analysis.data.images import shown

    if verify:
        trust_stats(False)  # for the rest of this command: cache entries' checksums are re-read too
    ds = open_dataset(spec, progress=progress)
    bar = tqdm(total=len(ds), desc="verifying images" if verify else "hashing images", unit="img", disable=None)

    def tick(done: int, total: int, _note: str = "") -> None:
        bar.update(done - bar.n)

    if not verify:
        ds.content_hash(progress=tick)  # instant for files the hash cache knows unchanged
        bar.close()
    else:
        stale = ds.verify_hashes(progress=tick)
        bar.close()
        for p in stale:
            print(f"verify: {shown(p)} changed although its size and times did not; its hash is renewed",
                  file=sys.stderr)
        print(f"verify: {len(ds)} images re-read and re-hashed, {len(stale)} changed unseen by the hash cache",
              file=sys.stderr)
    return ds


def descriptors_with_bar(model: Model, ds: Dataset, desc: str = "descriptors") -> Store:
    """extract() (instant when the entry is cached) with a progress bar: the commands that read
    descriptors call this; `precompute` has its own bar with its speed and engine options."""
    from tqdm import tqdm

    from analysis.descriptors.extract import extract

    bar = tqdm(total=len(ds), desc=desc, unit="img", disable=None)
    try:
        return extract(model, ds, progress=lambda d, n, _note="": bar.update(d - bar.n))
    finally:
        bar.close()


def _store(args: argparse.Namespace):
    """The cache entry to work on: a synthetic one (--synthetic N) or model × data (extracted if needed)."""
    if getattr(args, "synthetic", None):
        from tqdm import tqdm

        from analysis.descriptors.synthetic import synthetic_store

        bar = tqdm(total=args.synthetic, desc="synthetic descriptors", unit="row", disable=None)
        store = synthetic_store(args.synthetic, args.dim, args.classes, progress=lambda d, n, _note="": bar.update(d - bar.n))
        bar.close()
        return store
    from analysis.models.model import load_model

    ds = open_data(args.data, args.verify)
    model = load_model(args.model, weights=args.weights, device=args.device)
    return descriptors_with_bar(model, ds), model


def _cmd_memory(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.descriptors.index import store_index
    from analysis.probes.memory import add_class, head_prototypes, memory_experiment, split_memory

    got = _store(args)
    store, model = got if isinstance(got, tuple) else (got, None)
    block = args.block or store.blocks[-1].index
    X = store.descriptors(block)
    label = args.label or store.labels.columns[0]
    y = store.label_values(label)
    train, _ = split_memory(y, args.test_size, args.seed)
    t0 = time.time()
    index = store_index(store, block, args.metric, args.index, rows=train, random_state=args.seed,
                        progress=lambda d, n, note="": print(f"  index: {note}", file=sys.stderr) if d in (0, n) else None)
    t_index = time.time() - t0
    head = head_prototypes(model, X.shape[1]) if model is not None else None
    t0 = time.time()
    r = memory_experiment(X, y, ks=args.k, weights=args.votes, metric=args.metric, head=head,
                          test_size=args.test_size, max_queries=args.max_queries, random_state=args.seed, index=index)
    print(f"\n{store.manifest.get('dataset_name', store.key)} · block {block} ({X.shape[1]} channels) · label `{label}` · "
          f"memory {len(r.memory_rows):,} images, {len(r.classes)} classes, {len(r.test_rows):,} held-out queries")
    print(f"neighbours: {r.engine} (index ready in {t_index:.1f} s; experiment {time.time() - t0:.1f} s)")
    with pd.option_context("display.width", 200):
        print(r.table.assign(k=[str(int(v)) if pd.notna(v) else "" for v in r.table.k]).to_string(
            index=False, float_format=lambda v: f"{v:.3f}"))
    for note in r.notes:
        print(f"note: {note}")
    if args.add_class:
        a = add_class(X, y, args.add_class, shots=args.shots, k=args.add_k, weights=args.votes,
                      metric=args.metric, test_size=args.test_size, max_queries=args.max_queries, random_state=args.seed,
                      index_kind=args.index)
        print(f"\nadd class `{a.new_class}` from {a.shots} images (nothing retrained):")
        with pd.option_context("display.width", 250, "display.max_columns", 20):
            print(a.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _cmd_export(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from analysis.descriptors.export import export_parquet

    got = _store(args)
    store = got[0] if isinstance(got, tuple) else got
    bar = tqdm(total=store.n, desc="export", unit="row", disable=None)
    out = export_parquet(store, args.out, blocks=args.block, progress=lambda d, n, _note="": bar.update(d - bar.n))
    bar.close()
    print(f"wrote {out} ({store.n} rows, {len(args.block or store.blocks)} block columns)")


def _source_args(p: argparse.ArgumentParser, synthetic: bool = True) -> None:
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--weights", default=None, help="local .safetensors/.pth file (offline), or 'random'")
    p.add_argument("--data", default="garments", help="garments[:n=..], fashion-mnist, a folder or a CSV")
    p.add_argument("--device", default=None)
    add_verify(p)
    if synthetic:
        p.add_argument("--synthetic", type=int, default=None, metavar="N",
                       help="instead of images: N synthetic clustered descriptor rows (e.g. 1000000)")
        p.add_argument("--dim", type=int, default=512, help="channels of the synthetic rows")
        p.add_argument("--classes", type=int, default=1000, help="classes of the synthetic rows")


def add_verify(p: argparse.ArgumentParser) -> None:
    """The --verify flag of every command that opens a dataset."""
    p.add_argument("--verify", action="store_true",
                   help="re-read and re-hash every image instead of trusting the hash cache (size + mtime + ctime)")


def add_commands(sub) -> None:
    """Register `memory` and `export` on the main parser's subparsers."""
    m = sub.add_parser("memory", help="the kNN memory experiment on one block (kNN, class means, head prototypes)")
    _source_args(m)
    m.add_argument("--label", default=None, help="label column (default: the first)")
    m.add_argument("--block", type=int, default=None, help="block number (default: the last)")
    m.add_argument("--k", type=int, nargs="+", default=[1, 5, 20])
    m.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine")
    m.add_argument("--votes", choices=["distance", "uniform"], default="distance", help="kNN vote weights (1/distance or equal)")
    m.add_argument("--index", choices=["auto", "exact", "ivfpq", "hnsw"], default="auto",
                   help="neighbour search (auto: exact up to 50 000 memory rows, IVF-PQ + exact re-rank above)")
    m.add_argument("--test-size", type=float, default=0.2, help="held-out share of every class")
    m.add_argument("--max-queries", type=int, default=5000, help="held-out images scored (a random subset)")
    m.add_argument("--add-class", default=None, metavar="CLASS",
                   help="take CLASS out of the memory, add it back from --shots images, measure old classes")
    m.add_argument("--shots", type=int, default=5)
    m.add_argument("--add-k", type=int, default=5, help="k of the kNN in the add-class experiment")
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=_cmd_memory)
    e = sub.add_parser("export", help="write descriptors + labels + paths to Parquet (one column per block)")
    _source_args(e)
    e.add_argument("--out", required=True, help="the .parquet file to write")
    e.add_argument("--block", type=int, nargs="+", default=None, help="blocks to export (default: all)")
    e.set_defaults(func=_cmd_export)
