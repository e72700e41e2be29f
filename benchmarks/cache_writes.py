"""Writing descriptor rows into a cache entry: the old memory-mapped writes vs RowFiles (reserved
file + pwrite + fdatasync per batch, which turns a full disk into a message instead of SIGBUS).

Interleaved A B A B per repeat; prints medians and the ratio. ResNet50's 5 blocks (3904 channels).

    python benchmarks/cache_writes.py [--rows 2000] [--batch 32] [--repeats 5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.descriptors.rowfile import RowFiles

CHANNELS = [64, 256, 512, 1024, 2048]


def memmap_run(folder: Path, batches: list[dict[int, np.ndarray]], n: int, bs: int) -> float:
    t = time.perf_counter()
    arrays = {i: np.lib.format.open_memmap(folder / f"block_{i}.npy", mode="w+", dtype=np.float32, shape=(n, c))
              for i, c in enumerate(CHANNELS, 1)}
    for k, feats in enumerate(batches):
        for i, a in feats.items():
            arrays[i][k * bs:(k + 1) * bs] = a
        for a in arrays.values():
            a.flush()
    del arrays
    return time.perf_counter() - t


def rowfile_run(folder: Path, batches: list[dict[int, np.ndarray]], n: int, bs: int) -> float:
    t = time.perf_counter()
    rows = RowFiles(folder, list(enumerate(CHANNELS, 1)), n, resume=False)
    for k, feats in enumerate(batches):
        for i, a in feats.items():
            rows.write(i, k * bs, a)
        rows.sync()
    rows.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n, bs = args.rows - args.rows % args.batch, args.batch
    rng = np.random.default_rng(0)
    batches = [{i: rng.random((bs, c), dtype=np.float32) for i, c in enumerate(CHANNELS, 1)} for _ in range(n // bs)]
    base = Path(tempfile.mkdtemp(prefix="cache-writes-"))
    times: dict[str, list[float]] = {"memmap": [], "rowfile": []}
    try:
        for r in range(args.repeats):
            for name, fn in (("memmap", memmap_run), ("rowfile", rowfile_run)):  # interleaved
                d = base / f"{name}-{r}"
                d.mkdir()
                times[name].append(fn(d, batches, n, bs))
                shutil.rmtree(d)
        # Same bytes on disk: RowFiles writes what np.load reads back.
        d = base / "check"
        d.mkdir()
        rowfile_run(d, batches, n, bs)
        assert np.array_equal(np.load(d / "block_3.npy")[bs:2 * bs], batches[1][3])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    mb = n * sum(CHANNELS) * 4 / 1e6
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} rows x {sum(CHANNELS)} channels ({mb:.0f} MB), batch {bs}, {args.repeats} interleaved repeats")
    for k, v in med.items():
        print(f"  {k:<8} median {v * 1000:7.1f} ms  ({mb / v:6.0f} MB/s)   runs: "
              + " ".join(f"{x * 1000:.0f}" for x in times[k]))
    print(f"  rowfile / memmap time ratio: {med['rowfile'] / med['memmap']:.2f}")


if __name__ == "__main__":
    main()
