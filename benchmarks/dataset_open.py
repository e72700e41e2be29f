"""Opening a folder dataset and computing its identity (the content hash in every cache key): the first
open reads and hashes every image; later opens, in a new process, read the hash cache and only stat.

Per repeat: a fresh hash cache, then the first open, a second open as a new process would do it (the
table read from disk, nothing remembered in memory), and a third in the same process. Medians over the
repeats. The images are random bytes (hashing does not decode) that stay in the page cache, so the
first open here is a lower bound: from a cold disk it is bound by the disk's read speed.

    python benchmarks/dataset_open.py [--images 2000] [--kb 110] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def make_folder(root: Path, n: int, kb: int, classes: int = 10) -> None:
    block = os.urandom(kb * 1024)
    for i in range(n):
        p = root / f"class_{i % classes:02d}" / f"img_{i:06d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(i.to_bytes(8, "little") + block[8:])  # distinct contents, the same size


def timed_open(folder: Path) -> tuple[float, int]:
    from analysis.data import hash_cache
    from analysis.data.datasets import open_folder

    reads = [0]
    real = hash_cache.file_digest

    def counting(path, length=16):
        reads[0] += 1
        return real(path, length)

    hash_cache.file_digest = counting
    try:
        t = time.perf_counter()
        open_folder(folder).content_hash()
        return time.perf_counter() - t, reads[0]
    finally:
        hash_cache.file_digest = real


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--kb", type=int, default=110, help="file size (ImageNet JPEGs average about 110 KB)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="layerscope-open-") as tmp:
        data = Path(tmp) / "data"
        make_folder(data, args.images, args.kb)
        time.sleep(2.1)  # past the racy window: files written this instant are not remembered
        from analysis.data import hash_cache

        runs: dict[str, list[float]] = {"first open (hash every image)": [], "second open, new process": [],
                                        "third open, same process": []}
        for r in range(args.repeats):
            os.environ["LAYERSCOPE_CACHE"] = str(Path(tmp) / f"cache{r}")  # a fresh hash cache
            hash_cache._TABLES.clear()
            for name in runs:
                if name.startswith("second"):
                    hash_cache._TABLES.clear()  # what a new process starts with
                seconds, reads = timed_open(data)
                runs[name].append(seconds)
                print(f"repeat {r + 1} · {name}: {seconds:.3f} s, {reads} files read", flush=True)
        table = hash_cache.table_file(data)
        print(f"\n{args.images} images of {args.kb} KB ({args.images * args.kb / 1024:.0f} MB), "
              f"hash table {table.stat().st_size / 1024:.0f} KB on disk")
        first = statistics.median(runs["first open (hash every image)"])
        for name, values in runs.items():
            med = statistics.median(values)
            print(f"{name:<32} median {med:.3f} s  ({first / med:.0f}x faster than the first)" if med != first
                  else f"{name:<32} median {med:.3f} s")
        per_file = statistics.median(runs["second open, new process"]) / args.images
        print(f"second open per image: {per_file * 1e6:.0f} µs -> about {per_file * 1.28e6:.0f} s for "
              "ImageNet's 1.28 M images (folder walk + stat + table lookup, no image read)")


if __name__ == "__main__":
    main()
