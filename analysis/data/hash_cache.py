"""Content hashes of image files, computed once and kept on disk, so opening a big dataset does not
re-read every byte (140 GB of ImageNet) on every run.

One Parquet table per dataset root, `<cache>/hashes/<root name>-<digest of root>.parquet`, with a row
per file: absolute path, size, mtime_ns, ctime_ns and the SHA-256. A file is re-read when any of
size, mtime or ctime differs from its row, so a changed image never keeps its old hash (and so never
gets old descriptors). ctime is set by the kernel on every write and cannot be set back by a program
(`touch -d`, `os.utime` only move mtime), so it also catches a content change whose mtime was forced
back. What no stat can see (the same size, mtime and ctime with other bytes: a clock set back, raw
disk writes, a file system without ctime) is caught only by `verify=True`, which re-reads everything.

A file modified within RACY_NS of being hashed is not remembered ("racily clean", as git calls it):
on a file system with coarse timestamps a second write in the same tick would keep its stat.
Writes are atomic (temporary file + rename); two processes saving at once merge with what is on disk,
and a row lost to a race only means that file is hashed again later.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.atomic import write_bytes_atomic
from analysis.hashing import bytes_digest, file_digest
from analysis.paths import cache_root
from analysis.progress import Progress, report

TABLE_VERSION = "1"
RACY_NS = 2_000_000_000  # 2 s: the coarsest common timestamp tick (FAT); ext4/xfs/btrfs are far finer
SAVE_EVERY_S = 60.0  # a long first hashing run saves as it goes, so an interruption keeps most of it
SCHEMA = pa.schema([("path", pa.binary()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
                    ("ctime_ns", pa.int64()), ("sha256", pa.binary(32))],
                   metadata={"layerscope_hash_table": TABLE_VERSION})

Stamp = tuple[int, int, int]  # size, mtime_ns, ctime_ns


@dataclass
class _Table:
    file: Path
    rows: dict[str, tuple[Stamp, str]] = field(default_factory=dict)  # path -> (stamp, sha256 hex)
    dropped: set[str] = field(default_factory=set)  # rows to forget even if another process saved them
    loaded_mtime: int = -1  # the table file's mtime when read: another process's save is merged in
    dirty: bool = False


_TABLES: dict[Path, _Table] = {}
_LOCK = threading.Lock()
_TRUST_STATS = [True]  # False (the CLI's --verify): every hash in this process re-reads its file


def trust_stats(on: bool) -> None:
    """Whether an unchanged stat may stand for unchanged bytes in this process (default True); the
    CLI's --verify turns it off so every image and every cache file it checks is read again."""
    _TRUST_STATS[0] = bool(on)


@dataclass
class Hashes:
    """Full SHA-256 (hex) per path, how many files were read, and (with verify) the stale ones."""

    digests: list[str]
    read: int
    stale: list[str]  # files whose remembered hash was wrong although their stat was unchanged


def table_file(root: str | os.PathLike) -> Path:
    """Where the hash table of the dataset rooted at `root` lives."""
    root = Path(root).absolute()
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in root.name)[:40] or "root"
    return cache_root() / "hashes" / f"{name}-{bytes_digest(os.fsencode(root), 16)}.parquet"


def _stamp(st: os.stat_result) -> Stamp:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _read(file: Path) -> dict[str, tuple[Stamp, str]]:
    """The rows on disk ({} when absent, unreadable or of another version: they are only a cache)."""
    try:
        t = pq.read_table(file)
        if (t.schema.metadata or {}).get(b"layerscope_hash_table") != TABLE_VERSION.encode():
            return {}
        cols = [t.column(c).to_pylist() for c in SCHEMA.names]
    except (OSError, pa.ArrowException, ValueError):
        return {}
    return {os.fsdecode(p): ((s, m, c), h.hex()) for p, s, m, c, h in zip(*cols)}


def _table(file: Path) -> _Table:
    """This process's copy of a table, refreshed when another process has saved since it was read."""
    try:
        disk_mtime = file.stat().st_mtime_ns
    except OSError:
        disk_mtime = -1
    with _LOCK:
        t = _TABLES.setdefault(file, _Table(file))
        if disk_mtime != t.loaded_mtime:
            t.rows = {**_read(file), **t.rows} if t.dirty else {**t.rows, **_read(file)}
            for p in t.dropped:
                t.rows.pop(p, None)
            t.loaded_mtime = disk_mtime
        return t


def _save(t: _Table) -> None:
    """Write the table (merged with what another process may have saved) atomically."""
    with _LOCK:
        if not t.dirty:
            return
        rows = {**_read(t.file), **t.rows}
        for p in t.dropped:
            rows.pop(p, None)
        paths = list(rows)
        stamps = [rows[p][0] for p in paths]
        table = pa.table([pa.array([os.fsencode(p) for p in paths], pa.binary()),
                          pa.array([s[0] for s in stamps], pa.int64()),
                          pa.array([s[1] for s in stamps], pa.int64()),
                          pa.array([s[2] for s in stamps], pa.int64()),
                          pa.array([bytes.fromhex(rows[p][1]) for p in paths], pa.binary(32))], schema=SCHEMA)
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf, compression="zstd")
        try:
            write_bytes_atomic(t.file, buf.getvalue().to_pybytes())
        except OSError:
            return  # a read-only cache folder: hashes are recomputed next time, nothing is wrong
        t.rows, t.dirty = rows, False
        t.dropped.clear()
        try:
            t.loaded_mtime = t.file.stat().st_mtime_ns
        except OSError:
            t.loaded_mtime = -1


def _remember(t: _Table, path: str, stamp: Stamp, digest: str, started_ns: int) -> None:
    """Keep `digest` unless the file was written too recently to trust its stat (racily clean)."""
    with _LOCK:
        if started_ns - stamp[1] > RACY_NS:
            t.rows[path] = (stamp, digest)
            t.dropped.discard(path)
            t.dirty = True
        elif t.rows.pop(path, None) is not None:
            t.dropped.add(path)
            t.dirty = True


def file_hashes(paths: Sequence[str], root: str | os.PathLike, *, verify: bool = False,
                progress: Progress | None = None) -> Hashes:
    """SHA-256 of every file in `paths`, read only for files new or changed since last time (all of them
    with `verify`). Raises OSError (with its filename) when a file is missing or unreadable."""
    t = _table(table_file(root))
    digests: list[str] = []
    read, stale = 0, []
    last_save = time.monotonic()
    try:
        for i, p in enumerate(paths):
            p = os.path.abspath(p)
            stamp = _stamp(os.stat(p))
            known = t.rows.get(p)
            if known is not None and known[0] == stamp and not verify and _TRUST_STATS[0]:
                digests.append(known[1])
                continue
            started = time.time_ns()
            digest = file_digest(p, None)
            read += 1
            if known is not None and known[0] == stamp and known[1] != digest:
                stale.append(p)
            digests.append(digest)
            if _stamp(os.stat(p)) == stamp:  # not written while it was being read
                _remember(t, p, stamp, digest, started)
            if time.monotonic() - last_save > SAVE_EVERY_S:
                _save(t)
                last_save = time.monotonic()
            if read % 1024 == 0:
                report(progress, i + 1, len(paths), "images hashed")
    finally:
        _save(t)  # also on an error or a cancel: what was hashed is kept
    report(progress, len(paths), len(paths), "images hashed")
    return Hashes(digests, read, stale)
