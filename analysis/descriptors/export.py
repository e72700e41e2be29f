"""Export a cache entry to Parquet: one row per image, columns path, every label column, and one
fixed-size float32 list column per block (``block_1`` …), for pandas, FiftyOne or Spotlight.

Written in row groups read from the memory-mapped descriptors, so memory stays bounded; the file
appears only when complete (written beside it, then renamed)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.arrays import row_chunks
from analysis.errors import LayerScopeError
from analysis.progress import Progress, report

ROWS_PER_GROUP = 8192


def _column(X: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(X, dtype=np.float32).ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, X.shape[1])


def export_parquet(store, out: Path, blocks: list[int] | None = None,
                   progress: Progress | None = None) -> Path:
    """Write `store` (all blocks, or the given 1-based ones) to the Parquet file `out`."""
    out = Path(out).expanduser()
    if out.is_dir():
        raise LayerScopeError(f"{out} is a folder: give a file name, e.g. {out / 'descriptors.parquet'}.")
    if not out.parent.is_dir():
        raise LayerScopeError(f"the folder {out.parent} does not exist; create it first.")
    names = [b.index for b in store.blocks]
    blocks = names if blocks is None else [int(b) for b in blocks]
    bad = [b for b in blocks if b not in names]
    if bad:
        raise LayerScopeError(f"no block {bad[0]} in this entry; it has blocks {names[0]}…{names[-1]}.")
    arrays = {b: store.descriptors(b) for b in blocks}
    labels = store.labels
    paths = store.paths
    schema = pa.schema([("path", pa.string())] + [(c, pa.string()) for c in labels.columns]
                       + [(f"block_{b}", pa.list_(pa.float32(), arrays[b].shape[1])) for b in blocks])
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for sl in row_chunks(store.n, ROWS_PER_GROUP):
                cols = [pa.array(paths[sl], pa.string())]
                cols += [pa.array(labels[c].astype(str).to_numpy()[sl], pa.string()) for c in labels.columns]
                cols += [_column(arrays[b][sl]) for b in blocks]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema))
                report(progress, sl.stop, store.n, "rows written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def read_block(path: Path, block: int) -> np.ndarray:
    """One block column of an exported file back as an (n, channels) float32 array."""
    col = pq.read_table(path, columns=[f"block_{block}"]).column(0).combine_chunks()
    return col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1)
