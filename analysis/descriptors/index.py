"""Neighbour indexes over block descriptors (faiss): exact for small memories, IVF-PQ (or HNSW)
with exact re-ranking above a size threshold; persisted next to the descriptors, keyed like them.

Kinds
* ``exact``  — brute force. Small memories need no stored index: ``search`` calls
  ``analysis.probes.neighbours.nearest`` (sklearn-equal distances and order).
* ``ivfpq``  — inverted file (``nlist`` k-means cells) of 4-bit product-quantised codes (fast-scan,
  ``m / 2`` bytes per vector): ``nprobe`` cells are scanned, ``rerank`` × k candidates come back and are re-ranked with
  exact float64 distances read from the descriptors themselves (memory-mapped, not duplicated in the
  index). This is the default above ``EXACT_MAX`` rows: ~m/2 + 8 bytes per vector in RAM.
* ``hnsw``   — a graph over the full vectors (fast queries, slow build, ~4·d + 8·M bytes/vector).

Cosine: vectors are L2-normalised (zero rows stay zero) and searched by euclidean distance, which
ranks exactly as cosine distance does (|a-b|² = 2 - 2 cos). Returned distances are always in the
metric's units (euclidean distance, or 1 - cosine similarity) from the float64 re-rank.

Persisted with ``faiss.write_index`` (no pickle) under ``<entry>/index/``; the file name holds a
``cache_key`` over the store key, the block, the descriptor file's checksum and every build setting,
so a changed store or setting gives a new file (a stale one is never read).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.arrays import row_chunks
from analysis.atomic import write_json_atomic
from analysis.errors import LayerScopeError
from analysis.probes.neighbours import check_metric, nearest
from analysis.progress import Progress, report

KINDS = ("auto", "exact", "ivfpq", "hnsw")
EXACT_MAX = 50_000  # rows: at or below this, exact search is fast enough and exactly sklearn's
INDEX_FORMAT = 1


def _faiss():
    import faiss  # imported lazily: a 30 MB library most pages never need

    return faiss


def choose_kind(n: int, kind: str = "auto") -> str:
    """'exact' up to EXACT_MAX rows, else 'ivfpq' (unless a kind is asked for)."""
    if kind not in KINDS:
        raise LayerScopeError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}.")
    if kind != "auto":
        return kind
    return "exact" if n <= EXACT_MAX else "ivfpq"


def default_params(n: int, d: int, kind: str) -> dict:
    """Build/search settings that reach recall@10 ≥ 0.95 on clustered descriptors (benchmarks/memory.py)."""
    if kind == "ivfpq":
        # 4·√n cells, 8 probed, 4·k re-ranked. Measured at 1M × 512 (benchmarks/memory.py, quiet machine,
        # interleaved): √n cells / 16 probed / 10·k gave recall@10 0.9987 at 10.1× exact search;
        # 4096 cells / 8 / 4·k gives 0.9974 at 38.7× (fewer codes scanned, fewer rows re-read).
        nlist = int(min(4096, max(16, round(4 * np.sqrt(n)))))
        m = min(128, max(2, d // 4))  # 4-bit codes of 4 channels each: d/8 bytes per vector (capped at 64)
        while m > 2 and (d % m or m % 2):  # fast-scan wants an even number of sub-quantisers dividing d
            m -= 1
        return {"nlist": nlist, "m": m, "nbits": 4, "nprobe": min(nlist, 8), "rerank": 4,
                "train_size": min(n, max(25 * nlist, 20_000), 100_000)}
    if kind == "hnsw":
        return {"M": 32, "ef_construction": 80, "ef_search": 96}
    return {}


def _prepared(X: np.ndarray, metric: str) -> np.ndarray:
    """float32 rows as searched: cosine -> L2-normalised."""
    A = np.ascontiguousarray(X, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        A = A / np.where(norms > 0, norms, 1.0)
    return np.ascontiguousarray(A, dtype=np.float32)


def exact_distances(Q: np.ndarray, rows: np.ndarray, metric: str) -> np.ndarray:
    """Distances from each query Q[i] to its candidate rows[i, j] (rows: n_q × n_c × d), float64.

    Differences are taken before squaring (no |q|² + |m|² - 2q·m cancellation), so float32
    input keeps ~7 significant digits of the distance: enough to re-rank ANN candidates."""
    if metric == "euclidean":
        diff = rows - np.asarray(Q, dtype=rows.dtype)[:, None, :]
        return np.sqrt(np.einsum("ncd,ncd->nc", diff, diff, dtype=np.float64))
    Q = np.asarray(Q, dtype=np.float64)
    R = np.asarray(rows, dtype=np.float64)
    nq = np.linalg.norm(Q, axis=1)[:, None]
    nr = np.linalg.norm(R, axis=2)
    denom = np.where((nq > 0) & (nr > 0), nq * nr, np.inf)
    return np.clip(1.0 - np.einsum("ncd,nd->nc", R, Q) / denom, 0.0, 2.0)


@dataclass
class VectorIndex:
    """A searchable memory over the rows of ``base`` (n, d), by ``metric``."""

    kind: str
    metric: str
    base: np.ndarray  # the descriptors (may be a read-only memmap): exact search and re-ranking read it
    params: dict = field(default_factory=dict)
    index: object | None = None  # the faiss index (None for exact)
    build_seconds: float = 0.0
    rows: np.ndarray | None = None  # the rows of base in the memory (None: all); results are rows of base

    @property
    def n(self) -> int:
        return len(self.base) if self.rows is None else len(self.rows)

    @property
    def index_bytes(self) -> int:
        """Bytes the index itself holds (codes, ids, centroids / graph); 0 for exact search."""
        if self.index is None:
            return 0
        return int(_faiss().serialize_index(self.index).nbytes)

    def describe(self) -> str:
        if self.kind == "exact":
            return f"exact search over {self.n:,} rows ({self.metric})"
        p = self.params
        if self.kind == "ivfpq":
            return (f"IVF-PQ ({p['nlist']} cells, {p['m'] * p['nbits'] // 8}-byte codes, {p['nprobe']} cells probed, "
                    f"top {p['rerank']}×k re-ranked exactly) over {self.n:,} rows ({self.metric})")
        return f"HNSW (M={p['M']}, efSearch={p['ef_search']}) over {self.n:,} rows ({self.metric})"

    def search(self, Q: np.ndarray, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """k nearest rows per query: (indices int64, distances float64), increasing distance,
        equal distances by lower row index. ``exclude[i]`` (a row, or -1) is never returned."""
        Q = np.asarray(Q)
        if Q.ndim != 2 or Q.shape[1] != self.base.shape[1]:
            raise LayerScopeError(f"queries must be (n, {self.base.shape[1]}); got shape {Q.shape}.")
        n_avail = self.n - (0 if exclude is None else 1)
        if not 1 <= k <= n_avail:
            raise LayerScopeError(f"asked for {k} neighbours but only {n_avail} candidates are available.")
        if self.kind == "exact":
            M = self.base if self.rows is None else np.asarray(self.base[self.rows])
            if exclude is not None and self.rows is not None:  # base row -> position in the memory
                pos = np.searchsorted(self.rows, exclude)
                hit = (exclude >= 0) & (pos < len(self.rows))
                exclude = np.where(hit & (self.rows[np.minimum(pos, len(self.rows) - 1)] == exclude), pos, -1)
            idx, dist = nearest(Q, M, k, self.metric, exclude=exclude)
            return (idx if self.rows is None else self.rows[idx]).astype(np.int64), dist
        extra = 0 if exclude is None else 1
        kc = min(self.n, max(k + extra, int(self.params.get("rerank", 1)) * (k + extra)))
        out_i = np.empty((len(Q), k), dtype=np.int64)
        out_d = np.empty((len(Q), k), dtype=np.float64)
        for sl in row_chunks(len(Q), 256):
            _, cand = self.index.search(_prepared(Q[sl], self.metric), kc)
            out_i[sl], out_d[sl] = self._rerank(Q[sl], cand, k, None if exclude is None else exclude[sl])
        return out_i, out_d

    def _rerank(self, Q: np.ndarray, cand: np.ndarray, k: int, exclude: np.ndarray | None):
        """Exact distances to the candidates (read from the descriptors), then the k best by (distance, row)."""
        valid = cand >= 0
        if exclude is not None:
            valid &= cand != exclude[:, None]
        safe = np.where(valid, cand, 0)
        flat = np.unique(safe)  # sorted, so the memmap is read in file order
        rows = np.asarray(self.base[flat])[np.searchsorted(flat, safe)]
        D = exact_distances(Q, rows, self.metric)
        D[~valid] = np.inf
        order = np.lexsort((safe, D), axis=1)[:, :k]
        idx = np.take_along_axis(safe, order, axis=1)
        dist = np.take_along_axis(D, order, axis=1)
        if not np.isfinite(dist).all():
            raise LayerScopeError("the index returned fewer candidates than asked for; rebuild it with more "
                                  "cells probed (nprobe) or use exact search.")
        return idx, dist


def build_index(
    X: np.ndarray,
    metric: str = "euclidean",
    kind: str = "auto",
    *,
    params: dict | None = None,
    rows: np.ndarray | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
) -> VectorIndex:
    """Build an index over the rows of X (or only X[rows], sorted), kept by reference for exact
    search and re-ranking; search results are row numbers of X.

    Rows are added in chunks, so X may be a memmap larger than RAM (the IVF-PQ codes are small)."""
    check_metric(metric)
    if X.ndim != 2 or len(X) == 0:
        raise LayerScopeError(f"an index needs a non-empty 2-D array; got shape {X.shape}.")
    if rows is not None:
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0 or rows[0] < 0 or rows[-1] >= len(X):
            raise LayerScopeError(f"memory rows must be between 0 and {len(X) - 1}.")
    n, d = (len(X) if rows is None else len(rows)), X.shape[1]
    kind = choose_kind(n, kind)
    p = {**default_params(n, d, kind), **(params or {})}
    if kind == "exact":
        return VectorIndex(kind, metric, X, p, rows=rows)
    faiss = _faiss()
    t0 = time.perf_counter()
    if kind == "ivfpq":
        if n < p["nlist"]:
            raise LayerScopeError(f"IVF-PQ with {p['nlist']} cells needs at least that many rows; there are {n}. "
                                  "Use exact search for a memory this small.")
        if d % p["m"] or p["m"] % 2:
            raise LayerScopeError(f"IVF-PQ needs an even number of code parts m dividing the {d} channels "
                                  f"(m={p['m']}); use exact or HNSW search for this block.")
        # Fast-scan PQ (4-bit codes scanned with SIMD): ~10× the queries/s of 8-bit IVFPQ at the
        # same candidate recall here, and the exact re-rank restores the precision the codes lose.
        index = faiss.IndexIVFPQFastScan(faiss.IndexFlatL2(d), d, p["nlist"], p["m"], p["nbits"])
        index.cp.seed = int(random_state)
        index.pq.cp.seed = int(random_state)
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(n, size=min(n, p["train_size"]), replace=False))
        sample = sample if rows is None else rows[sample]
        report(progress, 0, n, f"training {p['nlist']} cells on {len(sample):,} rows")
        index.train(_prepared(np.asarray(X[sample]), metric))
        index.nprobe = p["nprobe"]
    elif kind == "hnsw":
        graph = faiss.IndexHNSWFlat(d, p["M"])
        graph.hnsw.efConstruction = p["ef_construction"]
        graph.hnsw.efSearch = p["ef_search"]
        index = graph
        if rows is not None:  # the graph cannot store ids itself
            index = faiss.IndexIDMap(graph)
            index.referenced_objects = [graph]  # keep the Python wrapper alive (faiss's own idiom)
    else:
        raise LayerScopeError(f"unknown index kind {kind!r}.")
    for sl in row_chunks(n, 65_536):
        if rows is None:
            index.add(_prepared(np.asarray(X[sl]), metric))
        else:  # ids = row numbers of X, so search returns them and re-ranking reads X directly
            index.add_with_ids(_prepared(np.asarray(X[rows[sl]]), metric), rows[sl])
        report(progress, sl.stop, n, f"indexed {sl.stop:,} of {n:,} rows")
    return VectorIndex(kind, metric, X, p, index, time.perf_counter() - t0, rows)


def _set_search_params(index, kind: str, p: dict) -> None:
    if kind == "ivfpq":
        _faiss().extract_index_ivf(index).nprobe = int(p["nprobe"])
    elif kind == "hnsw":
        graph = index if hasattr(index, "hnsw") else _faiss().downcast_index(index.index)
        graph.hnsw.efSearch = int(p["ef_search"])


def save_index(vi: VectorIndex, path: Path) -> None:
    """Write the faiss index (faiss.write_index, no pickle) and a JSON sidecar, atomically."""
    if vi.index is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _faiss().write_index(vi.index, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    write_json_atomic(path.with_suffix(".json"), {
        "format": INDEX_FORMAT, "kind": vi.kind, "metric": vi.metric, "params": vi.params, "n": vi.n,
        "d": int(vi.base.shape[1]), "build_seconds": vi.build_seconds})


def load_index(path: Path, base: np.ndarray, rows: np.ndarray | None = None) -> VectorIndex | None:
    """The index saved at path over `base` (or base[rows], as it was built), memory-mapped where
    faiss allows; None if absent or unusable (the caller rebuilds it)."""
    rows = None if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    n = len(base) if rows is None else len(rows)
    path = Path(path)
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != INDEX_FORMAT or meta.get("n") != n or meta.get("d") != base.shape[1]:
        return None
    faiss = _faiss()
    try:
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:  # this index type cannot be memory-mapped: read it into RAM
            index = faiss.read_index(str(path))
    except RuntimeError:
        return None  # damaged file: the caller rebuilds it
    if index.ntotal != n:
        return None
    _set_search_params(index, meta["kind"], meta["params"])
    return VectorIndex(meta["kind"], meta["metric"], base, meta["params"], index, meta.get("build_seconds", 0.0), rows)


def store_index(
    store, block: int, metric: str = "euclidean", kind: str = "auto", *, rows: np.ndarray | None = None,
    params: dict | None = None, random_state: int = 0, progress: Progress | None = None,
) -> VectorIndex:
    """The index over one block of a cache entry (all rows, or the memory `rows`): loaded if built
    before with the same settings, else built once and saved."""
    from analysis.descriptors.store import cache_key

    X = store.descriptors(block)
    rows = None if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    n = len(X) if rows is None else len(rows)
    kind = choose_kind(n, kind)
    p = {**default_params(n, X.shape[1], kind), **(params or {})}
    if kind == "exact":
        return build_index(X, metric, kind, params=p, rows=rows)
    sha = next((a.get("sha256") for a in store.manifest.get("arrays", []) if a.get("file") == f"block_{block}.npy"), None)
    key = cache_key({"store": store.key, "block": int(block), "sha256": sha, "metric": metric, "kind": kind,
                     "params": p, "seed": int(random_state), "format": INDEX_FORMAT,
                     "rows": None if rows is None else hashlib.sha256(rows.tobytes()).hexdigest()})
    path = Path(store.path) / "index" / f"block_{block}_{kind}_{key}.faiss"
    vi = load_index(path, X, rows)
    if vi is None:
        vi = build_index(X, metric, kind, params=p, rows=rows, random_state=random_state, progress=progress)
        save_index(vi, path)
    return vi
