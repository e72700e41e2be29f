"""The one place files and bytes are hashed (SHA-256, hex): weights files, dataset images,
cache arrays, uploads. Short prefixes are enough to tell contents apart in cache keys; the
full digest is kept where a file is verified against a manifest.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

CHUNK = 1 << 22  # 4 MiB: big files are streamed, never read whole

_MEMO: dict[tuple[str, int, int, int | None], str] = {}
_MEMO_LOCK = threading.Lock()


def bytes_digest(data: bytes, length: int | None = 16) -> str:
    """SHA-256 of `data` as hex, cut to `length` characters (None: all 64)."""
    return hashlib.sha256(data).hexdigest()[:length]


def file_digest(path: str | os.PathLike, length: int | None = 16) -> str:
    """SHA-256 of a file's contents as hex, cut to `length` characters (None: all 64), streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def file_digest_memo(path: str | os.PathLike, length: int | None = 16) -> str:
    """`file_digest`, remembered per (path, size, mtime) in this process, so re-opening an
    unchanged image folder does not read every file again. Raises OSError if the file is gone."""
    st = os.stat(path)
    key = (str(Path(path)), st.st_size, st.st_mtime_ns, length)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
    if hit is None:
        hit = file_digest(path, length)
        with _MEMO_LOCK:
            _MEMO[key] = hit
    return hit
