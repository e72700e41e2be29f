"""Writing block arrays of a cache entry so a full disk is an error message, never a crash.

Writes through a memory map die of SIGBUS when the disk fills (the whole server with them), so
the `.npy` files are written with ordinary file writes at row offsets, their full size reserved up
front (`posix_fallocate`): a disk too small fails at the start with a message, and the rows
already written stay resumable. Readers still open the finished files memory-mapped (reading is safe).
"""
from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analysis.errors import LayerScopeError

MARGIN = 16 * 1024 * 1024  # kept free beyond what the arrays need (manifest, JSON, the file system)


def _header(n: int, channels: int) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False, "shape": (n, channels)})
    return buf.getvalue()


def array_bytes(n: int, channels: int) -> int:
    return len(_header(n, channels)) + n * channels * 4


def file_matches(path: Path, n: int, channels: int) -> bool:
    """True when `path` is a float32 (n, channels) `.npy` of full size (rows written or not)."""
    head = _header(n, channels)
    try:
        with open(path, "rb") as f:
            return f.read(len(head)) == head and os.fstat(f.fileno()).st_size == len(head) + n * channels * 4
    except OSError:
        return False


def disk_full_error(folder: Path, exc: OSError | None = None, need: int | None = None) -> LayerScopeError:
    free = shutil.disk_usage(folder).free if folder.exists() else 0
    what = f"needs about {need / 1e6:.0f} MB, " if need else ""
    return LayerScopeError(
        f"Not enough disk space in {folder}: the descriptors {what}{free / 1e6:.0f} MB are free"
        + (f" ({exc.strerror})" if exc is not None else "")
        + ". Free some space (e.g. `layerscope cache clear`) or point LAYERSCOPE_CACHE to a larger disk; "
        "work already done is kept and resumes.")


def check_free_space(folder: Path, need: int) -> None:
    """Raise a LayerScopeError before starting when `need` bytes (+ a margin) are not free."""
    folder.mkdir(parents=True, exist_ok=True)
    if need > 0 and shutil.disk_usage(folder).free < need + MARGIN:
        raise disk_full_error(folder, need=need)


def _reserve(fd: int, size: int, folder: Path) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(folder, exc, size) from None
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", -1)):
            raise
        os.ftruncate(fd, size)  # no fallocate on this file system: a sparse file, writes still checked


class RowFiles:
    """The (n, channels) float32 `.npy` file of each block in a partial entry, written row-range by
    row-range with pwrite. `valid` is False when resuming found files that do not match (a stale or
    half-finalised `.partial`): the caller then starts over instead of failing forever."""

    def __init__(self, folder: Path, blocks: Sequence[tuple[int, int]], n: int, resume: bool):
        self.folder, self.n = folder, n
        self.layout = {i: (len(_header(n, c)), c) for i, c in blocks}
        self.fds: dict[int, int] = {}
        self.valid = True
        if resume and not all(self._matches(i) for i in self.layout):
            self.valid = False
        need = sum(array_bytes(n, c) - self._size(i) for i, c in blocks)
        check_free_space(folder, need)
        keep = resume and self.valid
        for i, (offset, c) in self.layout.items():
            path = self.path(i)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (0 if keep else os.O_TRUNC), 0o644)
            self.fds[i] = fd
            try:
                if not keep:
                    os.pwrite(fd, _header(n, c), 0)
                _reserve(fd, offset + n * c * 4, folder)
            except BaseException:
                self.close()
                raise

    def path(self, block: int) -> Path:
        return self.folder / f"block_{block}.npy"

    def _size(self, block: int) -> int:
        try:
            return self.path(block).stat().st_size
        except OSError:
            return 0

    def _matches(self, block: int) -> bool:
        return file_matches(self.path(block), self.n, self.layout[block][1])

    def write(self, block: int, start: int, rows: np.ndarray) -> None:
        offset, c = self.layout[block]
        data = np.ascontiguousarray(rows, dtype="<f4")
        if data.ndim != 2 or data.shape[1] != c or start + len(data) > self.n:
            raise LayerScopeError(f"Block {block}: rows {start}..{start + len(data)} of shape {data.shape} do not fit "
                                  f"({self.n}, {c}).")
        buf = memoryview(data.tobytes())
        pos = offset + start * c * 4
        try:
            while buf:
                k = os.pwrite(self.fds[block], buf, pos)
                buf, pos = buf[k:], pos + k
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise disk_full_error(self.folder, exc) from None
            raise

    def sync(self) -> None:
        """Rows written so far are on disk before progress.json says so (resume never reads garbage)."""
        try:
            for fd in self.fds.values():
                os.fdatasync(fd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise disk_full_error(self.folder, exc) from None
            raise

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def __del__(self) -> None:  # a cancelled or failed run still releases its files
        self.close()


def place_rows(src: Path, dst: Path, keep: np.ndarray, n: int) -> None:
    """`dst` holds the rows `keep` of `src`: a hard link when every row is kept (no copy, and `src`
    stays intact so a crash here loses nothing), else a compact copy written with plain writes."""
    if len(keep) == n:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # no hard links here: fall through to a copy
    arr = np.load(src, mmap_mode="r", allow_pickle=False)
    check_free_space(dst.parent, array_bytes(len(keep), arr.shape[1]))
    try:
        with open(dst, "wb") as f:
            np.save(f, np.ascontiguousarray(arr[keep]), allow_pickle=False)
    except OSError as exc:
        dst.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(dst.parent, exc) from None
        raise
    finally:
        del arr


def check_finite(feats: dict[int, np.ndarray], start: int, paths: Sequence[str], block_names: dict[int, str]) -> None:
    """Refuse NaN / inf descriptors (e.g. broken weights) naming the block, before they are cached."""
    for i, arr in feats.items():
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            from analysis.data.images import shown

            raise LayerScopeError(
                f"Block {block_names.get(i, i)} gives NaN or infinite descriptors ({int(bad.sum())} of {len(arr)} images "
                f"in this batch, e.g. {shown(paths[row])}): the weights or the model are broken for this input. "
                "Check the weights file; nothing was cached.")
