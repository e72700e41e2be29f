"""Row shards: several processes fill one partial entry at once; the result is one memory-mapped
array per block, and an interruption leaves exactly the unfinished shards to do."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.descriptors.shards import ShardWriter, done_shards, missing, prepare, shard_ranges
from analysis.errors import LayerScopeError

REPO = Path(__file__).resolve().parents[2]
N, BLOCKS, ROWS = 1000, [(1, 8), (2, 24)], 64  # 16 shards, the last one short


def expected(block: int, start: int, stop: int) -> np.ndarray:
    """What the row's descriptors are, computed independently of who wrote them."""
    c = dict(BLOCKS)[block]
    return (np.arange(start, stop)[:, None] * 100 + block * 10 + np.arange(c)[None, :] / c).astype(np.float32)


def writer(folder: str, worker: int, workers: int, only: int | None = None) -> None:
    w = ShardWriter(Path(folder), BLOCKS, N)
    for k, (s, e) in enumerate(shard_ranges(N, ROWS)[:only]):
        if k % workers == worker:
            errors = {s + 1: "truncated JPEG"} if k == 3 else None
            w.write(s, {b: expected(b, s, e) for b, _ in BLOCKS}, errors)
    w.close()


def test_three_processes_fill_one_entry_read_back_as_one_memmap(tmp_path):
    prepare(tmp_path, BLOCKS, N)
    # Separate interpreters (not multiprocessing: its spawn re-runs whatever an earlier test left as __main__)
    procs = [subprocess.Popen([sys.executable, "-c", f"from tests.descriptors.test_shards import writer; "
                               f"writer({str(tmp_path)!r}, {i}, 3)"], cwd=REPO) for i in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    assert missing(tmp_path, N, ROWS) == []
    for b, _ in BLOCKS:
        arr = np.load(tmp_path / f"block_{b}.npy", mmap_mode="r", allow_pickle=False)
        assert isinstance(arr, np.memmap)
        np.testing.assert_array_equal(arr, expected(b, 0, N))
    errors = {k: v for e in done_shards(tmp_path).values() for k, v in e.items()}
    assert errors == {str(3 * ROWS + 1): "truncated JPEG"}


def test_an_interrupted_run_leaves_exactly_the_unfinished_shards(tmp_path):
    prepare(tmp_path, BLOCKS, N)
    writer(str(tmp_path), 0, 1, only=5)  # stops after 5 of 16 shards
    todo = missing(tmp_path, N, ROWS)
    assert todo == shard_ranges(N, ROWS)[5:]
    prepare(tmp_path, BLOCKS, N)  # the next run: files match, finished shards are kept
    assert missing(tmp_path, N, ROWS) == todo
    writer(str(tmp_path), 0, 1)
    assert missing(tmp_path, N, ROWS) == []
    np.testing.assert_array_equal(np.load(tmp_path / "block_2.npy", mmap_mode="r"), expected(2, 0, N))


def test_a_writer_refuses_an_unprepared_or_mismatched_entry_and_prepare_starts_over(tmp_path):
    with pytest.raises(LayerScopeError, match="not prepared"):
        ShardWriter(tmp_path, BLOCKS, N)
    prepare(tmp_path, BLOCKS, N)
    writer(str(tmp_path), 0, 1, only=2)
    with pytest.raises(LayerScopeError, match="not prepared"):
        ShardWriter(tmp_path, BLOCKS, N + 1)  # never truncates files another writer is filling
    assert len(done_shards(tmp_path)) == 2
    prepare(tmp_path, BLOCKS, N + 1)  # another row count: the old rows and their markers are void
    assert done_shards(tmp_path) == {} and len(missing(tmp_path, N + 1, ROWS)) == 16
