"""The manifest of a million-row entry: the old all-JSON manifest (version 1: every path and label in
manifest.json) vs version 2 (paths + labels in rows.parquet, a small manifest.json).

Builds the synthetic entry (d=8 channels by default: the manifest does not depend on the width) in a
temporary cache, writes the same entry in the old format beside it, then times, interleaved A B A B:
opening the entry (what `cache list`, `open_entry` and every page load do) and reading all paths + labels.
Then the checked open (checksums of every file, as extract() does on each call) of a 200 000 x 512 entry:
every file read vs the hash cache's stat check.

    python benchmarks/store_manifest.py [--rows 1000000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--checksum-rows", type=int, default=200_000, help="rows of the entry whose checked open is timed")
    ap.add_argument("--checksum-dim", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="layerscope-manifest-") as tmp:
        os.environ["LAYERSCOPE_CACHE"] = tmp
        from analysis.atomic import write_json_atomic
        from analysis.descriptors.store import open_entry
        from analysis.descriptors.synthetic import synthetic_store

        new = synthetic_store(args.rows, args.dim, 1000)
        old_path = Path(tmp) / "old-format"
        old_path.mkdir()
        shutil.copy(new.path / "block_1.npy", old_path / "block_1.npy")
        labels = new.labels
        old_manifest = {k: v for k, v in new.manifest.items() if k != "rows"}
        old_manifest.update(manifest_version=1, paths=new.paths,
                            labels={c: labels[c].astype(str).tolist() for c in labels.columns})
        write_json_atomic(old_path / "manifest.json", old_manifest)
        del labels, old_manifest

        old_size = (old_path / "manifest.json").stat().st_size
        new_json = (new.path / "manifest.json").stat().st_size
        new_rows = (new.path / "rows.parquet").stat().st_size
        print(f"{args.rows:,} rows: version 1 manifest.json {old_size / 1e6:.1f} MB; version 2 manifest.json "
              f"{new_json / 1e3:.1f} KB + rows.parquet {new_rows / 1e6:.2f} MB")

        times: dict[str, list[float]] = {k: [] for k in ("open v1", "open v2", "open+rows v1", "open+rows v2")}
        for _ in range(args.repeats):
            for version, path in (("v1", old_path), ("v2", new.path)):
                store = None
                gc.collect()  # freeing the last run's million strings is not this run's time
                t = time.perf_counter()
                store, problem = open_entry(path, verify=False)
                times[f"open {version}"].append(time.perf_counter() - t)
                assert problem is None, problem
                store = None
                gc.collect()
                t = time.perf_counter()
                store, _ = open_entry(path, verify=False)
                _ = store.paths, store.labels
                times[f"open+rows {version}"].append(time.perf_counter() - t)
        for what in ("open", "open+rows"):
            a, b = statistics.median(times[f"{what} v1"]), statistics.median(times[f"{what} v2"])
            print(f"{what:<10} v1 {a * 1e3:8.1f} ms   v2 {b * 1e3:8.1f} ms   v1/v2 {a / b:6.1f}x  "
                  f"(median of {args.repeats}, interleaved)")
        checked_open(args.checksum_rows, args.checksum_dim, args.repeats)


def checked_open(rows: int, dim: int, repeats: int) -> None:
    """open_entry(verify=True), as extract() and every page do: every checksum read (the first open, or
    with --verify) vs the hash cache's stat check of unchanged files."""
    from analysis.data import hash_cache
    from analysis.descriptors.store import open_entry
    from analysis.descriptors.synthetic import synthetic_store

    store = synthetic_store(rows, dim, 1000)
    old = time.time() - 3600
    for f in store.path.iterdir():
        os.utime(f, (old, old))  # written an hour ago: outside the racy window
    size = sum(f.stat().st_size for f in store.path.iterdir())
    times: dict[str, list[float]] = {"read every checksum": [], "stat only (hash cache)": []}
    for _ in range(repeats):
        for name, trust in (("read every checksum", False), ("stat only (hash cache)", True)):
            hash_cache.trust_stats(trust)
            hash_cache._TABLES.clear()  # a new process
            t = time.perf_counter()
            _, problem = open_entry(store.path)
            times[name].append(time.perf_counter() - t)
            assert problem is None, problem
    a, b = (statistics.median(v) for v in times.values())
    print(f"checked open of a {rows:,} x {dim} entry ({size / 1e6:.0f} MB, page-cached): every checksum read "
          f"{a * 1e3:.0f} ms, stat only {b * 1e3:.1f} ms, ratio {a / b:.0f}x (median of {repeats}, interleaved)")


if __name__ == "__main__":
    main()
