"""Row shards: many writers (processes, Ray actors on this machine) fill one partial entry at once,
and readers get one memory-mapped array per block.

Why one preallocated `.npy` per block, filled by row range, rather than a file per shard: the finished
entry is then the very file the writers filled (hard-linked by finalisation, no copy), opened as one
true `np.memmap` that faiss, scikit-learn and the index take as it is; shard files would need a copy
into one array or a lazy concatenation that no numpy consumer understands. Each writer owns its row
ranges, so writes never overlap (plain pwrite: a full disk is a message, never SIGBUS, see rowfile).

A shard is recorded as done by its own marker file (`shards/<start>-<stop>.json`, atomic, written
after its rows are fsynced), so writers never rewrite a shared progress file and never race: what an
interrupted run leaves is exactly the shards still missing. One coordinator, holding the entry lock,
calls `prepare` first and finalises once `missing` is empty.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analysis.atomic import write_json_atomic
from analysis.descriptors.rowfile import RowFiles, file_matches
from analysis.errors import LayerScopeError

# Rows per shard: one decode task, one actor call and one marker in the Ray runner (~39 MB of 224-px
# input). 128 left the second of two actors idle on 1024 images (the first one ready took all 8).
SHARD_ROWS = 64


def shard_ranges(n: int, rows: int = SHARD_ROWS) -> list[tuple[int, int]]:
    """(start, stop) of every shard of n rows."""
    return [(s, min(n, s + rows)) for s in range(0, n, rows)]


def _marker(folder: Path, start: int, stop: int) -> Path:
    return folder / "shards" / f"{start:012d}-{stop:012d}.json"


def prepare(folder: Path, blocks: Sequence[tuple[int, int]], n: int) -> None:
    """Create the preallocated block files (n rows each; full size reserved, a small disk fails here),
    or keep them with their finished shards when they already match. The coordinator's step."""
    folder.mkdir(parents=True, exist_ok=True)
    if not _prepared(folder, blocks, n):  # missing or of another shape: start over, markers with them
        for m in (folder / "shards").glob("*.json"):
            m.unlink()
    RowFiles(folder, blocks, n, resume=True).close()  # recreates the files that do not match
    (folder / "shards").mkdir(exist_ok=True)


def _prepared(folder: Path, blocks: Sequence[tuple[int, int]], n: int) -> bool:
    """Every block file exists with the header and size of n rows (checked without opening for write)."""
    return all(file_matches(folder / f"block_{block}.npy", n, channels) for block, channels in blocks)


def done_shards(folder: Path) -> dict[tuple[int, int], dict[str, str]]:
    """{(start, stop): {row: error} } of every shard whose rows are on disk."""
    out = {}
    for m in sorted((folder / "shards").glob("*.json")):
        try:
            start, stop = (int(x) for x in m.stem.split("-"))
            out[(start, stop)] = dict(json.loads(m.read_text()).get("errors", {}))
        except (OSError, ValueError):
            continue  # unreadable marker: the shard counts as missing and is written again
    return out


def missing(folder: Path, n: int, rows: int = SHARD_ROWS) -> list[tuple[int, int]]:
    """The shards of n rows that no writer has finished yet."""
    done = done_shards(folder)
    return [r for r in shard_ranges(n, rows) if r not in done]


class ShardWriter:
    """One writer's handle on a prepared partial entry: `write` puts a shard's rows of every block in
    place and then records the shard as done. Any number of writers may hold one at once."""

    def __init__(self, folder: Path, blocks: Sequence[tuple[int, int]], n: int):
        self.folder = folder
        if not _prepared(folder, blocks, n) or not (folder / "shards").is_dir():
            raise LayerScopeError(f"{folder} is not prepared for {n} rows of blocks {[b for b, _ in blocks]}: "
                                  "the coordinator calls shards.prepare first.")
        self.rows = RowFiles(folder, blocks, n, resume=True)  # matching files: opened, never truncated

    def write(self, start: int, feats: dict[int, np.ndarray], errors: dict[int, str] | None = None) -> None:
        """Rows start… of every block (`feats`: block -> (rows, channels)); `errors`: row -> why that
        image could not be read (its rows are dropped at finalisation)."""
        stop = start + len(next(iter(feats.values())))
        for block, arr in feats.items():
            self.rows.write(block, start, arr)
        self.rows.sync()  # on disk before the marker says so
        write_json_atomic(_marker(self.folder, start, stop), {"errors": {str(k): v for k, v in (errors or {}).items()}})

    def close(self) -> None:
        self.rows.close()
