"""Synthetic clustered descriptors at any scale, and a cache entry holding them.

For trying the kNN memory and its index at ImageNet scale without 140 GB of images: rows look like
block descriptors (post-ReLU, many classes with a few modes each, varying mostly in a class-specific
16-D subspace plus a little isotropic noise). Generated in float32 chunks, written straight into a
memory-mapped file, so 1 000 000 × 512 (2 GB) needs little more RAM than one chunk.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from analysis.descriptors.store import MANIFEST_VERSION, Store, cache_key, file_sha256, open_entry, write_manifest
from analysis.errors import LayerScopeError
from analysis.paths import cache_root
from analysis.progress import Progress, report

CHUNK = 50_000


class _Structure:
    def __init__(self, d: int, n_classes: int, modes: int, sub: int, seed: int):
        rng = np.random.default_rng(seed)  # the class structure: the same for every call with this seed
        self.centre = (rng.standard_normal((n_classes, d)) / np.sqrt(d)).astype(np.float32)
        self.mode = (0.6 * rng.standard_normal((n_classes, modes, d)) / np.sqrt(d)).astype(np.float32)
        self.basis = rng.standard_normal((n_classes, sub, d)).astype(np.float32) * np.float32(0.35 / np.sqrt(d))
        self.d, self.n_classes, self.modes, self.sub, self.seed = d, n_classes, modes, sub, seed

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows start…stop-1 (each row depends only on its number, not on the chunking)."""
        r = np.random.default_rng([self.seed, start])
        n = stop - start
        c = r.integers(0, self.n_classes, n)
        block = self.centre[c] + self.mode[c, r.integers(0, self.modes, n)]
        z = r.standard_normal((n, self.sub), dtype=np.float32)
        order = np.argsort(c, kind="stable")  # one small matmul per class present
        bounds = np.flatnonzero(np.diff(c[order])) + 1
        for rows in np.split(order, bounds):
            block[rows] += z[rows] @ self.basis[c[rows[0]]]
        block += r.standard_normal((n, self.d), dtype=np.float32) * np.float32(0.1 / np.sqrt(self.d))
        block += np.float32(0.05)
        np.maximum(block, 0.0, out=block)
        return block, c


def clustered_descriptors(
    n: int, d: int = 512, n_classes: int = 1000, *, modes: int = 4, sub: int = 16, seed: int = 0,
    offset: int = 0, out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) float32 rows offset…offset+n-1 and their class index (0…n_classes-1); `offset` a
    multiple of CHUNK, so a row is the same whichever call made it."""
    if n < 1 or d < 1 or n_classes < 1:
        raise LayerScopeError(f"synthetic descriptors need n, d and classes ≥ 1; got {n}, {d}, {n_classes}.")
    s = _Structure(d, n_classes, modes, sub, seed)
    X = np.empty((n, d), dtype=np.float32) if out is None else out
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        X[start:stop], y[start:stop] = s.rows(offset + start, offset + stop)
    return X, y


def _parts(n: int, d: int, n_classes: int, seed: int) -> dict:
    return {"synthetic": "clustered-v1", "n": int(n), "d": int(d), "classes": int(n_classes), "seed": int(seed)}


def synthetic_entry(n: int, d: int = 512, n_classes: int = 1000, seed: int = 0) -> Path:
    """Where the synthetic entry lives (it exists once synthetic_store has made it)."""
    return cache_root() / "descriptors" / f"synthetic__n{n}-d{d}__{cache_key(_parts(n, d, n_classes, seed))}"


def synthetic_store(
    n: int, d: int = 512, n_classes: int = 1000, seed: int = 0, progress: Progress | None = None,
) -> Store:
    """A cache entry of n synthetic rows (one block of d channels, label column `class`), made once."""
    parts = _parts(n, d, n_classes, seed)
    final = synthetic_entry(n, d, n_classes, seed)
    store, _ = open_entry(final, verify=False)
    if store is not None:
        return store
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.time()
    X = np.lib.format.open_memmap(tmp / "block_1.npy", mode="w+", dtype=np.float32, shape=(n, d))
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, CHUNK * 4):
        stop = min(n, start + CHUNK * 4)
        _, y[start:stop] = clustered_descriptors(stop - start, d, n_classes, seed=seed, offset=start, out=X[start:stop])
        report(progress, stop, n, "synthetic rows")
    X.flush()
    del X
    width = len(str(n_classes - 1))
    manifest = {
        "manifest_version": MANIFEST_VERSION, "model": "synthetic", "dataset_name": f"synthetic clustered n={n} d={d}",
        "dataset_root": "", "key_parts": parts, "n": int(n),
        "blocks": [{"index": 1, "module": "synthetic", "channels": int(d), "stride": 1}],
        "arrays": [{"file": "block_1.npy", "sha256": file_sha256(tmp / "block_1.npy")}],
        "paths": [f"synthetic/{i}" for i in range(n)],
        "labels": {"class": [f"class {c:0{width}d}" for c in y]},
        "failures": [],
        "provenance": {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - t0, 1)},
    }
    write_manifest(tmp, manifest)
    shutil.rmtree(final, ignore_errors=True)
    Path(tmp).rename(final)
    store, problem = open_entry(final, verify=False)
    if store is None:
        raise LayerScopeError(problem or f"could not open the synthetic store {final}.")
    return store
